import assert from "node:assert/strict";
import { DenseIndex, type SearchHit } from "../../index/dense_index.ts";
import { decodeNpy, encodeNpy } from "../../index/npy.ts";

/** Deterministic pseudo-random floats in [-1, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

function randomVectors(n: number, dim: number, seed: number): Float32Array[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Float32Array.from({ length: dim }, r));
}

function bruteForce(vectors: Float32Array[], query: Float32Array, k: number): number[] {
  const scored = vectors.map((v, row) => {
    let s = 0;
    for (let i = 0; i < v.length; i++) s += v[i]! * query[i]!;
    return [s, row] as const;
  });
  scored.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return scored.slice(0, k).map(([, row]) => row);
}

Deno.test("DenseIndex: search equals brute force across several small blocks", async () => {
  const vectors = randomVectors(300, 16, 1);
  const queries = randomVectors(7, 16, 2);
  // maxBlockBytes small enough that the 300 rows are split into many blocks.
  const index = new DenseIndex(16, { maxBlockBytes: 4 * (16 + 7) * 37 });
  index.add(vectors.map((_, i) => `p${i}`), vectors, vectors.map((_, i) => ({ n: i })));
  const results = await index.search(queries, 10);
  assert.equal(results.length, 7);
  for (const [qi, hits] of results.entries()) {
    assert.deepEqual(hits.map((h) => h.row), bruteForce(vectors, queries[qi]!, 10));
    for (const h of hits) {
      assert.equal(h.id, `p${h.row}`);
      assert.deepEqual(h.metadata, { n: h.row });
    }
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score);
  }
});

Deno.test("DenseIndex: ties are ordered lower row first, also across block edges", async () => {
  // 50 identical vectors and a few better ones: all ties must come back in row order.
  const dim = 4;
  const same = new Float32Array([1, 0, 0, 0]);
  const vectors: Float32Array[] = [];
  for (let i = 0; i < 50; i++) vectors.push(i % 17 === 5 ? new Float32Array([2, 0, 0, 0]) : same);
  for (const blockBytes of [4 * (dim + 1) * 3, 4 * (dim + 1) * 7, 1 << 20]) {
    const index = new DenseIndex(dim, { maxBlockBytes: blockBytes });
    index.add(vectors.map((_, i) => String(i)), vectors);
    const [hits] = await index.search([new Float32Array([1, 0, 0, 0])], 12);
    assert.deepEqual(hits!.map((h) => h.row), [5, 22, 39, 0, 1, 2, 3, 4, 6, 7, 8, 9]);
  }
});

Deno.test("DenseIndex: k larger than the index, empty index, bad arguments", async () => {
  const index = new DenseIndex(3);
  assert.deepEqual(await index.search([new Float32Array(3)], 5), [[]]);
  index.add(["a", "b"], new Float32Array([1, 2, 3, 4, 5, 6]));
  const [hits] = await index.search(new Float32Array([1, 1, 1]), 5);
  assert.deepEqual(hits!.map((h: SearchHit) => [h.id, h.score]), [["b", 15], ["a", 6]]);
  await assert.rejects(() => index.search([new Float32Array(2)], 1), TypeError);
  await assert.rejects(() => index.search([new Float32Array(3)], 0), RangeError);
  assert.throws(() => index.add(["a"], [new Float32Array(3)]), /duplicate id "a"/);
  assert.throws(() => index.add(["c"], [new Float32Array(4)]), TypeError);
  assert.throws(() => index.add(["c", "d"], [new Float32Array(3)]), RangeError);
  assert.throws(() => new DenseIndex(0), RangeError);
  assert.equal(index.size, 2);
});

Deno.test("npy: header is 64-byte aligned and round-trips", () => {
  const data = Float32Array.from({ length: 12 }, (_, i) => i / 3);
  const bytes = encodeNpy(data, 3, 4);
  const headerLength = new DataView(bytes.buffer).getUint16(8, true);
  assert.equal((10 + headerLength) % 64, 0);
  const text = new TextDecoder().decode(bytes.subarray(10, 10 + headerLength));
  assert.match(text, /^\{'descr': '<f4', 'fortran_order': False, 'shape': \(3, 4\), \} *\n$/);
  const back = decodeNpy(bytes, "x.npy");
  assert.equal(back.rows, 3);
  assert.equal(back.cols, 4);
  assert.deepEqual(back.data, data);
  assert.throws(() => decodeNpy(bytes.subarray(0, bytes.length - 4), "x.npy"), /truncated/);
});

Deno.test("DenseIndex: save/load round trip and corrupt files are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const vectors = randomVectors(20, 8, 3);
    const index = new DenseIndex(8);
    const meta = vectors.map((_, i) => ({ title: `t${i}`, text: `x\ny "${i}"` }));
    index.add(vectors.map((_, i) => `id-${i}`), vectors, meta);
    await index.save(`${dir}/idx`);
    const names = [...Deno.readDirSync(`${dir}/idx`)].map((e) => e.name).sort();
    assert.deepEqual(names, ["ids.jsonl", "index.json", "metadata.jsonl", "vectors.npy"]);
    const back = await DenseIndex.load(`${dir}/idx`);
    assert.equal(back.size, 20);
    assert.equal(back.rowOf("id-7"), 7);
    // A loaded index still grows and searches.
    back.add(["new"], [vectors[3]!.map((x) => 10 * x)]);
    const [top] = await back.search([vectors[3]!], 2);
    const [before] = await index.search([vectors[3]!], 1);
    assert.deepEqual(top!.map((h) => h.id), ["new", before![0]!.id]);
    back.add(["newer"], [new Float32Array(8)]);
    assert.equal(back.size, 22);
    assert.deepEqual(back.vectors.subarray(0, 160), index.vectors);
    assert.deepEqual(back.ids.slice(0, 20), index.ids);
    assert.deepEqual(back.metadata(4), meta[4]);
    // Saving again into the existing folder replaces the index: new parts under new names, then
    // index.json; the old parts are gone.
    index.add(["extra"], [new Float32Array(8)]);
    await index.save(`${dir}/idx`);
    assert.equal((await DenseIndex.load(`${dir}/idx`)).size, 21);
    const files = JSON.parse(await Deno.readTextFile(`${dir}/idx/index.json`)).files;
    const renamed = [...Deno.readDirSync(`${dir}/idx`)].map((e) => e.name).sort();
    assert.deepEqual(renamed, ["index.json", files.ids, files.metadata, files.vectors].sort());
    const part = (name: string) => `${dir}/idx/${files[name.split(".")[0]!]}`;

    const npy = await Deno.readFile(part("vectors.npy"));
    await Deno.writeFile(part("vectors.npy"), npy.subarray(0, npy.length - 10));
    await assert.rejects(() => DenseIndex.load(`${dir}/idx`), /truncated/);
    await Deno.writeFile(part("vectors.npy"), npy);

    const ids = await Deno.readTextFile(part("ids.jsonl"));
    await Deno.writeTextFile(part("ids.jsonl"), ids.split("\n").slice(0, 5).join("\n") + "\n");
    await assert.rejects(() => DenseIndex.load(`${dir}/idx`), /expected 21 lines/);
    await Deno.writeTextFile(part("ids.jsonl"), ids.slice(0, -3));
    await assert.rejects(() => DenseIndex.load(`${dir}/idx`), /not terminated/);
    await Deno.writeTextFile(part("ids.jsonl"), ids.replace('"id-1"', '"id-0"'));
    await assert.rejects(() => DenseIndex.load(`${dir}/idx`), /duplicate id "id-0"/);
    await Deno.writeTextFile(part("ids.jsonl"), ids);

    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/idx/index.json`));
    await Deno.writeTextFile(`${dir}/idx/index.json`, JSON.stringify({ ...manifest, dim: 9 }));
    await assert.rejects(() => DenseIndex.load(`${dir}/idx`), /shape \(21, 8\).*\(21, 9\)/);
    await Deno.writeTextFile(`${dir}/idx/index.json`, "{");
    await assert.rejects(() => DenseIndex.load(`${dir}/idx`), SyntaxError);
    await Deno.remove(`${dir}/idx/index.json`);
    await assert.rejects(() => DenseIndex.load(`${dir}/idx`), /index.json is missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const PYTHON_CHECK = `
import json, sys
import numpy as np
import faiss
d = sys.argv[1]
x = np.load(d + "/vectors.npy")
assert x.dtype == np.float32 and x.flags["C_CONTIGUOUS"], (x.dtype, x.flags)
q = np.load(d + "/queries.npy")
ids = [json.loads(line) for line in open(d + "/ids.jsonl", encoding="utf-8")]
index = faiss.IndexFlatIP(x.shape[1])
index.add(x)
scores, rows = index.search(q, int(sys.argv[2]))
print(json.dumps({"shape": list(x.shape), "rows": rows.tolist(), "scores": scores.tolist(),
                  "ids": [[ids[r] for r in row] for row in rows.tolist()]}))
`;

/** Why /usr/bin/python3 cannot run the FAISS check (what to install), or undefined when it can. */
const noFaiss: string | undefined = (() => {
  try {
    const probe = new Deno.Command("/usr/bin/python3", {
      args: ["-c", "import numpy, faiss"],
      stdout: "null",
      stderr: "piped",
    }).outputSync();
    if (probe.success) return undefined;
    return new TextDecoder().decode(probe.stderr).trim().split("\n").at(-1);
  } catch (error) {
    return String(error);
  }
})();
if (noFaiss !== undefined) {
  console.log(
    `FAISS test ignored: /usr/bin/python3 cannot import numpy and faiss (${noFaiss}); install ` +
      "python3-numpy and python3-faiss (Debian/Ubuntu), or run `bash .ci/run`, which installs them",
  );
}

