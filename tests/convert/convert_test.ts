import assert from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { convertCheckpoint } from "../../convert/convert.ts";
import { resolvePretrained } from "../../io/resolve.ts";
import { readSafetensors } from "../../io/safetensors.ts";
import { saveSafetensors } from "../../io/save_safetensors.ts";
import type { StateDict } from "../../io/state_dict.ts";
import { DPRConfig } from "../../models/config.ts";
import { DPRContextEncoder } from "../../models/dpr_context_encoder.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { originalCheckpoint } from "../io/torch_bytes.ts";
import { tfl } from "../../backend/tf.ts";
import { convertedFolderHandler } from "../../io/tfjs_io.ts";
import { heldQuantized } from "../../layers/held_weight.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;
const NAMES = ["dpr-question_encoder-tiny", "dpr-ctx_encoder-tiny", "dpr-reader-tiny"];
const SIDE_FILES = ["config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"];

async function fixtureStateDict(name: string): Promise<StateDict> {
  return readSafetensors(await Deno.readFile(`${FIXTURES}models/${name}/model.safetensors`));
}

/** A copy of a fixture folder holding only one weight file. */
async function folderWith(name: string, weights: string, root: string): Promise<string> {
  const dir = `${root}/${name}-${weights.replace(".", "_")}`;
  await Deno.mkdir(dir, { recursive: true });
  for (const file of [...SIDE_FILES, weights]) {
    await Deno.copyFile(`${FIXTURES}models/${name}/${file}`, `${dir}/${file}`);
  }
  return dir;
}

interface GoldenTensor {
  shape: number[];
  data: number[];
}

function nested(t: GoldenTensor): number[][] {
  const [rows, cols] = t.shape as [number, number];
  return Array.from({ length: rows }, (_, r) => t.data.slice(r * cols, (r + 1) * cols));
}

/** Runs every golden case's main output through a model built from `stateDict`. */
async function maxGoldenError(
  name: string,
  config: unknown,
  stateDict: StateDict,
): Promise<number> {
  const golden = JSON.parse(await Deno.readTextFile(`${FIXTURES}golden/models/${name}.json`));
  const cfg = DPRConfig.fromJSON(config);
  let worst = 0;
  const compare = (actual: tf.Tensor, expected: GoldenTensor): void => {
    const values = actual.dataSync();
    assert.deepEqual(actual.shape, expected.shape);
    for (let i = 0; i < values.length; i++) {
      worst = Math.max(worst, Math.abs(values[i]! - expected.data[i]!));
    }
  };
  const model = name.includes("reader")
    ? new DPRReader(cfg, { zeroInit: true })
    : name.includes("ctx")
    ? new DPRContextEncoder(cfg, { zeroInit: true })
    : new DPRQuestionEncoder(cfg, { zeroInit: true });
  try {
    model.loadStateDict(stateDict);
    for (const c of golden.cases) {
      if (c.inputs.input_ids === undefined) continue;
      const inputs: Record<string, number[][]> = { inputIds: nested(c.inputs.input_ids) };
      if (c.inputs.attention_mask) inputs.attentionMask = nested(c.inputs.attention_mask);
      if (c.inputs.token_type_ids) inputs.tokenTypeIds = nested(c.inputs.token_type_ids);
      if (model instanceof DPRReader) {
        const out = model.forward(inputs);
        compare(out.startLogits, c.outputs.start_logits);
        compare(out.endLogits, c.outputs.end_logits);
        compare(out.relevanceLogits, c.outputs.relevance_logits);
        tf.dispose([out.startLogits, out.endLogits, out.relevanceLogits]);
      } else {
        const out = model.forward(inputs);
        compare(out.poolerOutput, c.outputs.pooler_output);
        out.poolerOutput.dispose();
      }
    }
  } finally {
    model.dispose();
  }
  return worst;
}

