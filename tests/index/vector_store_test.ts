import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { VectorStore } from "../../index/vector_store.ts";
import { floatToHalf, halfToFloat } from "../../io/float16.ts";
import { seeded } from "../seeded.ts";

function bruteForce(vectors: Float32Array, dim: number, query: Float32Array, k: number): number[] {
  const rows = vectors.length / dim;
  const scored = Array.from({ length: rows }, (_, row) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += vectors[row * dim + j]! * query[j]!;
    return [Math.fround(s), row] as const;
  });
  scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return scored.slice(0, k).map(([, row]) => row);
}

Deno.test("VectorStore: float16 rounds to nearest half, version 1 int8 keeps a scale per row", () => {
  const rows = new Float32Array([0.1, -2.5, 1000, 3e-8, 0, 0, 0, 0, 1, -0.5, 0.25, -127]);
  const half = new VectorStore("float16", 4);
  half.append(rows);
  assert.deepEqual(
    Array.from(half.decode(0, 3)),
    Array.from(rows, (x) => Math.fround(halfToFloat(floatToHalf(x)))),
  );
  const q = new VectorStore("int8", 4, { legacyInt8: true });
  q.append(rows.subarray(0, 4));
  q.append(rows.subarray(4));
  assert.equal(q.rows, 3);
  assert.deepEqual(Array.from(q.scales!), [
    Math.fround(1000 / 127),
    0, // an all-zero row
    1,
  ]);
  // Rounded as Math.round does (-0.5 goes to 0), as the quantized weights are.
  assert.deepEqual(Array.from(q.values), [0, 0, 127, 0, 0, 0, 0, 0, 1, 0, 0, -127]);
  assert.deepEqual(q.decode(2, 1), new Float32Array([1, 0, 0, -127]));
  assert.equal(q.byteLength, 12 + 3 * 4);
  assert.deepEqual(q.decode(1, 1), new Float32Array(4));
  assert.throws(() => new VectorStore("int4" as never, 4), /storage must be one of float32/);
});

Deno.test("DenseIndex storage: memory 2x and 4x smaller, search exact over stored values", async () => {
  const dim = 64, n = 900;
  const data = seeded(n * dim, 21);
  const queries = seeded(5 * dim, 22);
  const f32 = new DenseIndex(dim);
  f32.add(Array.from({ length: n }, (_, i) => `r${i}`), data);
  for (const storage of ["float16", "int8"] as const) {
    const index = new DenseIndex(dim, { storage, maxBlockBytes: 4 * (dim + 5) * 100 });
    assert.equal(index.storage, storage);
    // Added in uneven parts: the store grows.
    for (let start = 0; start < n; start += 250) {
      const end = Math.min(n, start + 250);
      index.add(
        Array.from({ length: end - start }, (_, i) => `r${start + i}`),
        data.subarray(start * dim, end * dim),
      );
    }
    const ratio = f32.vectorBytes / index.vectorBytes;
    // int8: a byte per value, a float32 scale per row, the codebook and two floats per dimension.
    assert.equal(
      index.vectorBytes,
      storage === "float16" ? n * dim * 2 : n * dim + 4 * n + 4 * 256 + 8 * dim,
    );
    assert.ok(storage === "float16" ? ratio === 2 : ratio > 3.6, `${storage}: ${ratio}`);
    const stored = index.vectors;
    assert.deepEqual(index.vector(3), stored.slice(3 * dim, 4 * dim));
    const hits = await index.search(queries, 10);
    hits.forEach((list, i) => {
      const q = queries.subarray(i * dim, (i + 1) * dim);
      assert.deepEqual(list.map((h) => h.row), bruteForce(stored, dim, q, 10), storage);
    });
    // One query at a time (products straight from the stored codes) ranks the same.
    for (let i = 0; i < 5; i++) {
      const [one] = await index.search(queries.subarray(i * dim, (i + 1) * dim), 10);
      assert.deepEqual(one!.map((h) => h.row), hits[i]!.map((h) => h.row), `${storage} query ${i}`);
      one!.forEach((h, j) => assert.ok(Math.abs(h.score - hits[i]![j]!.score) < 1e-4));
    }
    // Recall@10 against float32 exact on these uniform vectors.
    const exact = await f32.search(queries, 10);
    const overlap = hits.reduce(
      (sum, list, i) => sum + list.filter((h) => exact[i]!.some((e) => e.row === h.row)).length,
      0,
    );
    assert.ok(overlap / 50 >= 0.9, `${storage} recall@10 ${overlap / 50}`);
  }
});

const PYTHON_READ = `
import json, sys
import numpy as np
d = sys.argv[1]
m = json.load(open(d + "/index.json"))
f = {k: d + "/" + v for k, v in m["files"].items()}
x = np.load(f["vectors"])
if m["dtype"] == "int8" and m["version"] == 2:
    offset, spread = np.load(f["dimensions"])
    x = offset + spread * (np.load(f["scales"]) * np.load(f["codebook"])[0][x])
elif m["dtype"] == "int8":
    x = x.astype(np.float32) * np.load(f["scales"])
print(json.dumps({"dtype": m["dtype"], "shape": list(x.shape), "values": x.astype(np.float32).ravel().tolist()}))
`;

