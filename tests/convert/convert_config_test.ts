// convertCheckpoint on broken config.json files: a clear error, and nothing written.
import assert from "node:assert/strict";
import { convertCheckpoint } from "../../convert/convert.ts";
import { resolvePretrained } from "../../io/resolve.ts";

const FIXTURE = new URL("../fixtures/models/dpr-question_encoder-tiny/", import.meta.url).pathname;

Deno.test("convertCheckpoint: config.json absent, not an object, or with impossible sizes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${FIXTURE}model.safetensors`, `${dir}/model.safetensors`);
    await assert.rejects(convertCheckpoint(dir, `${dir}/out`), {
      name: "RangeError",
      message: /has no config\.json/,
    });
    const cases: [string, string][] = [["[1, 2]", "an array"], ["null", "null"], ['"x"', '"x"']];
    for (const [text, shown] of cases) {
      await Deno.writeTextFile(`${dir}/config.json`, text);
      await assert.rejects(convertCheckpoint(dir, `${dir}/out`), {
        name: "TypeError",
        message: new RegExp(`config\\.json must be a JSON object: received ${shown}`),
      });
      await assert.rejects(resolvePretrained(dir), {
        name: "TypeError",
        message: new RegExp(`load a model from .*config\\.json must be a JSON object`),
      });
    }
    const config = JSON.parse(await Deno.readTextFile(`${FIXTURE}config.json`));
    await Deno.writeTextFile(`${dir}/config.json`, "{not json");
    await assert.rejects(resolvePretrained(dir), { name: "SyntaxError" });
    config.vocab_size = 1e10;
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    await assert.rejects(convertCheckpoint(dir, `${dir}/out`), {
      name: "RangeError",
      message: /sizes \(vocab_size 10000000000, hidden_size 32.*need more memory/,
    });
    // Every weight fits in an array, but all of them together exceed any memory.
    config.vocab_size = 100;
    config.num_hidden_layers = 1e9;
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
    await assert.rejects(convertCheckpoint(dir, `${dir}/out`), {
      name: "RangeError",
      message: /num_hidden_layers 1000000000, .*need more memory/,
    });
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
      "config.json",
      "model.safetensors",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("convertCheckpoint: overwrite never replaces the folder being converted", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const src = `${dir}/model`;
    await Deno.mkdir(src);
    for (const file of ["config.json", "model.safetensors", "vocab.txt"]) {
      await Deno.copyFile(`${FIXTURE}${file}`, `${src}/${file}`);
    }
    for (const out of [src, dir, `${src}/`]) {
      await assert.rejects(convertCheckpoint(src, out, { overwrite: true }), {
        name: "RangeError",
        message: /would delete the files being converted/,
      });
    }
    assert.ok((await Deno.stat(`${src}/model.safetensors`)).isFile);
    // Converting next to it still works, and again over the previous output.
    await convertCheckpoint(src, `${dir}/out`);
    await convertCheckpoint(src, `${dir}/out`, { overwrite: true });
    assert.ok((await Deno.stat(`${dir}/out/model.json`)).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
