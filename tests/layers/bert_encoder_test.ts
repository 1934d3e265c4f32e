import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import "../../layers/dpr_pooler.ts";
import "../../layers/dpr_span_head.ts";
import { BertEmbeddings } from "../../layers/bert_embeddings.ts";
import { BertEncoder } from "../../layers/bert_encoder.ts";
import { attentionMaskBias, BertSelfAttention } from "../../layers/bert_self_attention.ts";

const LAYER_ARGS = {
  hiddenSize: 8,
  numAttentionHeads: 2,
  intermediateSize: 12,
  hiddenAct: "gelu",
  hiddenDropoutProb: 0.1,
  attentionProbsDropoutProb: 0.1,
  layerNormEps: 1e-12,
};

Deno.test("BertEncoder exposes every sublayer weight under explicit names", () => {
  const encoder = new BertEncoder({ ...LAYER_ARGS, numHiddenLayers: 2, name: "encoder" });
  encoder.build([null, null, 8]);
  try {
    const names = encoder.weights.map((w) => w.originalName);
    equal(names.length, 2 * 12);
    deepEqual(names.slice(0, 12), [
      "encoder.layer.0.attention.self/qkv.kernel",
      "encoder.layer.0.attention.self/qkv.bias",
      "encoder.layer.0.attention.output/dense.kernel",
      "encoder.layer.0.attention.output/dense.bias",
      "encoder.layer.0.attention.output/LayerNorm.weight",
      "encoder.layer.0.attention.output/LayerNorm.bias",
      "encoder.layer.0.intermediate/dense.kernel",
      "encoder.layer.0.intermediate/dense.bias",
      "encoder.layer.0.output/dense.kernel",
      "encoder.layer.0.output/dense.bias",
      "encoder.layer.0.output/LayerNorm.weight",
      "encoder.layer.0.output/LayerNorm.bias",
    ]);
    deepEqual(encoder.layer[1]!.attention.self.qkvKernel.shape, [8, 24]);
    deepEqual(encoder.layer[1]!.intermediate.denseKernel.shape, [8, 12]);
    deepEqual(encoder.layer[1]!.outputLayer.denseKernel.shape, [12, 8]);
    equal(encoder.trainableWeights.length, 24);
    encoder.trainable = false;
    equal(encoder.trainableWeights.length, 0);
    equal(encoder.nonTrainableWeights.length, 24);
  } finally {
    for (const w of encoder.weights) w.dispose();
  }
});

Deno.test("layers are registered and rebuild from getConfig", () => {
  const encoder = new BertEncoder({ ...LAYER_ARGS, numHiddenLayers: 1, name: "enc", seed: 5 });
  const config = encoder.getConfig();
  equal(config["numHiddenLayers"], 1);
  equal(config["hiddenAct"], "gelu");
  const registry = tf.serialization.SerializationMap.getMap().classNameMap;
  for (
    const name of [
      "BertEmbeddings",
      "BertSelfAttention",
      "BertSelfOutput",
      "BertAttention",
      "BertIntermediate",
      "BertOutput",
      "BertLayer",
      "BertEncoder",
      "DPRPooler",
      "DPRSpanHead",
    ]
  ) {
    ok(registry[name] !== undefined, `${name} is registered`);
  }
  // What tf.loadLayersModel does: look the class up by name, then fromConfig.
  const [cls, fromConfig] = registry["BertEncoder"]!;
  const rebuilt = fromConfig(cls, config) as unknown as BertEncoder;
  rebuilt.build([null, null, 8]);
  encoder.build([null, null, 8]);
  try {
    deepEqual(
      rebuilt.weights.map((w) => [w.originalName, w.shape]),
      encoder.weights.map((w) => [w.originalName, w.shape]),
    );
    // Same seed and names: same initial values.
    deepEqual(
      rebuilt.layer[0]!.attention.self.qkvKernel.read().dataSync(),
      encoder.layer[0]!.attention.self.qkvKernel.read().dataSync(),
    );
  } finally {
    for (const w of [...encoder.weights, ...rebuilt.weights]) w.dispose();
  }
});

Deno.test("layers called with tensors (apply) agree with the model path and reject bad sizes", () => {
  throws(
    () =>
      new BertSelfAttention({ hiddenSize: 30, numAttentionHeads: 4, attentionProbsDropoutProb: 0 }),
    {
      name: "RangeError",
      message: /hiddenSize must be divisible by numAttentionHeads: received 30 and 4/,
    },
  );
  const embeddings = new BertEmbeddings({
    vocabSize: 20,
    hiddenSize: 8,
    maxPositionEmbeddings: 6,
    typeVocabSize: 2,
    layerNormEps: 1e-12,
    hiddenDropoutProb: 0.1,
    name: "emb",
  });
  const encoder = new BertEncoder({ ...LAYER_ARGS, numHiddenLayers: 2, name: "enc" });
  const before = tf.memory().numTensors;
  const ids = tf.tensor2d([[1, 5, 3, 0], [2, 2, 7, 9]], undefined, "int32");
  const types = tf.tensor2d([[0, 0, 1, 1], [0, 1, 1, 1]], undefined, "int32");
  const mask = tf.tensor2d([[1, 1, 1, 0], [1, 1, 1, 1]], undefined, "int32");
  const applied = tf.tidy(() => {
    const h = embeddings.apply([ids, types]) as tf.Tensor;
    return encoder.apply([h, mask]) as tf.Tensor;
  });
  deepEqual(applied.shape, [2, 4, 8]);
  const direct = tf.tidy(() => {
    const ctx = { training: false, counter: 0 };
    const h = embeddings.forward({ inputIds: ids, tokenTypeIds: types }, ctx);
    const out = encoder.forward(h, attentionMaskBias(mask), 2, 4, ctx);
    return tf.reshape(out.lastHidden, [2, 4, 8]);
  });
  deepEqual(applied.dataSync(), direct.dataSync());
  tf.dispose([ids, types, mask, applied, direct]);
  const weights = embeddings.weights.length + encoder.weights.length;
  equal(tf.memory().numTensors, before + weights, "only the weights built by apply remain");
  for (const w of [...embeddings.weights, ...encoder.weights]) w.dispose();
});
