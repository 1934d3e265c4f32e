/**
 * Open-domain question answering, DPR style: embed the question, retrieve the passages with the
 * largest inner product from a {@link VectorIndex} (an in-process `DenseIndex` or Postgres +
 * pgvector), read them, and return answer spans with the
 * exact character range in the original passage text.
 * @module
 */
import { mapInSlices } from "../backend/next_turn.ts";
import { openIndex, type OpenIndexOptions } from "../index/open_index.ts";
import { passageFields, type SearchHit, type VectorIndex } from "../index/vector_index.ts";
import {
  type DenseEncoder,
  embedEncoded,
  type PassageTokenTypes,
  tokenizePassage,
} from "./dense_encoder.ts";
import { MicroBatcher } from "./micro_batcher.ts";
import type { PassageReader, ReaderPassage } from "./passage_reader.ts";
import { type DprModelSources, loadDenseEncoder, loadPassageReader } from "./dpr_models.ts";

/** A retrieved passage. */
export interface RetrievedPassage {
  /** Passage id. */
  id: string;
  /** Inner product of question and passage vectors. */
  score: number;
  /** Article title ("" when the index stores none). */
  title: string;
  /** Passage text ("" when the index stores none). */
  text: string;
  /** Row in the index. */
  row: number;
}

/** One answer. */
export interface Answer {
  /** The answer: exactly `passageText.slice(start, end)` (the decoded span when those are null). */
  text: string;
  /** The reader's span score (start logit + end logit). */
  score: number;
  /** The reader's relevance logit for the passage. */
  relevanceScore: number;
  /** The retriever's score for the passage. */
  retrievalScore: number;
  /** The passage's rank in retrieval, 0-based. */
  passageRank: number;
  /** Passage id. */
  passageId: string;
  /** Passage title. */
  title: string;
  /** The whole passage text. */
  passageText: string;
  /**
   * Start of the answer in `passageText` (UTF-16 index, inclusive); null only when a span
   * search in Hugging Face mode picked a span reaching into the title.
   */
  start: number | null;
  /** End of the answer in `passageText` (UTF-16 index, exclusive), or null; see `start`. */
  end: number | null;
  /** The span as the reader's tokenizer decodes it. */
  decodedText: string;
}

/** Options of {@link OpenDomainQA.answer}. */
export interface AnswerOptions {
  /** Passages retrieved and read (default 10). */
  topK?: number;
  /** Answers returned (default 3). */
  numSpans?: number;
  /** Longest answer in tokens (default 10). */
  maxAnswerLength?: number;
  /** Most answers from one passage (default 4). */
  numSpansPerPassage?: number;
}

/** The parts of an {@link OpenDomainQA}, with the index of type `I`. */
export interface OpenDomainQAParts<I extends VectorIndex = VectorIndex> {
  /** The question encoder. */
  questionEncoder: DenseEncoder;
  /** The passage index (metadata `{title, text}` per row, as the indexing job writes). */
  index: I;
  /** The reader; without it only retrieval works. */
  reader?: PassageReader;
  /** The context encoder; only needed for `embedPassages`. */
  contextEncoder?: DenseEncoder;
  /** Questions embedded per model call (default 32). */
  batchSize?: number;
}

/** Options of {@link OpenDomainQA.fromPretrained}. */
export interface OpenDomainQAOptions extends DprModelSources {
  /**
   * The index: a folder, an http(s) URL of one, a `postgres://` URL (see `openIndex`), or an
   * open index. One opened here is closed by {@link OpenDomainQA.close}.
   */
  index: string | VectorIndex;
  /**
   * Options for opening `index` when it is a location (see `openIndex`): for an index folder,
   * `rescore` and `oversample` (how searches use its float32 originals), and its block size.
   */
  indexOptions?: OpenIndexOptions;
  /** Skip loading the reader (retrieval only). */
  noReader?: boolean;
  /** Skip loading the context encoder (default true: only needed for `embedPassages`). */
  noContextEncoder?: boolean;
}