/** Why /usr/bin/python3 cannot import numpy (what to install), or undefined when it can. */
const noNumpy: string | undefined = (() => {
  try {
    const probe = new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import numpy"],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (probe.success) return undefined;
    return new TextDecoder().decode(probe.stderr).trim().split("\n").at(-1);
  } catch (error) {
    return String(error);
  }
})();
if (noNumpy !== undefined) {
  console.log(
    `numpy test ignored: /usr/bin/python3 cannot import numpy (${noNumpy}); install ` +
      "python3-numpy (Debian/Ubuntu), or run `bash .ci/run`, which installs it",
  );
}

function savedIndex(dir: string, storage: "float16" | "int8"): Promise<DenseIndex> {
  const index = new DenseIndex(6, { storage });
  // First, enough rows for int8 to fit its offsets and spreads (so that numpy applies real ones).
  const n = 300;
  index.add(Array.from({ length: n }, (_, i) => `r${i}`), seeded(6 * n, 9, 2));
  index.add(["a", "b", "c"], seeded(18, 5, 3), [{ t: 1 }, { t: 2 }, { t: 3 }]);
  return index.save(`${dir}/${storage}`).then(() => index);
}

Deno.test("DenseIndex storage: saved float16 and int8 indexes load back; bad scales, dtypes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const storage of ["float16", "int8"] as const) {
      const index = await savedIndex(dir, storage);
      const manifest = JSON.parse(await Deno.readTextFile(`${dir}/${storage}/index.json`));
      assert.equal(manifest.dtype, storage);
      const back = await DenseIndex.load(`${dir}/${storage}`);
      assert.equal(back.storage, storage);
      assert.deepEqual(back.vectors, index.vectors);
      assert.deepEqual(back.toNpy(), index.toNpy());
      back.add(["d"], seeded(6, 6));
      assert.equal(back.size, 304);
    }
    // A scale that is not positive and finite is refused.
    const scales = `${dir}/int8/scales.npy`;
    const bytes = await Deno.readFile(scales);
    new DataView(bytes.buffer).setFloat32(bytes.length - 4, -1, true);
    await Deno.writeFile(scales, bytes);
    await assert.rejects(
      DenseIndex.load(`${dir}/int8`),
      /row 302 of scales\.npy must be a finite scale >= 0/,
    );
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/int8/index.json`));
    await Deno.writeTextFile(
      `${dir}/int8/index.json`,
      JSON.stringify({ ...manifest, dtype: "float16" }),
    );
    await assert.rejects(DenseIndex.load(`${dir}/int8`), /dtype must be '<f2': received '\|u1'/);
    await Deno.writeTextFile(
      `${dir}/int8/index.json`,
      JSON.stringify({ ...manifest, dtype: "int4" }),
    );
    await assert.rejects(DenseIndex.load(`${dir}/int8`), /index.json dtype must be one of/);
    // A half that is infinite is refused.
    const halves = `${dir}/float16/vectors.npy`;
    const f16 = await Deno.readFile(halves);
    new DataView(f16.buffer).setUint16(f16.length - 2, 0x7c00, true);
    await Deno.writeFile(halves, f16);
    await assert.rejects(DenseIndex.load(`${dir}/float16`), /row 302 of vectors\.npy holds NaN/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DenseIndex storage: numpy reads float16 and int8 indexes as documented", {
  // Ignored (never passed) without numpy; CI installs it.
  ignore: noNumpy !== undefined,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const storage of ["float16", "int8"] as const) {
      const index = await savedIndex(dir, storage);
      const out = await new Deno.Command("/usr/bin/python3", {
        args: ["-c", PYTHON_READ, `${dir}/${storage}`],
      }).output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      const py = JSON.parse(new TextDecoder().decode(out.stdout));
      assert.equal(py.dtype, storage);
      assert.deepEqual(py.shape, [303, 6]);
      assert.deepEqual(py.values, Array.from(index.vectors));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DenseIndex storage: upsert replaces a stored row in the index's storage type", async () => {
  for (const storage of ["float32", "float16", "int8"] as const) {
    const index = new DenseIndex(3, { storage });
    index.add(["a", "b"], new Float32Array([1, 0, 0, 0, 1, 0]));
    await index.upsert({ ids: ["b", "c"], vectors: new Float32Array([0, 0, 2, 0, 0.5, 0]) });
    assert.equal(index.size, 3);
    const encoded = new DenseIndex(3, { storage });
    encoded.add(["x"], new Float32Array([0, 0, 2]));
    assert.deepEqual(index.vector(1), encoded.vector(0), storage);
    if (storage !== "int8") assert.deepEqual(index.vector(1), new Float32Array([0, 0, 2]));
    const [hits] = await index.search([new Float32Array([0, 0, 1])], 1);
    assert.equal(hits![0]!.id, "b");
  }
});

Deno.test("DenseIndex storage: float16 refuses a value it would store as infinity, changing nothing", async () => {
  const index = new DenseIndex(2, { storage: "float16" });
  index.add(["a"], new Float32Array([65519, -1]));
  assert.deepEqual(index.vector(0), new Float32Array([65504, -1]));
  assert.throws(
    () => index.add(["b", "c"], new Float32Array([0, 1, 2, -65520])),
    /Cannot store vector 1 as float16: it holds -65520, beyond float16's largest value 65504/,
  );
  await assert.rejects(
    index.upsert({ ids: ["d", "a"], vectors: new Float32Array([1, 1, 1e6, 0]) }),
    /vector 0 as float16: it holds 1000000/,
  );
  assert.equal(index.size, 1);
  assert.deepEqual(index.vector(0), new Float32Array([65504, -1]));
});
