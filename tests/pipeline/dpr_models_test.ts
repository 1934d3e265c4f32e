// One call from strings to vectors: encodeQuestions / encodePassages give what the model's own
// forward pass gives, in input order, free every tensor they make, and refuse the wrong encoder;
// `using` frees the weights.
import assert from "node:assert/strict";
import { setBackend } from "../../backend/set_backend.ts";
import { tf } from "../../backend/tf.ts";
import { DPRContextEncoder } from "../../models/dpr_context_encoder.ts";
import { loadDenseEncoder } from "../../pipeline/dpr_models.ts";
import { DPRContextEncoderTokenizer } from "../../tokenizer/dpr_tokenizers.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;

/** The pooled vector of one encoder input, computed by hand with the model's forward pass. */
async function direct(folder: string, text: string, pair?: string): Promise<Float32Array> {
  const tokenizer = await DPRContextEncoderTokenizer.fromPretrained(folder);
  using model = await DPRContextEncoder.fromPretrained(folder);
  const batch = tokenizer.encode([text], {
    textPair: pair === undefined ? undefined : [pair],
    returnTensors: "tf",
  });
  const tokenTypeIds = tf.zerosLike(batch.inputIds);
  const { poolerOutput } = model.forward({ ...batch, tokenTypeIds });
  const data = await poolerOutput.data() as Float32Array;
  tf.dispose([
    poolerOutput,
    tokenTypeIds,
    batch.inputIds,
    batch.attentionMask!,
    batch.tokenTypeIds!,
  ]);
  return data;
}

function assertClose(got: Float32Array, want: Float32Array): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5, `${i}`);
}

Deno.test("encodePassages and encodeQuestions: vectors in order, every tensor freed, using frees weights", async () => {
  await setBackend("cpu");
  const before = tf.memory().numTensors;
  const passages = [
    { title: "Telephone", text: "The telephone was patented in 1876." },
    "Penicillin was found in a mould.",
    { text: "Lava flows from a volcano." },
  ];
  {
    using encoder = await loadDenseEncoder("context", { models: MODELS });
    const loaded = tf.memory().numTensors;
    const vectors = await encoder.encodePassages(passages, { batchSize: 2 });
    assert.equal(tf.memory().numTensors, loaded, "no tensor left behind");
    assert.equal(vectors.length, 3);
    assert.ok(vectors.every((v) => v instanceof Float32Array && v.length === encoder.dim));
    const folder = `${MODELS}dpr-ctx_encoder-tiny`;
    assertClose(
      vectors[0]!,
      await direct(folder, "Telephone", "The telephone was patented in 1876."),
    );
    assertClose(vectors[1]!, await direct(folder, "Penicillin was found in a mould."));
    assertClose(vectors[2]!, await direct(folder, "Lava flows from a volcano."));
    await assert.rejects(
      () => encoder.encodeQuestions(["q"]),
      /Cannot encodeQuestions: it needs a question encoder: this encoder holds a DPRContextEncoder/,
    );
    await assert.rejects(
      () => encoder.encodePassages([{ title: "t" } as unknown as string]),
      /Cannot encodePassages: passage 0 must be a string or \{ title\?: string, text: string \}/,
    );
  }
  assert.equal(tf.memory().numTensors, before, "using disposed the weights");
  {
    using questions = await loadDenseEncoder("question", { models: MODELS });
    const loaded = tf.memory().numTensors;
    const [one, two] = await questions.encodeQuestions(["who invented the telephone?", "lava?"]);
    assert.equal(tf.memory().numTensors, loaded);
    assert.equal(one!.length, questions.dim);
    assert.notDeepEqual(one, two);
    const [again] = await questions.encodeQuestions(["who invented the telephone?"]);
    assert.deepEqual(again, one, "batching does not change a vector");
    await assert.rejects(() => questions.encodePassages(["p"]), /needs a context encoder/);
  }
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("loadDenseEncoder: a folder saved int8 loads int8 unless a dtype is named", async () => {
  await setBackend("cpu");
  const { DPRQuestionEncoder } = await import("../../models/dpr_question_encoder.ts");
  const { heldQuantized } = await import("../../layers/held_weight.ts");
  const source = `${MODELS}dpr-question_encoder-tiny`;
  const dir = await Deno.makeTempDir();
  try {
    using model = await DPRQuestionEncoder.fromPretrained(source, { dtype: "int8" });
    await model.savePretrained(dir, { keepDtype: true });
    for (const file of ["vocab.txt", "tokenizer_config.json", "special_tokens_map.json"]) {
      await Deno.copyFile(`${source}/${file}`, `${dir}/${file}`);
    }
    const layout = (encoder: { model: { encoder: typeof model.encoder } }) =>
      heldQuantized(encoder.model.encoder.layer[0]!.intermediate.denseKernel)?.weight.layout;
    using stored = await loadDenseEncoder("question", { questionEncoder: dir });
    assert.equal(layout(stored), "int8", "no dtype: as the folder stores it");
    using asked = await loadDenseEncoder("question", { questionEncoder: dir, dtype: "float32" });
    assert.equal(layout(asked), undefined, "float32 when asked");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadDenseEncoder: a tokenizer that fails frees the model that loaded beside it", async () => {
  await setBackend("cpu");
  const source = `${MODELS}dpr-question_encoder-tiny`;
  const dir = await Deno.makeTempDir();
  try {
    // The model's files without vocab.txt: the model loads, the tokenizer cannot.
    for (const file of ["config.json", "model.safetensors", "tokenizer_config.json"]) {
      await Deno.copyFile(`${source}/${file}`, `${dir}/${file}`);
    }
    const before = tf.memory().numTensors;
    await assert.rejects(loadDenseEncoder("question", { questionEncoder: dir }), /vocab/);
    assert.equal(tf.memory().numTensors, before, "the loaded model's weights were freed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
