import assert from "node:assert/strict";
import {
  detectDprOriginalKind,
  dprOriginalToHfName,
  inferDprConfig,
  readDprOriginalCheckpoint,
  selectEncoder,
} from "../../io/dpr_original.ts";
import { WEIGHT_SIZE_KEYS } from "../../models/config.ts";
import { readSafetensors } from "../../io/safetensors.ts";
import type { StateDict } from "../../io/state_dict.ts";
import { originalCheckpoint } from "./torch_bytes.ts";

const FIXTURES = new URL("../fixtures/models/", import.meta.url).pathname;

async function fixture(name: string): Promise<StateDict> {
  return readSafetensors(await Deno.readFile(`${FIXTURES}${name}/model.safetensors`));
}

function toOriginal(sd: StateDict, from: string, to: string): StateDict {
  return new Map(
    [...sd].map(([k, v]) => [to + k.slice(from.length).replace(/^bert_model\./, ""), v]),
  );
}

Deno.test("an original bi-encoder checkpoint maps onto both Hugging Face encoders", async () => {
  const question = await fixture("dpr-question_encoder-tiny");
  const ctx = await fixture("dpr-ctx_encoder-tiny");
  const original = new Map([
    ...toOriginal(question, "question_encoder.", "question_model."),
    ...toOriginal(ctx, "ctx_encoder.", "ctx_model."),
  ]);
  assert.equal(detectDprOriginalKind(original.keys()), "biencoder");
  for (const namedTuple of [false, true]) {
    const read = await readDprOriginalCheckpoint(originalCheckpoint(original, namedTuple));
    assert.equal(read.kind, "biencoder");
    assert.deepEqual(selectEncoder(read.stateDict, "question"), question);
    assert.deepEqual(selectEncoder(read.stateDict, "ctx"), ctx);
    if (!namedTuple) assert.equal(read.encoderParams.pretrained_model_cfg, "bert-base-uncased");
  }
});

Deno.test("an original reader checkpoint maps onto span_predictor", async () => {
  const reader = await fixture("dpr-reader-tiny");
  const original: StateDict = new Map(
    [...reader].map(([k, v]) => [
      k.replace(/^span_predictor\./, "").replace(/^encoder\.bert_model\./, "encoder."),
      v,
    ]),
  );
  assert.ok(original.has("qa_outputs.weight"));
  assert.ok(original.has("encoder.embeddings.word_embeddings.weight"));
  const read = await readDprOriginalCheckpoint(originalCheckpoint(original, false));
  assert.equal(read.kind, "reader");
  assert.deepEqual(read.stateDict, reader);
});

Deno.test("names map like transformers' conversion; configs are inferred from shapes", async () => {
  assert.equal(
    dprOriginalToHfName("question_model.encode_proj.weight", "biencoder"),
    "question_encoder.encode_proj.weight",
  );
  assert.equal(
    dprOriginalToHfName("encoder.encode_proj.bias", "reader"),
    "span_predictor.encoder.encode_proj.bias",
  );
  assert.equal(dprOriginalToHfName("optimizer.x", "biencoder"), null);
  const config = inferDprConfig(await fixture("dpr-reader-tiny"), "DPRReader");
  const expected = JSON.parse(await Deno.readTextFile(`${FIXTURES}dpr-reader-tiny/config.json`));
  for (const key of WEIGHT_SIZE_KEYS) {
    assert.equal(config[key], expected[key], key);
  }
  await assert.rejects(
    () => readDprOriginalCheckpoint(originalCheckpoint(new Map(), false)),
    /model_dict holds none of/,
  );
});