Deno.test("DenseIndex: the saved index loads in numpy/FAISS and gives the same top-k", {
  // Ignored (never passed) without numpy and FAISS; CI installs them.
  ignore: noFaiss !== undefined,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const dim = 24;
    const vectors = randomVectors(500, dim, 7);
    const queries = randomVectors(9, dim, 8);
    const index = new DenseIndex(dim, { maxBlockBytes: 4 * (dim + 9) * 64 });
    index.add(vectors.map((_, i) => `doc${i}`), vectors);
    await index.save(dir);
    const flat = new Float32Array(9 * dim);
    queries.forEach((q, i) => flat.set(q, i * dim));
    await Deno.writeFile(`${dir}/queries.npy`, encodeNpy(flat, 9, dim));
    const out = await new Deno.Command("/usr/bin/python3", {
      args: ["-c", PYTHON_CHECK, dir, "20"],
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const py = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.deepEqual(py.shape, [500, dim]);
    const ours = await index.search(queries, 20);
    assert.deepEqual(py.ids, ours.map((hits) => hits.map((h) => h.id)));
    ours.forEach((hits, i) =>
      hits.forEach((h, j) => assert.ok(Math.abs(h.score - py.scores[i][j]) < 1e-4))
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DenseIndex: NaN or Infinity in vectors, queries or vectors.npy is refused", async () => {
  const index = new DenseIndex(2);
  assert.throws(
    () => index.add(["a", "b"], [new Float32Array([1, 0]), new Float32Array([NaN, 1])]),
    {
      name: "RangeError",
      message: /vector 1 \(id "b"\) holds NaN or Infinity/,
    },
  );
  assert.throws(() => index.add(["a"], new Float32Array([Infinity, 0])), RangeError);
  assert.equal(index.size, 0);
  index.add(["a", "b"], new Float32Array([1, 0, 0, 1]));
  await assert.rejects(index.search([new Float32Array([NaN, 0])], 1), {
    name: "RangeError",
    message: /query 0 holds NaN/,
  });
  const dir = await Deno.makeTempDir();
  try {
    await index.save(dir);
    const npy = await Deno.readFile(`${dir}/vectors.npy`);
    new DataView(npy.buffer).setFloat32(npy.length - 4, NaN, true);
    await Deno.writeFile(`${dir}/vectors.npy`, npy);
    await assert.rejects(DenseIndex.load(dir), {
      name: "RangeError",
      message: /row 1 of vectors.npy holds NaN/,
    });
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
    manifest.files = { vectors: 5 };
    await Deno.writeTextFile(`${dir}/index.json`, JSON.stringify(manifest));
    await assert.rejects(DenseIndex.load(dir), {
      name: "TypeError",
      message: /files.vectors must be a file name/,
    });
    manifest.files = { ids: "bad.jsonl" };
    await Deno.writeTextFile(`${dir}/index.json`, JSON.stringify(manifest));
    await Deno.writeFile(`${dir}/bad.jsonl`, new Uint8Array([0x22, 0xff, 0x22, 0x0a]));
    await assert.rejects(DenseIndex.load(dir), {
      name: "SyntaxError",
      message: /bad\.jsonl: it is not valid UTF-8/,
    });
    manifest.files = [];
    await Deno.writeTextFile(`${dir}/index.json`, JSON.stringify(manifest));
    await assert.rejects(DenseIndex.load(dir), { name: "TypeError", message: /files must be/ });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("DenseIndex.add: metadata that cannot be saved as JSON is refused up front", () => {
  const index = new DenseIndex(2);
  const v = [new Float32Array([1, 2])];
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  for (const bad of [() => 1, Symbol("s"), 1n, circular]) {
    assert.throws(() => index.add(["a"], v, [bad as never]), {
      name: "TypeError",
      message: /metadata 0 (must be a JSON value|cannot be saved as JSON)/,
    });
  }
  assert.equal(index.size, 0);
  index.add(["a"], v, [{ title: "ok", n: 1 }]);
  assert.deepEqual(index.metadata(0), { title: "ok", n: 1 });
});