Deno.test("each fixture converts from safetensors and pytorch_model.bin and reloads exactly", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const name of NAMES) {
      const expected = await fixtureStateDict(name);
      for (const weights of ["model.safetensors", "pytorch_model.bin"]) {
        const src = await folderWith(name, weights, root);
        const out = `${root}/out/${name}-${weights}`;
        const result = await convertCheckpoint(src, out);
        assert.deepEqual(result.folders, [out]);
        const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
        assert.deepEqual(files, [
          "config.json",
          "group1-shard1of1.bin",
          "model.json",
          "special_tokens_map.json",
          "tokenizer_config.json",
          "vocab.txt",
        ]);
        const reloaded = await resolvePretrained(out);
        assert.equal(reloaded.format, "tfjs");
        assert.deepEqual(reloaded.stateDict, expected, `${name} from ${weights}`);
        if (weights === "model.safetensors") {
          const err = await maxGoldenError(name, reloaded.config, reloaded.stateDict);
          assert.ok(err < 1e-4, `${name}: max error ${err}`);
        }
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("float16 and uint8 quantization follow tfjs's manifest and stay close", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const name of NAMES) {
      const expected = await fixtureStateDict(name);
      const src = `${FIXTURES}models/${name}`;
      await convertCheckpoint(src, `${root}/${name}-f16`, { quantize: "float16", progress: false });
      const f16 = await resolvePretrained(`${root}/${name}-f16`);
      const err = await maxGoldenError(name, f16.config, f16.stateDict);
      assert.ok(err < 1e-2 && err > 0, `${name} float16: max error ${err}`);

      // The PyTorch layout keeps checkpoint names in the manifest, so values compare directly.
      await convertCheckpoint(src, `${root}/${name}-u8`, { quantize: "uint8", layout: "pytorch" });
      const modelJson = JSON.parse(await Deno.readTextFile(`${root}/${name}-u8/model.json`));
      const u8 = await resolvePretrained(`${root}/${name}-u8`);
      for (const entry of modelJson.weightsManifest[0].weights) {
        assert.equal(entry.quantization.dtype, "uint8");
        const original = expected.get(entry.name)!.data;
        const restored = u8.stateDict.get(entry.name)!.data;
        for (let i = 0; i < original.length; i++) {
          assert.ok(Math.abs(original[i]! - restored[i]!) <= entry.quantization.scale * 0.51);
        }
      }
      // tfjs's own decoder reads our manifest and shards to the same values.
      const shards = modelJson.weightsManifest[0].paths.map((p: string) =>
        Deno.readFileSync(`${root}/${name}-u8/${p}`).buffer
      );
      const decoded = tf.io.decodeWeights(shards, modelJson.weightsManifest[0].weights);
      for (const [key, tensor] of Object.entries(decoded)) {
        const ours = u8.stateDict.get(key)!.data;
        const theirs = tensor.dataSync();
        for (let i = 0; i < ours.length; i++) assert.ok(Math.abs(ours[i]! - theirs[i]!) < 1e-6);
        tensor.dispose();
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("weights shard at 4 MiB and a converted folder loads from an http URL", async () => {
  const root = await Deno.makeTempDir();
  const controller = new AbortController();
  try {
    // A state dict a little over 4 MiB gives two shards, one weight crossing the boundary.
    const config = JSON.parse(
      await Deno.readTextFile(`${FIXTURES}models/dpr-question_encoder-tiny/config.json`),
    );
    config.vocab_size = 33_000;
    const big = new Map(await fixtureStateDict("dpr-question_encoder-tiny"));
    const word = big.get("question_encoder.bert_model.embeddings.word_embeddings.weight")!;
    const rows = 33_000;
    const data = new Float32Array(rows * 32).map((_, i) => Math.sin(i));
    big.set("question_encoder.bert_model.embeddings.word_embeddings.weight", {
      shape: [rows, word.shape[1]!],
      data,
    });
    await Deno.mkdir(`${root}/src`);
    const { writeSafetensors } = await import("../../io/safetensors.ts");
    await Deno.writeFile(`${root}/src/model.safetensors`, writeSafetensors(big));
    await Deno.writeTextFile(`${root}/src/config.json`, JSON.stringify(config));
    await convertCheckpoint(`${root}/src`, `${root}/out`);
    const shards = [...Deno.readDirSync(`${root}/out`)].map((e) => e.name).filter((n) =>
      n.endsWith(".bin")
    ).sort();
    assert.deepEqual(shards, ["group1-shard1of2.bin", "group1-shard2of2.bin"]);
    assert.equal(Deno.statSync(`${root}/out/group1-shard1of2.bin`).size, 4 * 1024 * 1024);

    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
      async (req) => {
        const file = new URL(req.url).pathname.replace(/^\/models\/tiny\//, "");
        try {
          return new Response(await Deno.readFile(`${root}/out/${file}`));
        } catch {
          return new Response("no", { status: 404 });
        }
      },
    );
    const url = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/models/tiny`;
    const fromUrl = await resolvePretrained(url);
    assert.equal(fromUrl.format, "tfjs");
    assert.deepEqual(fromUrl.stateDict, big);
    controller.abort();
    await server.finished;
  } finally {
    controller.abort();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a failed conversion leaves nothing; the wrong architecture is refused", async () => {
  const root = await Deno.makeTempDir();
  try {
    // A context encoder's weights under a question encoder's config (transformers issue 9725).
    const src = await folderWith("dpr-ctx_encoder-tiny", "model.safetensors", root);
    const config = JSON.parse(await Deno.readTextFile(`${src}/config.json`));
    config.architectures = ["DPRQuestionEncoder"];
    await Deno.writeTextFile(`${src}/config.json`, JSON.stringify(config));
    await assert.rejects(
      () => convertCheckpoint(src, `${root}/out/model`),
      /config\.json says DPRQuestionEncoder, whose weights start with "question_encoder\."/,
    );
    assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name).sort(), [
      "dpr-ctx_encoder-tiny-model_safetensors",
    ]);
    // A truncated weight file fails while reading, before anything is written.
    await Deno.mkdir(`${root}/out`);
    const bytes = await Deno.readFile(`${FIXTURES}models/dpr-reader-tiny/model.safetensors`);
    await Deno.mkdir(`${root}/cut`);
    await Deno.copyFile(`${FIXTURES}models/dpr-reader-tiny/config.json`, `${root}/cut/config.json`);
    await Deno.writeFile(`${root}/cut/model.safetensors`, bytes.subarray(0, 5000));
    await assert.rejects(() => convertCheckpoint(`${root}/cut`, `${root}/out/model`), RangeError);
    assert.deepEqual([...Deno.readDirSync(`${root}/out`)], []);
    // An existing output is kept unless overwrite is asked.
    await convertCheckpoint(`${FIXTURES}models/dpr-reader-tiny`, `${root}/out/model`);
    await assert.rejects(
      () => convertCheckpoint(`${FIXTURES}models/dpr-reader-tiny`, `${root}/out/model`),
      /already exists/,
    );
    await convertCheckpoint(`${FIXTURES}models/dpr-reader-tiny`, `${root}/out/model`, {
      overwrite: true,
      quantize: "float16",
    });
    assert.deepEqual([...Deno.readDirSync(`${root}/out`)].map((e) => e.name), ["model"]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("an original DPR bi-encoder file converts into both encoders", async () => {
  const root = await Deno.makeTempDir();
  try {
    const question = await fixtureStateDict("dpr-question_encoder-tiny");
    const ctx = await fixtureStateDict("dpr-ctx_encoder-tiny");
    const rename = (sd: StateDict, from: string, to: string): [string, unknown][] =>
      [...sd].map(([k, v]) => [to + k.slice(from.length).replace(/^bert_model\./, ""), v]);
    const original = new Map([
      ...rename(question, "question_encoder.", "question_model."),
      ...rename(ctx, "ctx_encoder.", "ctx_model."),
    ]) as StateDict;
    await Deno.writeFile(`${root}/biencoder.cp`, originalCheckpoint(original, false));
    const result = await convertCheckpoint(`${root}/biencoder.cp`, `${root}/out`, {
      tokenizerFrom: `${FIXTURES}models/dpr-question_encoder-tiny`,
    });
    assert.ok(Deno.statSync(`${root}/out/ctx_encoder/vocab.txt`).size > 100);
    assert.deepEqual(result.folders, [`${root}/out/question_encoder`, `${root}/out/ctx_encoder`]);
    const q = await resolvePretrained(`${root}/out/question_encoder`);
    assert.deepEqual(q.stateDict, question);
    assert.deepEqual(q.config.architectures, ["DPRQuestionEncoder"]);
    const c = await resolvePretrained(`${root}/out/ctx_encoder`);
    assert.deepEqual(c.stateDict, ctx);
    // Sizes come from the weights' shapes (heads cannot be seen in them: hidden / 64).
    assert.equal(c.config.hidden_size, 32);
    assert.equal(c.config.num_hidden_layers, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("saveSafetensors after conversion reloads identical weights", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const name of NAMES) {
      await convertCheckpoint(`${FIXTURES}models/${name}`, `${root}/${name}`);
      const converted = await resolvePretrained(`${root}/${name}`);
      const cfg = DPRConfig.fromJSON(converted.config);
      const model = name.includes("reader")
        ? new DPRReader(cfg, { zeroInit: true })
        : name.includes("ctx")
        ? new DPRContextEncoder(cfg, { zeroInit: true })
        : new DPRQuestionEncoder(cfg, { zeroInit: true });
      model.loadStateDict(converted.stateDict);
      await saveSafetensors(model, `${root}/${name}-saved`);
      model.dispose();
      const saved = await resolvePretrained(`${root}/${name}-saved`);
      assert.equal(saved.format, "safetensors");
      assert.deepEqual(
        new Map([...saved.stateDict].sort()),
        new Map([...(await fixtureStateDict(name))].sort()),
      );
      assert.deepEqual(saved.config.architectures, converted.config.architectures);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("converted folders load with tf.loadLayersModel and match the golden outputs", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const name of NAMES) {
      const golden = JSON.parse(await Deno.readTextFile(`${FIXTURES}golden/models/${name}.json`));
      for (const quantize of [undefined, "float16"] as const) {
        const out = `${root}/${name}-${quantize ?? "f32"}`;
        await convertCheckpoint(`${FIXTURES}models/${name}`, out, quantize ? { quantize } : {});
        const modelJson = JSON.parse(await Deno.readTextFile(`${out}/model.json`));
        assert.equal(modelJson.format, "layers-model");
        const model = await tfl.loadLayersModel(convertedFolderHandler(out));
        let worst = 0;
        for (const c of golden.cases) {
          if (c.inputs.input_ids === undefined || c.inputs.attention_mask === undefined) continue;
          const ids = tf.tensor(c.inputs.input_ids.data, c.inputs.input_ids.shape, "int32");
          const mask = tf.tensor(
            c.inputs.attention_mask.data,
            c.inputs.attention_mask.shape,
            "int32",
          );
          const inputs = [ids, mask];
          if (!name.includes("reader")) {
            const types = c.inputs.token_type_ids
              ? tf.tensor(c.inputs.token_type_ids.data, c.inputs.token_type_ids.shape, "int32")
              : tf.zerosLike(ids);
            inputs.push(types);
          }
          const result = model.predict(inputs);
          const outs = Array.isArray(result) ? result : [result];
          const expected = name.includes("reader")
            ? [c.outputs.start_logits, c.outputs.end_logits, c.outputs.relevance_logits]
            : [c.outputs.pooler_output];
          outs.forEach((t, i) => {
            const values = t.dataSync();
            expected[i].data.forEach((v: number, j: number) => {
              worst = Math.max(worst, Math.abs(values[j]! - v));
            });
          });
          tf.dispose([...inputs, ...outs]);
        }
        model.dispose();
        const limit = quantize ? 1e-2 : 1e-4;
        assert.ok(worst < limit, `${name} ${quantize ?? "float32"}: max error ${worst}`);
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a tampered converted folder is refused with a clear error", async () => {
  const root = await Deno.makeTempDir();
  try {
    const out = `${root}/m`;
    await convertCheckpoint(`${FIXTURES}models/dpr-reader-tiny`, out);
    const original = await Deno.readTextFile(`${out}/model.json`);
    interface Editable {
      weightsManifest: { paths: string[]; weights: { shape: number[]; dtype: string }[] }[];
      userDefinedMetadata?: unknown;
    }
    const edit = async (change: (json: Editable) => void): Promise<void> => {
      const json = JSON.parse(original);
      change(json);
      await Deno.writeTextFile(`${out}/model.json`, JSON.stringify(json));
    };
    await edit((j) => (j.weightsManifest[0]!.weights[0]!.shape = [1_000_000]));
    await assert.rejects(() => resolvePretrained(out), /shards end before weight/);
    await edit((j) => (j.weightsManifest[0]!.weights[0]!.shape = [100_000, 100_000]));
    await assert.rejects(() => resolvePretrained(out), /more than one array can hold/);
    await edit((j) => j.weightsManifest[0]!.weights.pop());
    await assert.rejects(() => resolvePretrained(out), /bytes more than the manifest describes/);
    await edit((j) => (j.weightsManifest[0]!.paths = ["../../etc/passwd"]));
    await assert.rejects(() => resolvePretrained(out), /must stay in the folder/);
    await edit((j) => (j.weightsManifest[0]!.weights[0]!.dtype = "int32"));
    await assert.rejects(() => resolvePretrained(out), /only float32 is supported/);
    await edit((j) => delete j.userDefinedMetadata);
    await assert.rejects(
      () => resolvePretrained(out),
      /without the userDefinedMetadata\.dpr\.bindings/,
    );
    await Deno.writeTextFile(`${out}/model.json`, original);
    await Deno.remove(`${out}/group1-shard1of1.bin`);
    await assert.rejects(() => resolvePretrained(out), /shard group1-shard1of1\.bin is missing/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("convert --quantize int8: a model.safetensors folder that loads int8 by default", async () => {
  const src = new URL("../fixtures/models/dpr-question_encoder-tiny", import.meta.url).pathname;
  const root = await Deno.makeTempDir();
  try {
    await convertCheckpoint(src, `${root}/q8`, { quantize: "int8" });
    assert.ok(await Deno.stat(`${root}/q8/vocab.txt`), "the tokenizer is copied");
    const converted = await DPRQuestionEncoder.fromPretrained(`${root}/q8`);
    const direct = await DPRQuestionEncoder.fromPretrained(src, { dtype: "int8" });
    try {
      const kernel = (m: typeof converted) => m.encoder.layer[0]!.attention.self.qkvKernel;
      assert.equal(heldQuantized(kernel(converted))?.weight.layout, "int8");
      // the same quantization as loading the float32 folder with dtype int8
      assert.deepEqual(
        heldQuantized(kernel(converted))!.weight.data,
        heldQuantized(kernel(direct))!.weight.data,
      );
      assert.deepEqual(
        heldQuantized(converted.embeddings.wordEmbeddings)!.weight.scales,
        heldQuantized(direct.embeddings.wordEmbeddings)!.weight.scales,
      );
    } finally {
      converted.dispose();
      direct.dispose();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
