import assert from "node:assert/strict";
import { LocalFolderSource, readWholeFile } from "../../io/file_source.ts";

Deno.test("readWholeFile: the file's bytes, also empty; LocalFolderSource reads through it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bytes = Uint8Array.from({ length: 200_003 }, (_, i) => (i * 31) & 0xff);
    await Deno.writeFile(`${dir}/a.bin`, bytes);
    await Deno.writeFile(`${dir}/empty`, new Uint8Array());
    assert.deepEqual(await readWholeFile(`${dir}/a.bin`), bytes);
    assert.deepEqual(await readWholeFile(`${dir}/empty`), new Uint8Array());
    const source = new LocalFolderSource(dir);
    assert.deepEqual(await source.readFile("a.bin"), bytes);
    assert.equal(await source.readFile("missing"), null);
    await assert.rejects(readWholeFile(`${dir}/missing`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
