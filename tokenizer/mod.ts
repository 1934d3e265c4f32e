/**
 * BERT / DPR tokenizers in pure TypeScript, at parity with Hugging Face transformers.
 *
 * ```ts
 * import { BertTokenizer } from "./mod.ts";
 * const tokenizer = new BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi"]);
 * tokenizer.encode("Hi").inputIds; // [2, 5, 3]
 * ```
 * @module
 */
export {
  type BatchEncoding,
  BertTokenizer,
  BertTokenizerFast,
  type BertTokenizerOptions,
  type DecodeOptions,
  type EncodeOptions,
  type Encoding,
  type FlatEncodeOptions,
  type FlatEncoding,
  type TensorEncodeOptions,
} from "./bert_tokenizer.ts";
export {
  DPRContextEncoderTokenizer,
  DPRContextEncoderTokenizerFast,
  DPRQuestionEncoderTokenizer,
  DPRQuestionEncoderTokenizerFast,
} from "./dpr_tokenizers.ts";
export type { PaddingOption, PaddingStrategy } from "./padding.ts";
export type { TruncationOption, TruncationStrategy } from "./truncation.ts";
export type { TokenizerTensors } from "./tensors.ts";
export { Vocabulary } from "./vocab.ts";
export {
  DPRReaderTokenizer,
  DPRReaderTokenizerFast,
  type ReaderEncodeOptions,
  type ReaderEncoding,
  type ReaderTensors,
  type ReaderTexts,
} from "./dpr_reader_tokenizer.ts";
export type {
  DecodeBestSpansOptions,
  LogitsLike,
  ReaderInput,
  ReaderOutput,
  SpanPrediction,
} from "./decode_best_spans.ts";
