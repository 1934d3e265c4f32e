/**
 * `DPRReaderTokenizer`: encodes a question with passages as
 * `[CLS] question [SEP] title [SEP] text` rows (texts get no special tokens of their own), and
 * turns the reader's logits into answer spans (`decodeBestSpans`), as Hugging Face does.
 * @module
 */
import type { FileSource } from "../io/file_source.ts";
import {
  type BatchEncoding,
  BertTokenizer,
  type BertTokenizerOptions,
  type EncodeOptions,
  type Encoding,
  fastTokenizerOptions,
  type TensorEncodeOptions,
} from "./bert_tokenizer.ts";
import {
  decodeBestSpans,
  type DecodeBestSpansOptions,
  type ReaderInput,
  type ReaderOutput,
  type SpanPrediction,
} from "./decode_best_spans.ts";
import { paddedLength, type PaddingOption, paddingStrategy, padRow } from "./padding.ts";
import { utf16ToCodePointOffsets } from "./pipeline.ts";
import type { HubOptions } from "../io/hub_source.ts";
import { loadTokenizerFiles } from "./pretrained.ts";
import { type TokenizerTensors, toTensors } from "./tensors.ts";
import type { TruncationOption } from "./truncation.ts";
import type { Vocabulary } from "./vocab.ts";

/** The reader's inputs: one question (or one per passage), titles and texts. */
export interface ReaderTexts {
  /** The question, or one per passage. */
  questions: string | readonly string[];
  /** Passage titles (one per passage). */
  titles?: string | readonly string[];
  /** Passage texts (one per passage). */
  texts?: string | readonly string[];
}

/** Options of {@linkcode DPRReaderTokenizer.encode} for a reader input. */
export interface ReaderEncodeOptions {
  /** `true`/`"longest"`, `"max_length"` or `false` (default). */
  padding?: PaddingOption;
  /** Cut rows to `maxLength` (the end of the text goes first). Default `false`. */
  truncation?: TruncationOption;
  /** Row length limit for truncation and `"max_length"` padding. */
  maxLength?: number;
  /**
   * Only used when titles or texts are missing (plain BERT encoding); with both, Hugging Face
   * ignores it, and so does this.
   */
  padToMultipleOf?: number;
  /** Return `attentionMask` (Hugging Face returns it even when `false`; so does this). */
  returnAttentionMask?: boolean;
  /** Return `offsetMapping` (Fast tokenizer only). */
  returnOffsetsMapping?: boolean;
  /** Offsets in UTF-16 units (default) or code points. */
  offsetsUnit?: "utf16" | "codepoint";
  /** Return tfjs tensors (`"tf"`). */
  returnTensors?: "tf";
}

/** Rows of `[CLS] question [SEP] title [SEP] text`. */
export interface ReaderEncoding {
  /** Token ids, one row per passage. */
  inputIds: number[][];
  /** 1 for tokens other than `[PAD]`, 0 for `[PAD]` and padding. */
  attentionMask: number[][];
  /** Index of each row's first passage-text token (the row length when nothing is left). */
  passageStarts: number[];
  /**
   * Offsets of each token in its own string: question tokens in the question, title tokens in
   * the title, text tokens in the text; `[0, 0]` for added tokens and padding.
   */
  offsetMapping?: [number, number][][];
}

/** {@linkcode ReaderEncoding} as int32 tensors (plus the plain `passageStarts`). */
export interface ReaderTensors extends TokenizerTensors {
  /** Index of each row's first passage-text token. */
  passageStarts: number[];
}

/**
 * Tokenizer of the DPR reader.
 *
 * @example
 * ```ts
 * import { DPRReaderTokenizer } from "@dpr/dpr/tokenizer";
 * const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "who", "?", "haddaway", "sang"];
 * const tokenizer = new DPRReaderTokenizer(vocab);
 * const encoded = tokenizer.encode({ questions: "Who?", titles: ["Haddaway"], texts: ["sang"] });
 * encoded.inputIds; // [[2, 5, 6, 3, 7, 3, 8]]
 * encoded.passageStarts; // [6]
 * ```
 */
