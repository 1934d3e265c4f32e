/**
 * Standard tfjs layers models of the DPR models, sharing their weights, so they can be saved as
 * tfjs layers-model artifacts (`model.json` + weights) and reloaded with `tf.loadLayersModel`
 * once this package's layers are registered (importing any model module registers them).
 * @module
 */
import { tfl } from "../backend/tf.ts";
import type { BertEmbeddings } from "../layers/bert_embeddings.ts";
import type { BertEncoder } from "../layers/bert_encoder.ts";
import type { DPRPooler } from "../layers/dpr_pooler.ts";
import type { DPRSpanHead } from "../layers/dpr_span_head.ts";

/** The layers of an encoder that its layers model reuses (a `DPREncoder` has them). */
export interface EncoderLayers {
  /** Token, position and type embeddings. */
  readonly embeddings: BertEmbeddings;
  /** The BERT layer stack. */
  readonly encoder: BertEncoder;
  /** The [CLS] pooler (with the optional projection). */
  readonly pooler: DPRPooler;
  /** The class the model is named after. */
  readonly architecture: { readonly name: string };
}

/** The layers of a reader that its layers model reuses (a `DPRReader` has them). */
export interface ReaderLayers {
  /** The reader's BERT (its pooler is unused). */
  readonly encoder: Pick<EncoderLayers, "embeddings" | "encoder">;
  /** The start/end/relevance head. */
  readonly spanHead: DPRSpanHead;
}

/**
 * A functional model of an encoder: int32 inputs `input_ids`, `attention_mask`,
 * `token_type_ids` (each [batch, seq]), output the pooler output [batch, hidden or projection].
 * The mask must be given explicitly (the eager `forward` derives it from padding).
 * @param model the encoder whose layers (and weights) the model reuses
 * @returns a `tf.LayersModel`
 */
export function encoderLayersModel(model: EncoderLayers): tfl.LayersModel {
  const inputIds = tfl.input({ shape: [null], dtype: "int32", name: "input_ids" });
  const attentionMask = tfl.input({ shape: [null], dtype: "int32", name: "attention_mask" });
  const tokenTypeIds = tfl.input({ shape: [null], dtype: "int32", name: "token_type_ids" });
  const embedded = model.embeddings.apply([inputIds, tokenTypeIds]) as tfl.SymbolicTensor;
  const hidden = model.encoder.apply([embedded, attentionMask]) as tfl.SymbolicTensor;
  const pooled = model.pooler.apply(hidden) as tfl.SymbolicTensor;
  return tfl.model({
    inputs: [inputIds, attentionMask, tokenTypeIds],
    outputs: pooled,
    name: model.architecture.name,
  });
}

/**
 * A functional model of the reader: int32 inputs `input_ids`, `attention_mask` ([n, seq]),
 * outputs `[startLogits [n, seq], endLogits [n, seq], relevanceLogits [n]]`.
 * @param reader the reader whose layers (and weights) the model reuses
 * @returns a `tf.LayersModel`
 */
export function readerLayersModel(reader: ReaderLayers): tfl.LayersModel {
  const inputIds = tfl.input({ shape: [null], dtype: "int32", name: "input_ids" });
  const attentionMask = tfl.input({ shape: [null], dtype: "int32", name: "attention_mask" });
  const embedded = reader.encoder.embeddings.apply([inputIds]) as tfl.SymbolicTensor;
  const hidden = reader.encoder.encoder.apply([embedded, attentionMask]) as tfl.SymbolicTensor;
  const outputs = reader.spanHead.apply(hidden) as tfl.SymbolicTensor[];
  return tfl.model({ inputs: [inputIds, attentionMask], outputs, name: "DPRReader" });
}