function retrieved(hit: SearchHit): RetrievedPassage {
  return { id: hit.id, score: hit.score, row: hit.row, ...passageFields(hit.metadata) };
}

/**
 * Retriever plus reader over a passage index (`I`: the index type, any {@link VectorIndex}).
 *
 * Concurrent `retrieve`/`answer` calls are batched: their questions are embedded together, one
 * model call at a time.
 *
 * @example
 * ```ts ignore
 * import { OpenDomainQA } from "@dpr/dpr";
 * // An index built with `deno run -A jsr:@dpr/dpr/cli index passages.tsv my-index`; models from local folders.
 * const qa = await OpenDomainQA.fromPretrained({ index: "my-index", models: "models" });
 * const [best] = await qa.answer("who discovered penicillin?", { topK: 10, numSpans: 3 });
 * console.log(best?.text, best?.passageId, best?.start, best?.end);
 * ```
 */
export class OpenDomainQA<I extends VectorIndex = VectorIndex> {
  /** The question encoder. */
  readonly questionEncoder: DenseEncoder;
  /** The context encoder, when loaded. */
  readonly contextEncoder: DenseEncoder | undefined;
  /** The reader, when loaded. */
  readonly reader: PassageReader | undefined;
  /** The passage index. */
  readonly index: I;
  #ownsIndex = false;
  #questions: MicroBatcher<string, Float32Array>;
  #readerQueue: Promise<unknown> = Promise.resolve();

