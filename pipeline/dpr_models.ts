/**
 * Adapters from this package's DPR tokenizers and models to the pipeline's narrow contracts
 * ({@link DenseEncoder}, {@link PassageReader}), and their loaders. Where models come from
 * (folders, URLs, hub ids, a `models` folder with one subfolder per model) is
 * `model_sources.ts`.
 * @module
 */
import { tf } from "../backend/tf.ts";
import { mapInSlices } from "../backend/next_turn.ts";
import { DPRContextEncoder } from "../models/dpr_context_encoder.ts";
import { DPRQuestionEncoder } from "../models/dpr_question_encoder.ts";
import { DPRReader } from "../models/dpr_reader.ts";
import type { BertTokenizer } from "../tokenizer/bert_tokenizer.ts";
import { decodeBestSpans } from "../tokenizer/decode_best_spans.ts";
import { DPRReaderTokenizerFast } from "../tokenizer/dpr_reader_tokenizer.ts";
import {
  DPRContextEncoderTokenizer,
  DPRQuestionEncoderTokenizer,
} from "../tokenizer/dpr_tokenizers.ts";
import {
  type DenseEncoder,
  embedEncoded,
  type EncodedInput,
  type PaddedBatch,
  type PassageTokenTypes,
  tokenizePassage,
} from "./dense_encoder.ts";
import type { PassageReader, ReaderPassage, ReaderSpan, ReadOptions } from "./passage_reader.ts";
import {
  DEFAULT_MODELS,
  type DprModelSources,
  dtypeFor,
  type ModelDtypes,
  modelSubfolder,
  resolveModelSource,
  sourceFor,
} from "./model_sources.ts";

export {
  DEFAULT_MODELS,
  type DprModelSources,
  dtypeFor,
  type ModelDtypes,
  modelSubfolder,
  resolveModelSource,
};

function limit(tokenizer: BertTokenizer, maxPositions: number, maxLength?: number): number {
  const tokenizerLimit = Number.isFinite(tokenizer.modelMaxLength) && tokenizer.modelMaxLength > 0
    ? tokenizer.modelMaxLength
    : Infinity;
  const m = Math.min(maxPositions, tokenizerLimit, maxLength ?? 512);
  if (!Number.isInteger(m) || m < 3) {
    throw new RangeError(
      `Cannot use a DPR model: maxLength must be an integer >= 3: received ${m}`,
    );
  }
  return m;
}

/** Options of {@linkcode DprEncoderAdapter.encodeQuestions}. */
export interface EncodeTextsOptions {
  /** The most inputs run at once (default 32); inputs are batched by similar length. */
  batchSize?: number;
}

/** Options of {@linkcode DprEncoderAdapter.encodePassages}. */
export interface EncodePassagesOptions extends EncodeTextsOptions {
  /** Token types: "zeros" (default, as the original DPR) or "pair" (as transformers). */
  tokenTypes?: PassageTokenTypes;
}

/** A passage to embed: its text, and its title when it has one. */
export interface PassageText {
  /** The title (default none: `[CLS] text [SEP]`). */
  title?: string;
  /** The text. */
  text: string;
}

/**
 * A DPR question or context encoder with its tokenizer, as a {@link DenseEncoder}: strings in,
 * `Float32Array` vectors out, every tensor freed on the way; `using` frees the weights.
 *
 * @example Embed passages and questions
 * ```ts ignore
 * import { loadDenseEncoder } from "@dpr/dpr";
 * using passages = await loadDenseEncoder("context"); // facebook's dpr-ctx_encoder-single-nq-base
 * const vectors = await passages.encodePassages([{ title: "Deno", text: "Deno is a runtime." }]);
 * using questions = await loadDenseEncoder("question");
 * const [q] = await questions.encodeQuestions(["what is deno?"]);
 * ```
 */
export class DprEncoderAdapter implements DenseEncoder {
  /** The tokenizer. */
  readonly tokenizer: BertTokenizer;
  /** The model. */
  readonly model: DPRQuestionEncoder | DPRContextEncoder;
  /** Length of the output vectors (the projection's, else the hidden size). */
  readonly dim: number;
  /** The tokenizer's padding token id. */
  readonly padTokenId: number;
  /** Inputs are truncated to this many tokens. */
  readonly maxLength: number;

  /**
   * Pairs an encoder with its tokenizer.
   * @param tokenizer the encoder's tokenizer
   * @param model the encoder
   * @param maxLength longest input (default: the model's limit, at most 512)
   */
  constructor(
    tokenizer: BertTokenizer,
    model: DPRQuestionEncoder | DPRContextEncoder,
    maxLength?: number,
  ) {
    this.tokenizer = tokenizer;
    this.model = model;
    const config = model.config;
    this.dim = config.projectionDim > 0 ? config.projectionDim : config.hiddenSize;
    this.padTokenId = tokenizer.padTokenId;
    this.maxLength = limit(tokenizer, config.maxPositionEmbeddings, maxLength);
  }

