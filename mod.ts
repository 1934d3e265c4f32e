/**
 * Dense Passage Retrieval (Karpukhin et al., 2020) for Deno on TensorFlow.js: the Hugging Face
 * transformers DPR family (question encoder, context encoder, reader and their tokenizers) at
 * numerical parity, checkpoint conversion, a dense index, and open-domain QA end to end.
 *
 * ```ts
 * import { DPRConfig, DPRQuestionEncoder, setBackend } from "./mod.ts";
 *
 * await setBackend("cpu");
 * const config = new DPRConfig({
 *   vocabSize: 100, hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32,
 * });
 * const encoder = new DPRQuestionEncoder(config, { seed: 0 });
 * const { poolerOutput } = encoder.forward({ inputIds: [[1, 7, 9, 2]] });
 * console.log(poolerOutput.shape); // [1, 16]
 * poolerOutput.dispose();
 * encoder.dispose();
 * ```
 *
 * With real checkpoints: `await DPRQuestionEncoder.fromPretrained("path/or/org-name")`.
 *
 * @module
 */
export { tf } from "./backend/tf.ts";
export {
  type BackendAttempt,
  readBackendEnv,
  setBackend,
  type SetBackendOptions,
  type SetBackendResult,
} from "./backend/set_backend.ts";
export { type BackendInfo, getBackendInfo } from "./backend/backend_info.ts";
export { BACKEND_NAMES, type BackendName } from "./backend/backend_name.ts";
export { BackendUnavailableError } from "./backend/backend_unavailable_error.ts";

export * from "./tokenizer/mod.ts";

export { DPRConfig, type DPRConfigInit } from "./models/config.ts";
export {
  type DPRArchitecture,
  DPREncoder,
  type DPREncoderOutput,
  type DPRForwardOptions,
  type DPRModelOptions,
} from "./models/dpr_encoder.ts";
export { DPRQuestionEncoder } from "./models/dpr_question_encoder.ts";
export { DPRContextEncoder } from "./models/dpr_context_encoder.ts";
export { DPRReader, type DPRReaderInputs, type DPRReaderOutput } from "./models/dpr_reader.ts";
export type { DPRInputs } from "./models/inputs.ts";
export type { FromPretrainedOptions, PretrainedSource } from "./models/from_pretrained.ts";
export { encoderLayersModel, readerLayersModel } from "./models/layers_model.ts";

export { BertEmbeddings } from "./layers/bert_embeddings.ts";
export { BertSelfAttention } from "./layers/bert_self_attention.ts";
export { BertSelfOutput } from "./layers/bert_self_output.ts";
export { BertAttention } from "./layers/bert_attention.ts";
export { BertIntermediate } from "./layers/bert_intermediate.ts";
export { BertOutput } from "./layers/bert_output.ts";
export { BertLayer } from "./layers/bert_layer.ts";
export { BertEncoder } from "./layers/bert_encoder.ts";

export type { RawTensor, StateDict } from "./convert/state_dict.ts";
export { type FileSource, LocalFolderSource } from "./convert/file_source.ts";
export { UrlSource } from "./convert/url_source.ts";
export { HubSource } from "./convert/hub_source.ts";
export { type PretrainedOptions, resolvePretrained } from "./convert/resolve.ts";
export { readSafetensors, writeSafetensors } from "./convert/safetensors.ts";
export { readPytorchCheckpoint } from "./convert/pytorch_pickle.ts";
export { readDprOriginalCheckpoint } from "./convert/dpr_original.ts";
export { convertCheckpoint, type ConvertOptions, type ConvertResult } from "./convert/convert.ts";
export { saveSafetensors } from "./convert/save_safetensors.ts";

export { DenseIndex, type SearchHit } from "./index/dense_index.ts";
export { type Answer, OpenDomainQA, type RetrievedPassage } from "./pipeline/open_domain_qa.ts";
export { mergeShards, runEncodeJob } from "./pipeline/encode_passages.ts";
export { createHandler, type HandlerOptions } from "./server/handler.ts";
export { exactMatch, hasAnswer } from "./eval/answer_match.ts";
export { retrievalAccuracy } from "./eval/retrieval_accuracy.ts";
export { readQaFile } from "./eval/qa_file.ts";
