import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { encodeNpy, npyHeader } from "../../index/npy.ts";
import { seeded } from "../seeded.ts";

/** A saved 6-row index of dimension 4 with {title, text} metadata, in a fresh temp folder. */
async function savedIndex(): Promise<{ dir: string; manifest: Record<string, unknown> }> {
  const dir = await Deno.makeTempDir();
  const index = new DenseIndex(4);
  const ids = ["a", "b", "c", "d", "e", "f"];
  index.add(ids, seeded(24, 3), ids.map((id) => ({ title: `T${id}`, text: `text ${id}` })));
  await index.save(`${dir}/idx`);
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/idx/index.json`));
  return { dir, manifest };
}

async function withManifest(
  dir: string,
  manifest: Record<string, unknown>,
  change: Record<string, unknown>,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/idx/index.json`, JSON.stringify({ ...manifest, ...change }));
}

Deno.test("read index: file names in index.json must be plain names inside the folder", async () => {
  const { dir, manifest } = await savedIndex();
  try {
    // A file outside the folder that would otherwise load.
    await Deno.copyFile(`${dir}/idx/vectors.npy`, `${dir}/outside.npy`);
    const files = manifest.files as Record<string, string>;
    for (
      const bad of [
        "../outside.npy",
        `${dir}/outside.npy`,
        "sub/vectors.npy",
        "..",
        ".",
        "",
        "a\\b",
      ]
    ) {
      await withManifest(dir, manifest, { files: { ...files, vectors: bad } });
      await assert.rejects(DenseIndex.load(`${dir}/idx`), {
        name: "RangeError",
        message: new RegExp(
          `files\\.vectors must be a plain file name inside the index folder.*received ${
            JSON.stringify(bad).replace(/[\\.]/g, "\\$&")
          }`,
        ),
      }, bad);
    }
    await withManifest(dir, manifest, { files: { ...files, ids: "index.json" } });
    await assert.rejects(DenseIndex.load(`${dir}/idx`), /files\.ids must be a plain file name/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("read index: two parts naming the same file are refused", async () => {
  const { dir, manifest } = await savedIndex();
  try {
    const files = manifest.files as Record<string, string>;
    await withManifest(dir, manifest, { files: { ...files, metadata: files.ids } });
    await assert.rejects(DenseIndex.load(`${dir}/idx`), {
      name: "RangeError",
      message: /files\.metadata and files\.ids name the same file "ids\.jsonl"/,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("read index: metadata lines must hold the fields index.json records", async () => {
  const { dir, manifest } = await savedIndex();
  try {
    assert.deepEqual(manifest.metadata_fields, { title: "string", text: "string" });
    const path = `${dir}/idx/metadata.jsonl`;
    const good = await Deno.readTextFile(path);
    const lines = good.split("\n");
    for (
      const bad of ["null", "3", '"text"', "[]", '{"title":"x"}', '{"title":1,"text":"y"}']
    ) {
      await Deno.writeTextFile(path, [...lines.slice(0, 4), bad, ...lines.slice(5)].join("\n"));
      await assert.rejects(DenseIndex.load(`${dir}/idx`), {
        name: "TypeError",
        message: new RegExp(
          `metadata\\.jsonl: line 5 must be an object with title \\(string\\), text \\(string\\): ` +
            `received ${bad.replace(/[[\]{}]/g, "\\$&")}`,
        ),
      }, bad);
    }
    await Deno.writeTextFile(path, good);
    await withManifest(dir, manifest, { metadata_fields: { title: "text" } });
    await assert.rejects(DenseIndex.load(`${dir}/idx`), /metadata_fields\.title must be one of/);
    await withManifest(dir, manifest, { metadata_fields: null });
    await assert.rejects(DenseIndex.load(`${dir}/idx`), /metadata_fields must be an object/);
    // Extra fields and other values pass; without metadata_fields nothing is checked.
    await Deno.writeTextFile(path, good.replace('"title":"Ta"', '"title":"Ta","n":1'));
    await withManifest(dir, manifest, {});
    assert.deepEqual((await DenseIndex.load(`${dir}/idx`)).metadata(0), {
      title: "Ta",
      n: 1,
      text: "text a",
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("read index: mixed metadata records no fields and loads as saved", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const index = new DenseIndex(2);
    index.add(["a", "b", "c"], seeded(6, 1), [{ title: "x", n: 1 }, null, { title: "y" }]);
    assert.equal(index.manifest().metadata_fields, undefined);
    index.add(["d"], seeded(2, 2));
    await index.save(dir);
    const back = await DenseIndex.load(dir);
    assert.deepEqual([0, 1, 2, 3].map((i) => back.metadata(i)), [
      { title: "x", n: 1 },
      null,
      { title: "y" },
      null,
    ]);
    const objects = new DenseIndex(2);
    objects.add(["a", "b"], seeded(4, 1), [{ title: "x", n: 1 }, { title: "y", n: "2" }]);
    assert.deepEqual(objects.manifest().metadata_fields, { title: "string" });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Writes a float32 `.npy` file of `rows x cols` values. */
async function writeFloats(path: string, rows: number, cols: number, values: number[]) {
  await Deno.writeFile(path, encodeNpy(Float32Array.from(values), rows, cols));
}

Deno.test("read index: a version 1 int8 index (int8 * row scale) loads, searches, saves as it was", async () => {
  // Written by hand as indexes before layout version 2 were: '|i1' values and row scales.
  const dir = await Deno.makeTempDir();
  try {
    const v1 = `${dir}/v1`;
    await Deno.mkdir(v1);
    await Deno.writeTextFile(
      `${v1}/index.json`,
      JSON.stringify({
        format: "dpr-dense-index",
        version: 1,
        count: 3,
        dim: 2,
        dtype: "int8",
        metric: "inner_product",
        files: { vectors: "vectors.npy", ids: "ids.jsonl", metadata: "metadata.jsonl" },
      }),
    );
    const header = npyHeader(3, 2, "|i1");
    const bytes = new Uint8Array(header.length + 6);
    bytes.set(header);
    bytes.set(new Uint8Array(Int8Array.from([127, -64, 0, 0, -127, 127]).buffer), header.length);
    await Deno.writeFile(`${v1}/vectors.npy`, bytes);
    await writeFloats(`${v1}/scales.npy`, 3, 1, [0.5, 0, 2]);
    await Deno.writeTextFile(`${v1}/ids.jsonl`, '"a"\n"b"\n"c"\n');
    await Deno.writeTextFile(`${v1}/metadata.jsonl`, "null\nnull\nnull\n");
    const index = await DenseIndex.load(v1);
    assert.equal(index.storage, "int8");
    assert.deepEqual(index.vectors, new Float32Array([63.5, -32, 0, 0, -254, 254]));
    const [hits] = await index.search([new Float32Array([1, 0.5])], 3);
    assert.deepEqual(hits!.map((h) => [h.id, h.score]), [["a", 47.5], ["b", 0], ["c", -127]]);
    // Rows added to it keep its layout (max |x| / 127 per row), and it saves as version 1.
    index.add(["d"], new Float32Array([2.54, -1]));
    assert.deepEqual(index.vector(3), new Float32Array([Math.fround(2.54), Math.fround(-1)]));
    await index.save(`${dir}/again`);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/again/index.json`));
    assert.equal(manifest.version, 1);
    assert.equal(manifest.files.codebook, undefined);
    const back = await DenseIndex.load(`${dir}/again`);
    assert.deepEqual(back.vectors, index.vectors);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("read index: version 2 int8 parts are checked, and a bad one is named", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const dim = 4, index = new DenseIndex(dim, { storage: "int8" });
    const n = 300;
    index.add(Array.from({ length: n }, (_, i) => `r${i}`), seeded(n * dim, 8));
    await index.save(`${dir}/idx`);
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/idx/index.json`));
    assert.equal(manifest.version, 2);
    assert.deepEqual(manifest.files, {
      vectors: "vectors.npy",
      ids: "ids.jsonl",
      metadata: "metadata.jsonl",
      scales: "scales.npy",
      codebook: "codebook.npy",
      dimensions: "dimensions.npy",
    });
    const back = await DenseIndex.load(`${dir}/idx`);
    assert.deepEqual(back.vectors, index.vectors);
    assert.deepEqual(
      (await back.search(seeded(dim, 9), 5))[0]!.map((h) => h.row),
      (await index.search(seeded(dim, 9), 5))[0]!.map((h) => h.row),
    );
    const codebook = `${dir}/idx/codebook.npy`, dimensions = `${dir}/idx/dimensions.npy`;
    const saved = {
      codebook: await Deno.readFile(codebook),
      dimensions: await Deno.readFile(dimensions),
    };
    const restore = async () => {
      await Deno.writeFile(codebook, saved.codebook);
      await Deno.writeFile(dimensions, saved.dimensions);
    };
    const cases: Array<[() => Promise<void>, RegExp]> = [
      [
        () => writeFloats(codebook, 1, 255, new Array(255).fill(0)),
        /codebook\.npy has shape \(1, 255\) but must have \(1, 256\)/,
      ],
      [
        () => writeFloats(codebook, 1, 256, [...new Array(255).fill(0), NaN]),
        /level 255 of codebook\.npy must be finite: received NaN/,
      ],
      [() => Deno.remove(codebook), /codebook\.npy is missing/],
      [
        () => writeFloats(dimensions, 2, 3, new Array(6).fill(1)),
        /dimensions\.npy has shape \(2, 3\) but must have \(2, 4\)/,
      ],
      [
        () => writeFloats(dimensions, 2, 4, [0, Infinity, 0, 0, 1, 1, 1, 1]),
        /offset 1 of dimensions\.npy must be finite: received Infinity/,
      ],
      [
        () => writeFloats(dimensions, 2, 4, [0, 0, 0, 0, 1, 1, 0, 1]),
        /spread 2 of dimensions\.npy must be finite and > 0: received 0/,
      ],
    ];
    for (const [breakIt, message] of cases) {
      await restore();
      await breakIt();
      await assert.rejects(DenseIndex.load(`${dir}/idx`), message);
    }
    await restore();
    // Version 2 stores codes ('|u1'); version 1 signed values ('|i1'): one is not the other.
    await Deno.writeTextFile(`${dir}/idx/index.json`, JSON.stringify({ ...manifest, version: 1 }));
    await assert.rejects(DenseIndex.load(`${dir}/idx`), /dtype must be '\|i1': received '\|u1'/);
    await Deno.writeTextFile(`${dir}/idx/index.json`, JSON.stringify({ ...manifest, version: 3 }));
    await assert.rejects(DenseIndex.load(`${dir}/idx`), /version 1 or 2: received .* version 3/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
