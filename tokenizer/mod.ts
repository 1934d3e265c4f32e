/**
 * BERT / DPR tokenizers in pure TypeScript, at parity with Hugging Face transformers (ids,
 * strings and, for the `Fast` classes, character offsets). No native code: runs on Deno Deploy.
 *
 * ```ts
 * import { BertTokenizer } from "@dpr/dpr/tokenizer";
 * const tokenizer = new BertTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hi"]);
 * tokenizer.encode("Hi").inputIds; // [2, 5, 3]
 * ```
 *
 * Answer text from the reader: encode with a Fast reader tokenizer and offsets, then each span
 * of `decodeBestSpans` carries `passageCharStart`/`passageCharEnd`, so
 * `texts[span.docId].slice(span.passageCharStart, span.passageCharEnd)` is the exact original
 * substring (accents, case and spacing kept), whereas `span.text` is the decoded, lower-cased
 * WordPiece text that Hugging Face returns. Use `answerSearch: "passage"` to keep answers out of
 * the title.
 *
 * ```ts ignore
 * const reader = await DPRReaderTokenizerFast.fromPretrained("models/dpr-reader");
 * const input = reader.encode({ questions, titles, texts }, {
 *   padding: true, truncation: true, maxLength: 350, returnOffsetsMapping: true,
 * });
 * const spans = reader.decodeBestSpans(input, readerOutput, { answerSearch: "passage" });
 * const answer = texts[spans[0].docId].slice(spans[0].passageCharStart, spans[0].passageCharEnd);
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
export type { TokenSequence, TruncationOption, TruncationStrategy } from "./truncation.ts";
export type { TokenizerTensors } from "./tensors.ts";
export type { TokenizedRow } from "./encode_rows.ts";
export { Vocabulary } from "./vocab.ts";
export {
  DPRReaderTokenizer,
  DPRReaderTokenizerFast,
  type ReaderEncodeOptions,
  type ReaderEncoding,
  type ReaderTensors,
  type ReaderTexts,
} from "./dpr_reader_tokenizer.ts";
export {
  decodeBestSpans,
  type DecodeBestSpansOptions,
  type LogitsLike,
  type ReaderInput,
  type ReaderOutput,
  type SpanDecoder,
  type SpanPrediction,
} from "./decode_best_spans.ts";