  /**
   * Tokenizes one input (or a pair), special tokens included, truncated to `maxLength`.
   * @param text the input
   * @param pair the second text of a pair (a passage's text after its title)
   * @returns token ids and token type ids
   */
  tokenize(text: string, pair?: string): EncodedInput {
    const encoded = this.tokenizer.encode(text, {
      textPair: pair,
      truncation: "longest_first",
      maxLength: this.maxLength,
      returnTokenTypeIds: true,
      returnAttentionMask: false,
    });
    return {
      inputIds: encoded.inputIds,
      tokenTypeIds: encoded.tokenTypeIds ?? encoded.inputIds.map(() => 0),
    };
  }

  /**
   * The tokens of one input, special tokens included, before truncation.
   * @param text the input
   * @returns the count
   */
  countTokens(text: string): number {
    return this.tokenizer.encode(text, { truncation: false, returnAttentionMask: false })
      .inputIds.length;
  }

  /**
   * Runs the encoder on a padded batch.
   * @param batch token ids, attention mask and token types of one length
   * @returns one pooled vector per row
   */
  async embed(batch: PaddedBatch): Promise<Float32Array[]> {
    if (batch.inputIds.length === 0) return [];
    // Layer by layer, with a turn of the event loop between layers: a server keeps answering.
    const { poolerOutput } = await this.model.forwardAsync({
      inputIds: batch.inputIds,
      attentionMask: batch.attentionMask,
      tokenTypeIds: batch.tokenTypeIds,
    });
    try {
      const data = (await poolerOutput.data()) as Float32Array;
      const dim = poolerOutput.shape[1];
      return batch.inputIds.map((_, i) => data.slice(i * dim, (i + 1) * dim));
    } finally {
      poolerOutput.dispose();
    }
  }

  /**
   * Embeds questions: tokenized, run in batches of similar length, vectors in input order.
   * @param questions the questions
   * @param options the batch size
   * @returns one vector per question (length {@link DprEncoderAdapter.dim})
   * @throws {TypeError} when this is a context encoder, or a question is not a string
   */
  async encodeQuestions(
    questions: readonly string[],
    options: EncodeTextsOptions = {},
  ): Promise<Float32Array[]> {
    this.#expect(DPRQuestionEncoder, "encodeQuestions", "a question encoder");
    // A slice of the questions at a time: a large batch is tokenized over several tasks.
    const inputs = await mapInSlices(questions, (question, i) => {
      if (typeof question !== "string") {
        throw new TypeError(
          `Cannot encodeQuestions: question ${i} must be a string: received ${typeof question}`,
        );
      }
      return this.tokenize(question);
    });
    return await embedEncoded(this, inputs, options.batchSize);
  }

  /**
   * Embeds passages as DPR does: `[CLS] title [SEP] text [SEP]` (`[CLS] text [SEP]` without a
   * title), run in batches of similar length, vectors in input order.
   * @param passages `{ title, text }` objects, or plain strings (text without a title)
   * @param options the batch size and token types
   * @returns one vector per passage (length {@link DprEncoderAdapter.dim})
   * @throws {TypeError} when this is a question encoder, or a passage has no string text
   */
  async encodePassages(
    passages: readonly (PassageText | string)[],
    options: EncodePassagesOptions = {},
  ): Promise<Float32Array[]> {
    this.#expect(DPRContextEncoder, "encodePassages", "a context encoder");
    const inputs = await mapInSlices(passages, (passage, i) => {
      const { title = "", text } = typeof passage === "string" ? { text: passage } : passage ?? {};
      if (typeof text !== "string" || typeof title !== "string") {
        throw new TypeError(
          `Cannot encodePassages: passage ${i} must be a string or { title?: string, text: ` +
            `string }: received ${JSON.stringify(passage)?.slice(0, 80)}`,
        );
      }
      return tokenizePassage(this, title, text, options.tokenTypes);
    });
    return await embedEncoded(this, inputs, options.batchSize);
  }

  #expect(
    kind: typeof DPRQuestionEncoder | typeof DPRContextEncoder,
    method: string,
    what: string,
  ) {
    if (!(this.model instanceof kind)) {
      throw new TypeError(
        `Cannot ${method}: it needs ${what}: this encoder holds a ${this.model.constructor.name}`,
      );
    }
  }

  /** Frees the encoder's weights. */
  dispose(): void {
    this.model.dispose();
  }

  /** Frees the encoder's weights at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** DPR's reader with its tokenizer, as a {@link PassageReader}. */
export class DprReaderAdapter implements PassageReader {
  /** The tokenizer (a fast one, for character offsets). */
  readonly tokenizer: DPRReaderTokenizerFast;
  /** The model. */
  readonly model: DPRReader;
  /** Rows are truncated to this many tokens. */
  readonly maxLength: number;
  /** "text" or "hf"; see {@link DprModelSources.spanScope}. */
  readonly spanScope: "text" | "hf";

  /**
   * Pairs the reader with its tokenizer.
   * @param tokenizer the reader's tokenizer
   * @param model the reader
   * @param maxLength longest row (default: the model's limit, at most 512)
   * @param spanScope "text" (default) or "hf"
   */
  constructor(
    tokenizer: DPRReaderTokenizerFast,
    model: DPRReader,
    maxLength?: number,
    spanScope: "text" | "hf" = "text",
  ) {
    this.tokenizer = tokenizer;
    this.model = model;
    this.maxLength = limit(tokenizer, model.config.maxPositionEmbeddings, maxLength);
    this.spanScope = spanScope;
  }

