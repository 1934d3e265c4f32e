import assert from "node:assert/strict";
import { DenseIndex, type SearchHit, type VectorStorage } from "../../index/dense_index.ts";
import { DEFAULT_OVERSAMPLE } from "../../index/rescore.ts";

/** Deterministic pseudo-random floats in [-1, 1). */
function randomFlat(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: size }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const N = 3000, DIM = 16, NQ = 12, K = 20;
const data = randomFlat(N * DIM, 1);
const queries = randomFlat(NQ * DIM, 2);
const ids = Array.from({ length: N }, (_, i) => `p${i}`);
const metadata = ids.map((id) => ({ title: id, text: `text of ${id}` }));

function build(storage: VectorStorage, keepOriginals: boolean): DenseIndex {
  const index = new DenseIndex(DIM, { storage, keepOriginals });
  index.add(ids, data, metadata);
  return index;
}

const rowsOf = (hits: SearchHit[][]) => hits.map((h) => h.map((x) => x.row));

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dpr-rescore-test-" });
  try {
    await run(`${dir}/index`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("rescore: int8 and float16 with originals rank as float32 exact, built and loaded", async () => {
  const exact = await build("float32", false).search(queries, K);
  for (const storage of ["int8", "float16"] as VectorStorage[]) {
    const plain = await build(storage, false).search(queries, K);
    const index = build(storage, true);
    assert.equal(index.keepsOriginals, true);
    // 16 dimensions: the quantized rankings differ from exact, so the test can fail.
    if (storage === "int8") assert.notDeepEqual(rowsOf(plain), rowsOf(exact));
    const built = await index.search(queries, K);
    assert.deepEqual(rowsOf(built), rowsOf(exact), `${storage}, built`);
    // Without re-scoring: exactly what an index without originals returns.
    assert.deepEqual(await index.search(queries, K, { rescore: false }), plain);
    await withDir(async (dir) => {
      await index.save(dir);
      const manifest = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
      assert.equal(manifest.files.originals, "originals.npy");
      assert.equal((await Deno.stat(`${dir}/originals.npy`)).size, 128 + N * DIM * 4);
      await using loaded = await DenseIndex.load(dir);
      assert.equal(loaded.keepsOriginals, true);
      assert.equal(loaded.vectorBytes, index.vectorBytes);
      const found = await loaded.search(queries, K);
      assert.deepEqual(rowsOf(found), rowsOf(exact), `${storage}, loaded`);
      found.forEach((hits, q) =>
        hits.forEach((hit, i) => {
          assert.equal(hit.id, exact[q]![i]!.id);
          assert.deepEqual(hit.metadata, exact[q]![i]!.metadata);
          // Exact float32 scores (summed in another order than the backend's product).
          assert.ok(Math.abs(hit.score - exact[q]![i]!.score) < 1e-5 * (1 + Math.abs(hit.score)));
        })
      );
      assert.deepEqual(await loaded.search(queries, K, { rescore: false }), plain);
      // Searches at the same time share the file: each gets its own result.
      const together = await Promise.all([
        loaded.search(queries, K),
        loaded.search(queries.subarray(0, DIM), 3),
        loaded.search(queries, K, { oversample: 1.5 }),
      ]);
      assert.deepEqual(rowsOf(together[0]), rowsOf(exact));
      assert.deepEqual(rowsOf(together[1]), [rowsOf(exact)[0]!.slice(0, 3)]);
    });
  }
});

Deno.test("rescore: the candidates bound what re-scoring can fix; index options", async () => {
  const exact = rowsOf(await build("float32", false).search(queries, K));
  const index = build("int8", true);
  const plain = rowsOf(await index.search(queries, K, { rescore: false }));
  // oversample 1: the quantized top K, re-ordered by exact scores.
  const once = rowsOf(await index.search(queries, K, { oversample: 1 }));
  once.forEach((rows, q) => assert.deepEqual([...rows].sort(), [...plain[q]!].sort()));
  assert.equal(DEFAULT_OVERSAMPLE >= 2, true);
  // k * oversample beyond the index: every row is a candidate.
  const all = rowsOf(await index.search(queries, K, { oversample: N }));
  assert.deepEqual(all, exact);
  const off = new DenseIndex(DIM, { storage: "int8", keepOriginals: true, rescore: false });
  off.add(ids, data);
  assert.deepEqual(rowsOf(await off.search(queries, K)), plain);
  assert.deepEqual(rowsOf(await off.search(queries, K, { rescore: true })), exact);
  for (const bad of [0, 0.5, NaN, Infinity]) {
    await assert.rejects(index.search(queries, K, { oversample: bad }), (error: Error) => {
      assert.ok(error instanceof RangeError);
      assert.match(error.message, new RegExp(`oversample must be a finite number >= 1: received`));
      return true;
    });
    assert.throws(() => new DenseIndex(DIM, { storage: "int8", oversample: bad }), RangeError);
  }
  assert.throws(
    () => new DenseIndex(DIM, { keepOriginals: true }),
    /keepOriginals is for float16 or int8 storage/,
  );
});

Deno.test("rescore: rows added and replaced after loading are re-scored and saved", async () => {
  await withDir(async (dir) => {
    const half = (N / 2) * DIM;
    const first = new DenseIndex(DIM, { storage: "int8", keepOriginals: true });
    first.add(ids.slice(0, N / 2), data.subarray(0, half));
    await first.save(dir);
    await using loaded = await DenseIndex.load(dir);
    loaded.add(ids.slice(N / 2), data.subarray(half));
    // Replaces row 7 with what row 8 holds, and back (two upserts through the file's rows).
    const row = (i: number) => data.slice(i * DIM, (i + 1) * DIM);
    await loaded.upsert({ ids: ["p7"], vectors: [row(8)] });
    const [hits] = await loaded.search([row(8)], 2);
    assert.deepEqual(hits!.map((h) => h.id).sort(), ["p7", "p8"]);
    await loaded.upsert({ ids: ["p7", "p2999"], vectors: [row(7), row(2999)] });
    const exact = rowsOf(await build("float32", false).search(queries, K));
    assert.deepEqual(rowsOf(await loaded.search(queries, K)), exact);
    // Saved over its own folder: the originals are copied from the file they are read from.
    await loaded.save(dir);
    await using again = await DenseIndex.load(dir);
    assert.equal(again.size, N);
    assert.deepEqual(rowsOf(await again.search(queries, K)), exact);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.equal(names.length, 8, names.join());
    assert.ok(names.every((name) => !name.includes(".tmp-")));
  });
});