  /**
   * A pipeline over models and an index already loaded ({@linkcode OpenDomainQA.fromPretrained}
   * loads them).
   * @param parts encoders, reader and index
   */
  constructor(parts: OpenDomainQAParts<I>) {
    if (parts.questionEncoder.dim !== parts.index.dim) {
      throw new RangeError(
        `Cannot build OpenDomainQA: the question encoder's dimension ${parts.questionEncoder.dim} ` +
          `differs from the index's ${parts.index.dim}`,
      );
    }
    this.questionEncoder = parts.questionEncoder;
    this.contextEncoder = parts.contextEncoder;
    this.reader = parts.reader;
    this.index = parts.index;
    const batchSize = parts.batchSize ?? 32;
    this.#questions = new MicroBatcher(
      async (questions: string[]) =>
        await embedEncoded(
          this.questionEncoder,
          await mapInSlices(questions, (q) => this.questionEncoder.tokenize(q)),
          batchSize,
        ),
      { maxBatchSize: 256 },
    );
  }

  /**
   * Loads the models (by default facebook's `dpr-*-single-nq-base`) and the index.
   * @param options model sources and the index
   * @returns the pipeline
   */
  static async fromPretrained(options: OpenDomainQAOptions): Promise<OpenDomainQA> {
    const owned = typeof options.index === "string";
    const index = typeof options.index === "string"
      ? await openIndex(options.index, options.indexOptions)
      : options.index;
    try {
      const questionEncoder = await loadDenseEncoder("question", options);
      const contextEncoder = options.noContextEncoder === false
        ? await loadDenseEncoder("context", options)
        : undefined;
      const reader = options.noReader ? undefined : await loadPassageReader(options);
      const qa = new OpenDomainQA({ questionEncoder, contextEncoder, reader, index });
      qa.#ownsIndex = owned;
      return qa;
    } catch (error) {
      if (owned) await index.close();
      throw error;
    }
  }

  /**
   * Embeds questions with the question encoder.
   * @param questions the questions
   * @returns one vector per question
   */
  embedQuestions(questions: readonly string[]): Promise<Float32Array[]> {
    return Promise.all(questions.map((q) => this.#questions.call(checkQuestion(q))));
  }

  /**
   * Embeds passages with the context encoder (title and text, all-zero token types by default).
   * @param passages the passages
   * @param tokenTypes "zeros" (default, as original DPR) or "pair"
   * @returns one vector per passage
   */
  embedPassages(
    passages: readonly ReaderPassage[],
    tokenTypes: PassageTokenTypes = "zeros",
  ): Promise<Float32Array[]> {
    const encoder = this.contextEncoder;
    if (encoder === undefined) {
      throw new TypeError("Cannot embed passages: this OpenDomainQA has no context encoder");
    }
    const run = async () =>
      await embedEncoded(
        encoder,
        await mapInSlices(passages, (p) => tokenizePassage(encoder, p.title, p.text, tokenTypes)),
      );
    return this.#serialize(run);
  }

  /** Frees the models' weights (the index is left open: see {@link OpenDomainQA.close}). */
  dispose(): void {
    const parts = new Set([this.questionEncoder, this.contextEncoder, this.reader]);
    for (const part of parts) part?.dispose?.();
  }

  /**
   * Frees the models' weights and closes the index when `fromPretrained` opened it from a
   * location (an index passed in open stays open: its owner closes it).
   */
  async close(): Promise<void> {
    this.dispose();
    if (this.#ownsIndex) await this.index.close();
  }

  /** {@linkcode OpenDomainQA.dispose} at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** {@linkcode OpenDomainQA.close} at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Retrieves the `k` passages with the highest inner product with the question.
   * @param question the question
   * @param k number of passages (default 10)
   * @returns the passages, best first
   */
  async retrieve(question: string, k = 10): Promise<RetrievedPassage[]> {
    const [vector] = await this.embedQuestions([question]);
    const [hits] = await this.index.search([vector!], k);
    return hits!.map(retrieved);
  }

  /**
   * Retrieves passages for many questions at once.
   * @param questions the questions
   * @param k passages per question
   * @returns the passages per question, best first
   */
  async retrieveMany(questions: readonly string[], k = 10): Promise<RetrievedPassage[][]> {
    const vectors = await this.embedQuestions(questions);
    const results = await this.index.search(vectors, k);
    return results.map((hits) => hits.map(retrieved));
  }

  /**
   * Answers a question: retrieve `topK` passages, read them, return the best spans.
   * @param question the question
   * @param options `topK`, `numSpans`, `maxAnswerLength`, `numSpansPerPassage`
   * @returns the answers, best first
   */
  async answer(question: string, options: AnswerOptions = {}): Promise<Answer[]> {
    const reader = this.reader;
    if (reader === undefined) {
      throw new TypeError("Cannot answer: this OpenDomainQA has no reader (retrieval only)");
    }
    const passages = await this.retrieve(question, options.topK ?? 10);
    if (passages.length === 0) return [];
    const spans = await this.#serialize(() =>
      reader.read(question, passages, {
        numSpans: options.numSpans ?? 3,
        maxAnswerLength: options.maxAnswerLength ?? 10,
        numSpansPerPassage: options.numSpansPerPassage ?? 4,
      })
    );
    return spans.map((s) => {
      const p = passages[s.passageIndex]!;
      return {
        text: s.start !== null && s.end !== null ? p.text.slice(s.start, s.end) : s.decodedText,
        score: s.spanScore,
        relevanceScore: s.relevanceScore,
        retrievalScore: p.score,
        passageRank: s.passageIndex,
        passageId: p.id,
        title: p.title,
        passageText: p.text,
        start: s.start,
        end: s.end,
        decodedText: s.decodedText,
      };
    });
  }

  /** Runs reader and context-encoder calls one at a time. */
  #serialize<T>(run: () => Promise<T>): Promise<T> {
    const next = this.#readerQueue.then(run, run);
    this.#readerQueue = next.catch(() => {});
    return next;
  }
}

function checkQuestion(question: unknown): string {
  if (typeof question !== "string") {
    throw new TypeError(`Cannot embed question: it must be a string: received ${typeof question}`);
  }
  if (question.trim() === "") {
    throw new RangeError("Cannot embed question: it is empty");
  }
  return question;
}
