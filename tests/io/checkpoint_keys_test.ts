import { deepEqual, equal, throws } from "node:assert/strict";
import {
  ARCHITECTURE_PREFIXES,
  checkArchitectures,
  isIgnoredKey,
} from "../../io/checkpoint_keys.ts";

Deno.test("ignored keys: buffers and the BERT pooler's weights, and nothing else", () => {
  for (
    const key of [
      "question_encoder.bert_model.embeddings.position_ids",
      "ctx_encoder.bert_model.embeddings.token_type_ids",
      "span_predictor.encoder.bert_model.pooler.dense.weight",
      "question_encoder.bert_model.pooler.dense.bias",
      "position_ids",
    ]
  ) equal(isIgnoredKey(key), true, key);
  for (
    const key of [
      "question_encoder.bert_model.embeddings.token_type_embeddings.weight",
      "question_encoder.bert_model.embeddings.position_embeddings.weight",
      "question_encoder.bert_model.encoder.layer.0.attention.self.query.weight",
      "question_encoder.encode_proj.weight",
      // Only the embeddings' buffer, and only the pooler's two weights, are ignored.
      "question_encoder.bert_model.token_type_ids",
      "question_encoder.bert_model.pooler.dense.extra",
    ]
  ) equal(isIgnoredKey(key), false, key);
});

Deno.test("architectures: one prefix each; a checkpoint of another class is refused", () => {
  deepEqual(Object.keys(ARCHITECTURE_PREFIXES), [
    "DPRQuestionEncoder",
    "DPRContextEncoder",
    "DPRReader",
  ]);
  checkArchitectures([], "DPRReader", "x");
  checkArchitectures(["DPRReader"], "DPRReader", "x");
  throws(() => checkArchitectures(["DPRContextEncoder"], "DPRQuestionEncoder", "my-folder"), {
    name: "TypeError",
    message:
      'Cannot load DPRQuestionEncoder from my-folder: config.json\'s architectures is ["DPRContextEncoder"], so it holds a DPRContextEncoder checkpoint, not a DPRQuestionEncoder',
  });
});