  /**
   * Reads the passages for the question: the best spans, best first (by passage relevance, then
   * span score, as Hugging Face's `decode_best_spans`).
   * @param question the question
   * @param passages the passages to read
   * @param options how many spans, their longest length
   * @returns the spans
   */
  async read(
    question: string,
    passages: readonly ReaderPassage[],
    options: ReadOptions = {},
  ): Promise<ReaderSpan[]> {
    if (passages.length === 0) return [];
    // [CLS] question [SEP] title [SEP] text, cut at maxLength, padded to the longest row.
    const input = this.tokenizer.encode({
      questions: question,
      titles: passages.map((p) => p.title),
      texts: passages.map((p) => p.text),
    }, { padding: true, truncation: true, maxLength: this.maxLength, returnOffsetsMapping: true });
    // Layer by layer, with a turn of the event loop between layers: a server keeps answering.
    const out = await this.model.forwardAsync({
      inputIds: input.inputIds,
      attentionMask: input.attentionMask,
    });
    let logits: [number[][], number[][], number[]];
    try {
      logits = (await Promise.all([
        out.startLogits.array(),
        out.endLogits.array(),
        out.relevanceLogits.array(),
      ])) as [number[][], number[][], number[]];
    } finally {
      tf.dispose([out.startLogits, out.endLogits, out.relevanceLogits]);
    }
    const spans = decodeBestSpans(
      this.tokenizer,
      input,
      { startLogits: logits[0], endLogits: logits[1], relevanceLogits: logits[2] },
      {
        numSpans: options.numSpans ?? 3,
        maxAnswerLength: options.maxAnswerLength ?? 10,
        numSpansPerPassage: options.numSpansPerPassage ?? 4,
        answerSearch: this.spanScope === "text" ? "passage" : "hf",
      },
    );
    return spans.map((s) => ({
      passageIndex: s.docId,
      spanScore: s.spanScore,
      relevanceScore: s.relevanceScore,
      decodedText: s.text,
      start: s.passageCharStart,
      end: s.passageCharEnd,
      tokenStart: s.startIndex,
      tokenEnd: s.endIndex,
    }));
  }

  /** Frees the reader's weights. */
  dispose(): void {
    this.model.dispose();
  }

  /** Frees the reader's weights at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Loads a question or context encoder with its tokenizer.
 * @param kind "question" or "context"
 * @param sources where the models are
 * @returns the encoder
 */
export async function loadDenseEncoder(
  kind: "question" | "context",
  sources: DprModelSources = {},
): Promise<DprEncoderAdapter> {
  // Checked before anything is read: a refused dtype starts no file read.
  const dtype = dtypeFor(kind, sources);
  const source = await resolveModelSource(sourceFor(kind, sources), sources);
  if (kind === "question") {
    const [tokenizer, model] = await loadTogether(
      DPRQuestionEncoderTokenizer.fromPretrained(source),
      DPRQuestionEncoder.fromPretrained(source, { dtype }),
    );
    return new DprEncoderAdapter(tokenizer, model, sources.maxLength);
  }
  const [tokenizer, model] = await loadTogether(
    DPRContextEncoderTokenizer.fromPretrained(source),
    DPRContextEncoder.fromPretrained(source, { dtype }),
  );
  return new DprEncoderAdapter(tokenizer, model, sources.maxLength);
}

/**
 * A tokenizer and a model loaded at the same time. When either fails, the other is waited for
 * (no file read is left running) and a model that loaded is disposed; the first failure is
 * thrown.
 */
async function loadTogether<T, M extends { dispose(): void }>(
  tokenizer: Promise<T>,
  model: Promise<M>,
): Promise<[T, M]> {
  let failure: { error: unknown } | undefined;
  const noteFailure = (error: unknown) => {
    failure ??= { error };
  };
  const [t, m] = await Promise.allSettled([
    tokenizer.catch((error) => {
      noteFailure(error);
      throw error;
    }),
    model.catch((error) => {
      noteFailure(error);
      throw error;
    }),
  ]);
  if (t.status === "fulfilled" && m.status === "fulfilled") return [t.value, m.value];
  if (m.status === "fulfilled") m.value.dispose();
  throw failure!.error;
}

/**
 * Loads the reader with its tokenizer.
 * @param sources where the models are
 * @returns the reader
 */
export async function loadPassageReader(sources: DprModelSources = {}): Promise<DprReaderAdapter> {
  const dtype = dtypeFor("reader", sources); // before anything is read, as for the encoders
  const source = await resolveModelSource(sourceFor("reader", sources), sources);
  const [tokenizer, model] = await loadTogether(
    DPRReaderTokenizerFast.fromPretrained(source),
    DPRReader.fromPretrained(source, { dtype }),
  );
  return new DprReaderAdapter(tokenizer, model, sources.maxLength, sources.spanScope ?? "text");
}
