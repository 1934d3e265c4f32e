/**
 * Dense Passage Retrieval (Karpukhin et al., 2020) for Deno on TensorFlow.js: the Hugging Face
 * transformers DPR family (question encoder, context encoder, reader and their tokenizers) at
 * numerical parity, checkpoint conversion, a dense index, and open-domain QA end to end.
 *
 * ```ts
 * import { DPRConfig, DPRQuestionEncoder, setBackend } from "@dpr/dpr";
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
/**
 * TensorFlow.js core (kept here for existing imports; left off the documentation page, where its
 * thousand symbols would drown this package's). New code imports it from `@dpr/dpr/tf`.
 * @ignore
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
export {
  AUTO_ORDER,
  BACKEND_NAMES,
  type BackendName,
  type ConcreteBackendName,
} from "./backend/backend_name.ts";
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
export type { DPRInputs, EmbedsInput, IntMatrixInput } from "./models/inputs.ts";
export type { FromPretrainedOptions, PretrainedSource } from "./models/from_pretrained.ts";
export { encoderLayersModel, readerLayersModel } from "./models/layers_model.ts";

export { BertEmbeddings } from "./layers/bert_embeddings.ts";
export {
  type AttentionImplementation,
  BertSelfAttention,
  setAttentionImplementation,
} from "./layers/bert_self_attention.ts";
export { BertSelfOutput } from "./layers/bert_self_output.ts";
export { BertAttention } from "./layers/bert_attention.ts";
export { BertIntermediate } from "./layers/bert_intermediate.ts";
export { BertOutput } from "./layers/bert_output.ts";
export { BertLayer } from "./layers/bert_layer.ts";
export {
  BertEncoder,
  type BertEncoderOptions,
  type PausingOptions,
  STEP_MULTIPLY_ADDS,
} from "./layers/bert_encoder.ts";
export { DPRPooler } from "./layers/dpr_pooler.ts";
export { DPRSpanHead } from "./layers/dpr_span_head.ts";
export { ACTIVATIONS, getActivation } from "./layers/activations.ts";
export type { LoadStateDictOptions, WeightDtype } from "./models/hf_weight_map.ts";

export type { RawTensor, StateDict } from "./io/state_dict.ts";
export { type FileSource, LocalFolderSource } from "./io/file_source.ts";
export { UrlSource } from "./io/url_source.ts";
export { HubSource } from "./io/hub_source.ts";
export { type PretrainedOptions, resolvePretrained, resolveSource } from "./io/resolve.ts";
export { convertedFolderHandler, type ModelIOHandler } from "./io/tfjs_io.ts";
export { readSafetensors, writeSafetensors } from "./io/safetensors.ts";
export { readSafetensorsFile } from "./io/safetensors_source.ts";
export { readPytorchCheckpoint } from "./io/pytorch_pickle.ts";
export { inferDprConfig, readDprOriginalCheckpoint, selectEncoder } from "./io/dpr_original.ts";
export { convertCheckpoint, type ConvertOptions, type ConvertResult } from "./convert/convert.ts";
export { saveSafetensors } from "./io/save_safetensors.ts";

export { DenseIndex } from "./index/dense_index.ts";
export type {
  DenseIndexOptions,
  DenseSearchOptions,
  IndexManifest,
  RowMetadata,
  SearchHit,
  VectorStorage,
} from "./index/dense_index.ts";
export { decodeNpy, encodeNpy, parseNpyHeader } from "./index/npy.ts";
export { passageFields } from "./index/vector_index.ts";
export type {
  EncodeJobLedger,
  StoredPassage,
  VectorBatch,
  VectorIndex,
} from "./index/vector_index.ts";
export { isPostgresUrl, openIndex, type OpenIndexOptions } from "./index/open_index.ts";
export type { PgVectorIndexOptions, PgVectorStorage } from "./index/pgvector_index.ts";
export { OpenDomainQA } from "./pipeline/open_domain_qa.ts";
export type {
  Answer,
  AnswerOptions,
  OpenDomainQAOptions,
  OpenDomainQAParts,
  RetrievedPassage,
} from "./pipeline/open_domain_qa.ts";
export {
  DEFAULT_MODELS,
  DprEncoderAdapter,
  DprReaderAdapter,
  loadDenseEncoder,
  loadPassageReader,
  modelSubfolder,
} from "./pipeline/dpr_models.ts";
export type {
  DprModelSources,
  EncodePassagesOptions,
  EncodeTextsOptions,
  ModelDtypes,
  PassageText,
} from "./pipeline/dpr_models.ts";
export { embedEncoded, padBatch, tokenizePassage } from "./pipeline/dense_encoder.ts";
export type {
  DenseEncoder,
  EncodedInput,
  PaddedBatch,
  PassageTokenTypes,
} from "./pipeline/dense_encoder.ts";
export type {
  PassageReader,
  ReaderPassage,
  ReaderSpan,
  ReadOptions,
} from "./pipeline/passage_reader.ts";
export { mergeShards, runEncodeJob } from "./pipeline/encode_passages.ts";
export type { MergeOptions } from "./pipeline/encode_passages.ts";
export type { EncodeJobOptions, EncodeJobResult } from "./pipeline/encode_passages.ts";
export { readPassages } from "./pipeline/passages.ts";
export type { Passage, PassageFormat, ReadPassagesOptions } from "./pipeline/passages.ts";
export { MicroBatcher } from "./pipeline/micro_batcher.ts";
export { createHandler, type HandlerOptions } from "./server/handler.ts";
export { exactMatch, hasAnswer, type MatchMode, normalizeAnswer } from "./eval/answer_match.ts";
export { parseQaFile, type QaPair, readQaFile } from "./eval/qa_file.ts";
export { exactMatchRate, retrievalAccuracy } from "./eval/retrieval_accuracy.ts";

// Types that the API above takes or returns, exported so that every one is documented.
export {
  BertBaseLayer,
  type BertBaseLayerArgs,
  BertCompositeLayer,
  type ForwardContext,
  type WeightInit,
} from "./layers/bert_base_layer.ts";
export type { Activation } from "./layers/activations.ts";
export type { AttentionOutput, BertAttentionArgs } from "./layers/bert_attention.ts";
export type { BertEmbeddingsArgs, BertEmbeddingsInputs } from "./layers/bert_embeddings.ts";
export type { BertEncoderArgs, BertEncoderOutput } from "./layers/bert_encoder.ts";
export type { BertIntermediateArgs } from "./layers/bert_intermediate.ts";
export type { BertLayerArgs } from "./layers/bert_layer.ts";
export type { BertSelfAttentionArgs, SelfAttentionOutput } from "./layers/bert_self_attention.ts";
export type { BertSelfOutputArgs } from "./layers/bert_self_output.ts";
export type { DPRPoolerArgs } from "./layers/dpr_pooler.ts";
export type { DPRSpanHeadArgs, SpanHeadOutput } from "./layers/dpr_span_head.ts";
export type { WeightBinding } from "./models/hf_weight_map.ts";
export type { InputDefaults } from "./models/inputs.ts";
export type { EncoderLayers, ReaderLayers } from "./models/layers_model.ts";
export type { ByteReader } from "./io/byte_reader.ts";
export type { DprOriginalCheckpoint, DprOriginalKind } from "./io/dpr_original.ts";
export type { HubOptions } from "./io/hub_source.ts";
export type { Progress } from "./io/progress.ts";
export type { ReadPytorchOptions } from "./io/pytorch_pickle.ts";
export type { ResolvedPretrained, WeightFormat } from "./io/resolve.ts";
export type { ReadSafetensorsOptions } from "./io/safetensors.ts";
export type { NonFiniteOption } from "./io/finite_weights.ts";
export type { EncodedTensor, WriteSafetensorsOptions } from "./io/safetensors_write.ts";
export type { SaveSafetensorsOptions, StateDictModel } from "./io/save_safetensors.ts";
export type { Quantization } from "./io/tfjs_artifacts.ts";
export type { WeightLayout } from "./convert/convert.ts";
export type { IndexFiles } from "./index/index_files.ts";
export type { NpyDtype, NpyHeader } from "./index/npy.ts";
export type { MetadataFieldType } from "./index/row_metadata.ts";
export type { RetrievalAccuracy } from "./eval/retrieval_accuracy.ts";
export type { RequestLogEntry } from "./server/request_log.ts";
// The tfjs types in this package's signatures (the rest of tfjs: `@dpr/dpr/tf`).
export type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from "@tensorflow/tfjs-core";
export type { LayersModel, LayerVariable } from "@tensorflow/tfjs-layers";
export type { Shape } from "@tensorflow/tfjs-layers";
export type { Layer } from "@tensorflow/tfjs-layers/dist/engine/topology";
export type { ConfigDict } from "@tensorflow/tfjs-core/dist/serialization";
