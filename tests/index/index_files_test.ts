import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { seeded } from "../seeded.ts";

function indexOf(rows: number, dim: number, seed: number): DenseIndex {
  const index = new DenseIndex(dim);
  const ids = Array.from({ length: rows }, (_, i) => `s${seed}-${i}`);
  index.add(ids, seeded(rows * dim, seed), ids.map((id) => ({ title: id, text: "" })));
  return index;
}

Deno.test("save: an existing index is replaced as a whole, its old parts removed", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await indexOf(5, 3, 1).save(dir);
    const first = JSON.parse(await Deno.readTextFile(`${dir}/index.json`)).files;
    assert.deepEqual(first, {
      vectors: "vectors.npy",
      ids: "ids.jsonl",
      metadata: "metadata.jsonl",
    });
    for (const [rows, seed] of [[7, 2], [4, 3], [6, 4]]) {
      await indexOf(rows!, 3, seed!).save(dir);
      const files = JSON.parse(await Deno.readTextFile(`${dir}/index.json`)).files;
      // Only index.json and the parts it names are left.
      assert.deepEqual(
        [...Deno.readDirSync(dir)].map((e) => e.name).sort(),
        ["index.json", ...Object.values(files) as string[]].sort(),
      );
      const back = await DenseIndex.load(dir);
      assert.equal(back.size, rows);
      assert.equal(back.id(0), `s${seed}-0`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("save: a failed replacement leaves the old index loadable and no new parts", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await indexOf(5, 3, 1).save(dir);
    await indexOf(6, 3, 2).save(dir); // now under tagged names: the next save takes the defaults
    const before = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    await Deno.mkdir(`${dir}/ids.jsonl`); // the new ids part cannot be written
    const blocked = [...before, "ids.jsonl"].sort();
    await assert.rejects(indexOf(9, 3, 3).save(dir));
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), blocked);
    const back = await DenseIndex.load(dir);
    assert.equal(back.size, 6);
    assert.equal(back.id(0), "s2-0");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const CHILD = `
import { DenseIndex } from ${
  JSON.stringify(new URL("../../index/dense_index.ts", import.meta.url).href)
};
import { seeded } from ${JSON.stringify(new URL("../seeded.ts", import.meta.url).href)};
const [dir] = Deno.args;
const make = (rows, seed) => {
  const index = new DenseIndex(256);
  const ids = Array.from({ length: rows }, (_, i) => "s" + seed + "-" + i);
  index.add(ids, seeded(rows * 256, seed), ids.map((id) => ({ title: id, text: "" })));
  return index;
};
const a = make(3000, 1), b = make(5000, 2);
console.log("ready");
for (let i = 0; ; i++) await (i % 2 ? a : b).save(dir);
`;

Deno.test("save: a writer killed at any moment leaves the old or the new index, whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/idx`;
    // Kill points spread over a save; whatever moment each hits, the assertion is the same.
    for (const delay of [0, 7, 19, 43, 71, 113]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["eval", "--no-check", CHILD, path],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.getReader();
      let seen = "";
      while (!seen.includes("ready")) {
        const { value, done } = await reader.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
      let index: DenseIndex;
      try {
        index = await DenseIndex.load(path);
      } catch (error) {
        // Killed before the very first save committed: no index yet is fine, a broken one is not.
        assert.match((error as Error).message, /index\.json is missing/);
        continue;
      }
      assert.ok(index.size === 3000 || index.size === 5000, `size ${index.size}`);
      const seed = index.size === 3000 ? 1 : 2;
      assert.equal(index.id(index.size - 1), `s${seed}-${index.size - 1}`);
      assert.deepEqual(index.vector(7), seeded(8 * 256, seed).subarray(7 * 256));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