export class DPRReaderTokenizer extends BertTokenizer {
  /** The reader takes no token types. */
  override readonly modelInputNames: readonly string[] = ["input_ids", "attention_mask"];

  /**
   * Builds the tokenizer from a vocabulary.
   * @param vocab the vocabulary: a `Vocabulary`, the tokens in id order, or a `vocab.txt` text
   * @param options normalization, special tokens and limits
   */
  constructor(vocab: Vocabulary | readonly string[] | string, options: BertTokenizerOptions = {}) {
    super(vocab, options);
  }

  /**
   * Loads the tokenizer from a model folder.
   * @param source a folder path, an http(s) URL, a hub id or a {@linkcode FileSource}
   * @param options revision, cache folder, hub endpoint and token for URLs and hub ids
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
    options: HubOptions = {},
  ): Promise<DPRReaderTokenizer> {
    const files = await loadTokenizerFiles(source, false, options);
    return new DPRReaderTokenizer(files.vocab, files.options);
  }

  /**
   * Encodes plain text like `BertTokenizer.encode`, or a reader input: with both titles and
   * texts, one `[CLS] question [SEP] title [SEP] text` row per passage (a single question is
   * repeated); with only one of them, the BERT pair encoding; with neither, the question alone.
   * @param input text(s), or `{ questions, titles, texts }`
   * @param options padding, truncation (rows are cut at `maxLength`), offsets, tensors
   * @returns the encoding
   */
  override encode(text: string, options?: EncodeOptions): Encoding;
  /** Encodes a batch of texts like `BertTokenizer.encode`. */
  override encode(text: readonly string[], options?: EncodeOptions): BatchEncoding;
  /** Encodes texts into int32 tfjs tensors. */
  override encode(
    text: string | readonly string[],
    options: TensorEncodeOptions,
  ): TokenizerTensors;
  /** Encodes `[CLS] question [SEP] title [SEP] text` rows, one per passage. */
  override encode(
    input: ReaderTexts & { titles: string | readonly string[]; texts: string | readonly string[] },
    options?: ReaderEncodeOptions & { returnTensors?: undefined },
  ): ReaderEncoding;
  /** Encodes reader rows into int32 tfjs tensors (plus `passageStarts`). */
  override encode(
    input: ReaderTexts & { titles: string | readonly string[]; texts: string | readonly string[] },
    options: ReaderEncodeOptions & { returnTensors: "tf" },
  ): ReaderTensors;
  /** Encodes a reader input that may lack titles or texts (plain BERT encoding then). */
  override encode(
    input: ReaderTexts,
    options?: ReaderEncodeOptions,
  ): Encoding | BatchEncoding | ReaderEncoding | TokenizerTensors | ReaderTensors;
  override encode(
    input: string | readonly string[] | ReaderTexts,
    options: EncodeOptions | TensorEncodeOptions | ReaderEncodeOptions = {},
  ): Encoding | BatchEncoding | TokenizerTensors | ReaderEncoding | ReaderTensors {
    if (typeof input === "string" || Array.isArray(input)) {
      return super.encode(input as string, options as EncodeOptions);
    }
    const reader = input as ReaderTexts;
    if (typeof reader !== "object" || reader === null || !("questions" in reader)) {
      throw new TypeError(
        `Cannot encode with ${this.constructor.name}: expected a text, a list of texts or ` +
          `{ questions, titles, texts }`,
      );
    }
    const opts = options as ReaderEncodeOptions;
    const name = this.constructor.name;
    const fields = [["questions", reader.questions], ["titles", reader.titles], [
      "texts",
      reader.texts,
    ]] as const;
    for (const [field, value] of fields) {
      if (field !== "questions" && (value === undefined || value === null)) continue;
      const ok = typeof value === "string" ||
        (Array.isArray(value) && value.every((v: unknown) => typeof v === "string"));
      if (!ok) {
        const bad = Array.isArray(value)
          ? `${field}[${value.findIndex((v: unknown) => typeof v !== "string")}] is not a string`
          : `received ${value === null ? "null" : typeof value}`;
        throw new TypeError(
          `Cannot encode with ${name}: ${field} must be a string or a list of strings: ${bad}`,
        );
      }
    }
    if (reader.titles == null || reader.texts == null) {
      // As Hugging Face: with only titles or only texts, they pair with the questions.
      const pair = reader.titles ?? reader.texts ?? undefined;
      if (pair !== undefined && typeof pair !== typeof reader.questions) {
        throw new TypeError(
          `Cannot encode with ${name}: without both titles and texts, questions and ` +
            `${reader.titles == null ? "texts" : "titles"} must both be strings or both lists`,
        );
      }
      return super.encode(reader.questions as string, {
        textPair: pair as string | undefined,
        padding: opts.padding,
        truncation: opts.truncation ?? false,
        maxLength: opts.maxLength,
        padToMultipleOf: opts.padToMultipleOf,
        returnAttentionMask: opts.returnAttentionMask,
        returnOffsetsMapping: opts.returnOffsetsMapping,
        offsetsUnit: opts.offsetsUnit,
        returnTensors: opts.returnTensors,
      } as TensorEncodeOptions);
    }
    return this.#encodeReader(reader.questions, reader.titles, reader.texts, opts);
  }

