/**
 * The options and results of a BERT tokenizer's `encode`, `decode` and `encodeFlat`.
 * @module
 */
import type { PaddingOption } from "./padding.ts";
import type { TruncationOption } from "./truncation.ts";

/** Options of `BertTokenizer.encode`. */
export interface EncodeOptions {
  /** Second sequence (a string, or one per text for a batch). */
  textPair?: string | readonly string[];
  /** Add `[CLS]`/`[SEP]`. Default `true`. */
  addSpecialTokens?: boolean;
  /** `true`/`"longest"`, `"max_length"` or `false` (default). */
  padding?: PaddingOption;
  /**
   * `true`/`"longest_first"`, `"only_first"`, `"only_second"` or `false`. When left out and
   * `maxLength` is given without padding, `"longest_first"` (as Hugging Face).
   */
  truncation?: TruncationOption;
  /** Length to truncate or pad to; defaults to `modelMaxLength` when needed. */
  maxLength?: number;
  /** Round padded lengths up to a multiple of this. */
  padToMultipleOf?: number;
  /** Return `tokenTypeIds` (default: when the model takes them). */
  returnTokenTypeIds?: boolean;
  /** Return `attentionMask` (default `true`). */
  returnAttentionMask?: boolean;
  /** Return `specialTokensMask`. Default `false`. */
  returnSpecialTokensMask?: boolean;
  /** Return `offsetMapping` (Fast tokenizers only). Default `false`. */
  returnOffsetsMapping?: boolean;
  /** Unit of offsets: JS string indices (`"utf16"`, default) or code points (Python). */
  offsetsUnit?: "utf16" | "codepoint";
}

/** Options of `BertTokenizer.encode` that ask for tfjs tensors. */
export interface TensorEncodeOptions extends EncodeOptions {
  /** Return int32 tfjs tensors of shape `[batch, length]`. */
  returnTensors: "tf";
}

/** The encoding of one text (or pair). */
export interface Encoding {
  /** Token ids. */
  inputIds: number[];
  /** 0 for the first sequence, 1 for the second. */
  tokenTypeIds?: number[];
  /** 1 for real tokens, 0 for padding. */
  attentionMask?: number[];
  /** 1 for added special tokens and padding. */
  specialTokensMask?: number[];
  /** `[start, end)` of each token in its own text; `[0, 0]` for added tokens. */
  offsetMapping?: [number, number][];
}

/** The encoding of a batch: one row per text. */
export interface BatchEncoding {
  /** Token ids. */
  inputIds: number[][];
  /** 0 for the first sequence, 1 for the second. */
  tokenTypeIds?: number[][];
  /** 1 for real tokens, 0 for padding. */
  attentionMask?: number[][];
  /** 1 for added special tokens and padding. */
  specialTokensMask?: number[][];
  /** `[start, end)` of each token in its own text; `[0, 0]` for added tokens. */
  offsetMapping?: [number, number][][];
}

/** Options of `BertTokenizer.decode`. */
export interface DecodeOptions {
  /** Leave out special tokens (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, ...). Default `false`. */
  skipSpecialTokens?: boolean;
  /** Remove spaces before punctuation (default: the tokenizer's setting, `true`). */
  cleanUpTokenizationSpaces?: boolean;
}

/** Options of `BertTokenizer.encodeFlat`. */
export interface FlatEncodeOptions {
  /** Second sequence of each row (e.g. passage texts after titles). */
  textPair?: readonly string[];
  /** Truncate to this length (longest first); default `modelMaxLength`. */
  maxLength?: number;
  /** Round the padded length up to a multiple of this. */
  padToMultipleOf?: number;
}

/** A batch encoded into flat row-major arrays, ready for tensors. */
export interface FlatEncoding {
  /** Rows. */
  batchSize: number;
  /** Padded length of every row. */
  sequenceLength: number;
  /** `[batchSize * sequenceLength]` token ids. */
  inputIds: Int32Array;
  /** `[batchSize * sequenceLength]` token types. */
  tokenTypeIds: Int32Array;
  /** `[batchSize * sequenceLength]` 1 for tokens, 0 for padding. */
  attentionMask: Int32Array;
}
