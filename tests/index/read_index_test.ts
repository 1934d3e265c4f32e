import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
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