  #encodeReader(
    questions: string | readonly string[],
    titles: string | readonly string[],
    texts: string | readonly string[],
    options: ReaderEncodeOptions,
  ): ReaderEncoding | ReaderTensors {
    const name = this.constructor.name;
    const titleList = typeof titles === "string" ? [titles] : titles;
    const textList = typeof texts === "string" ? [texts] : texts;
    const n = titleList.length;
    if (textList.length !== n) {
      throw new RangeError(
        `Cannot encode with ${name}: there must be one text per title: received ${n} titles ` +
          `and ${textList.length} texts`,
      );
    }
    const questionList = typeof questions === "string"
      ? new Array<string>(n).fill(questions)
      : questions;
    if (questionList.length !== n) {
      throw new RangeError(
        `Cannot encode with ${name}: pass one question, or one per passage: received ` +
          `${questionList.length} questions for ${n} passages`,
      );
    }
    const withOffsets = options.returnOffsetsMapping ?? false;
    const head = this.encode([...questionList], {
      textPair: [...titleList],
      padding: false,
      truncation: false,
      returnOffsetsMapping: withOffsets,
      offsetsUnit: options.offsetsUnit,
    });
    const truncation = options.truncation ?? false;
    const cut = options.maxLength !== undefined && truncation !== false &&
      truncation !== "do_not_truncate";
    if (
      options.maxLength !== undefined &&
      (!Number.isInteger(options.maxLength) || options.maxLength < 0)
    ) {
      throw new RangeError(
        `Cannot encode with ${name}: maxLength must be a non-negative integer: received ${options.maxLength}`,
      );
    }
    const inputIds: number[][] = [];
    const offsetMapping: [number, number][][] = [];
    const passageStarts: number[] = [];
    for (let i = 0; i < n; i++) {
      const text = textList[i]!;
      if (typeof text !== "string") {
        throw new TypeError(`Cannot encode with ${name}: texts[${i}] must be a string`);
      }
      const body = this.encodeText(text, withOffsets);
      let ids = [...head.inputIds[i]!, ...body.ids];
      passageStarts.push(head.inputIds[i]!.length);
      let pairs: [number, number][] = [];
      if (withOffsets) {
        const flat = options.offsetsUnit === "codepoint"
          ? utf16ToCodePointOffsets(text, body.offsets!)
          : body.offsets!;
        pairs = [...head.offsetMapping![i]!];
        for (let k = 0; k < flat.length; k += 2) pairs.push([flat[k]!, flat[k + 1]!]);
      }
      if (cut) {
        ids = ids.slice(0, options.maxLength);
        pairs = pairs.slice(0, options.maxLength);
      }
      passageStarts[i] = Math.min(passageStarts[i]!, ids.length);
      inputIds.push(ids);
      offsetMapping.push(pairs);
    }
    const pad = this.padTokenId;
    // Hugging Face masks [PAD] ids found in the rows; with returnAttentionMask false its
    // pad() adds an all-ones mask back.
    const attentionMask = inputIds.map((row) =>
      options.returnAttentionMask === false ? row.map(() => 1) : row.map((id) => id === pad ? 0 : 1)
    );
    let strategy = paddingStrategy(options.padding ?? false);
    let maxLength = options.maxLength;
    if (strategy === "max_length" && maxLength === undefined) {
      if (Number.isFinite(this.modelMaxLength)) maxLength = this.modelMaxLength;
      else strategy = "do_not_pad";
    }
    const target = paddedLength(inputIds.map((row) => row.length), strategy, maxLength, undefined);
    if (target !== null) {
      for (let i = 0; i < n; i++) {
        padRow(inputIds[i]!, target, pad);
        padRow(attentionMask[i]!, target, 0);
        padRow(offsetMapping[i]!, target, [0, 0]);
      }
    }
    const result: ReaderEncoding = { inputIds, attentionMask, passageStarts };
    if (withOffsets) result.offsetMapping = offsetMapping;
    if (options.returnTensors !== undefined) {
      if (options.returnTensors !== "tf") {
        throw new TypeError(`Cannot encode with ${name}: returnTensors must be "tf"`);
      }
      return { ...toTensors(result, name), passageStarts };
    }
    return result;
  }

  /**
   * Finds the best answer spans in the reader's output, as Hugging Face's
   * `decode_best_spans`. Each span also gets its character range in the original passage text
   * when `readerInput` is the result of `encode(..., { returnOffsetsMapping: true })` (a Fast
   * tokenizer): `texts[span.docId].slice(span.passageCharStart, span.passageCharEnd)`.
   * @param readerInput `inputIds` (arrays or a tensor), optionally `passageStarts` and
   *   `offsetMapping` from `encode`
   * @param readerOutput `startLogits`, `endLogits`, `relevanceLogits` (arrays or tensors)
   * @param options `numSpans` (16), `maxAnswerLength` (64), `numSpansPerPassage` (4),
   *   `answerSearch` (`"hf"` or `"passage"`)
   * @returns the spans, most relevant passages first
   */
  decodeBestSpans(
    readerInput: ReaderInput,
    readerOutput: ReaderOutput,
    options: DecodeBestSpansOptions = {},
  ): SpanPrediction[] {
    return decodeBestSpans(this, readerInput, readerOutput, options);
  }
}

/** {@linkcode DPRReaderTokenizer} that also returns offsets (for answer character ranges). */
export class DPRReaderTokenizerFast extends DPRReaderTokenizer {
  /** Offsets are available. */
  override readonly supportsOffsets: boolean = true;

  /**
   * Builds the tokenizer from a vocabulary.
   * @param vocab the vocabulary: a `Vocabulary`, the tokens in id order, or a `vocab.txt` text
   * @param options normalization, special tokens and limits (`nfc` defaults to `false`)
   */
  constructor(vocab: Vocabulary | readonly string[] | string, options: BertTokenizerOptions = {}) {
    super(vocab, fastTokenizerOptions(options));
  }

  /**
   * Loads the tokenizer from a model folder (`tokenizer.json`, or `vocab.txt` with configs).
   * @param source a folder path, an http(s) URL, a hub id or a {@linkcode FileSource}
   * @param options revision, cache folder, hub endpoint and token for URLs and hub ids
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
    options: HubOptions = {},
  ): Promise<DPRReaderTokenizerFast> {
    const files = await loadTokenizerFiles(source, true, options);
    return new DPRReaderTokenizerFast(files.vocab, files.options);
  }
}
