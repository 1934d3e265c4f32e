import assert from "node:assert/strict";
import { writeFileAtomic } from "../../io/atomic_write.ts";

Deno.test("writeFileAtomic replaces a file with bytes or text and leaves no temporary file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/a.json`;
    await writeFileAtomic(path, "old");
    await writeFileAtomic(path, new Uint8Array([104, 105]));
    assert.equal(await Deno.readTextFile(path), "hi");
    await writeFileAtomic(path, "é\n");
    assert.equal(await Deno.readTextFile(path), "é\n");
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, ["a.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeFileAtomic that cannot rename keeps the old file and removes its temporary one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // A folder in the way: the rename fails (a file cannot replace a non-empty folder).
    await Deno.mkdir(`${dir}/target/inner`, { recursive: true });
    await assert.rejects(() => writeFileAtomic(`${dir}/target`, "x"));
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assert.deepEqual(names, ["target"]);
    assert.ok((await Deno.stat(`${dir}/target`)).isDirectory);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
