import { deepEqual, equal, throws } from "node:assert/strict";
import { DPRConfig } from "../../models/config.ts";
import { FIXTURES } from "./golden_helpers.ts";

Deno.test("DPRConfig defaults equal transformers' DPRConfig", () => {
  const c = new DPRConfig();
  deepEqual(
    {
      vocabSize: c.vocabSize,
      hiddenSize: c.hiddenSize,
      numHiddenLayers: c.numHiddenLayers,
      numAttentionHeads: c.numAttentionHeads,
      intermediateSize: c.intermediateSize,
      hiddenAct: c.hiddenAct,
      hiddenDropoutProb: c.hiddenDropoutProb,
      attentionProbsDropoutProb: c.attentionProbsDropoutProb,
      maxPositionEmbeddings: c.maxPositionEmbeddings,
      typeVocabSize: c.typeVocabSize,
      initializerRange: c.initializerRange,
      layerNormEps: c.layerNormEps,
      padTokenId: c.padTokenId,
      projectionDim: c.projectionDim,
      positionEmbeddingType: c.positionEmbeddingType,
    },
    {
      vocabSize: 30522,
      hiddenSize: 768,
      numHiddenLayers: 12,
      numAttentionHeads: 12,
      intermediateSize: 3072,
      hiddenAct: "gelu",
      hiddenDropoutProb: 0.1,
      attentionProbsDropoutProb: 0.1,
      maxPositionEmbeddings: 512,
      typeVocabSize: 2,
      initializerRange: 0.02,
      layerNormEps: 1e-12,
      padTokenId: 0,
      projectionDim: 0,
      positionEmbeddingType: "absolute",
    },
  );
  equal(c.headSize, 64);
});

Deno.test("DPRConfig.fromJSON reads a fixture config.json and toJSON writes it back", () => {
  const json = JSON.parse(
    Deno.readTextFileSync(`${FIXTURES}models/dpr-ctx_encoder-tiny/config.json`),
  );
  const c = DPRConfig.fromJSON(json);
  equal(c.hiddenSize, 32);
  equal(c.intermediateSize, 37);
  equal(c.vocabSize, 1575);
  deepEqual(c.architectures, ["DPRContextEncoder"]);
  // Unknown keys (architectures, model_type, torch_dtype, ...) survive the round trip.
  deepEqual(c.toJSON(), json);
});

Deno.test("DPRConfig.fromJSON fills missing keys with defaults and keeps unknown ones", () => {
  const c = DPRConfig.fromJSON({ hidden_size: 64, num_attention_heads: 4, foo: [1] });
  equal(c.hiddenSize, 64);
  equal(c.numHiddenLayers, 12);
  deepEqual(c.extra, { foo: [1] });
  deepEqual(c.architectures, []);
  equal(c.toJSON()["foo"] !== undefined, true);
});

Deno.test("DPRConfig rejects invalid values with errors naming field and value", () => {
  throws(() => new DPRConfig({ hiddenSize: 30, numAttentionHeads: 4 }), {
    name: "RangeError",
    message: /hiddenSize must be divisible by numAttentionHeads: received 30 and 4/,
  });
  throws(() => new DPRConfig({ hiddenAct: "gelu_unknown" }), {
    name: "RangeError",
    message: /unsupported activation.*gelu_unknown/,
  });
  throws(() => DPRConfig.fromJSON({ vocab_size: 1e10 }), {
    name: "RangeError",
    message: /vocabSize x hiddenSize would hold 7680000000000 values, more than the 2147483647/,
  });
  throws(() => new DPRConfig({ positionEmbeddingType: "relative_key" }), {
    name: "RangeError",
    message: /unsupported position embedding type.*relative_key/,
  });
  throws(() => new DPRConfig({ numHiddenLayers: 1.5 }), /numHiddenLayers must be an integer/);
  throws(() => new DPRConfig({ vocabSize: 0 }), /vocabSize must be an integer >= 1/);
  throws(() => new DPRConfig({ hiddenDropoutProb: 1 }), /hiddenDropoutProb must be a number/);
  throws(() => new DPRConfig({ padTokenId: 10, vocabSize: 10 }), /padTokenId must be below/);
  throws(() => new DPRConfig({ projectionDim: -1 }), /projectionDim must be an integer >= 0/);
  throws(() => DPRConfig.fromJSON({ hidden_size: "768" }), {
    name: "TypeError",
    message: /hiddenSize must be a number: received "768"/,
  });
  throws(() => DPRConfig.fromJSON([1, 2]), { name: "TypeError", message: /JSON object/ });
});
