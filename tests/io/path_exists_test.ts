import { equal } from "node:assert/strict";
import { isFile, pathExists } from "../../io/path_exists.ts";

Deno.test("pathExists: true for a file and a folder, false for a missing path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "x");
    equal(await pathExists(`${dir}/a.txt`), true);
    equal(await pathExists(dir), true);
    equal(await pathExists(`${dir}/missing.txt`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("isFile: true for a file, false for a folder or nothing there", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.txt`, "a");
    equal(await isFile(`${dir}/a.txt`), true);
    equal(await isFile(dir), false);
    equal(await isFile(`${dir}/missing`), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
