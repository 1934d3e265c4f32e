/**
 * The narrow contract the pipeline needs of DPR's reader (tokenizer plus model plus span
 * decoding): given a question and passages, the best answer spans with their exact character
 * ranges in the passage texts.
 * @module
 */

/** A passage as the reader sees it. */
export interface ReaderPassage {
  /** Article title. */
  title: string;
  /** Passage text. */
  text: string;
}

/** One answer span found by the reader. */
export interface ReaderSpan {
  /** Index of the passage in the list given to the reader. */
  passageIndex: number;
  /** Start logit plus end logit of the span. */
  spanScore: number;
  /** The reader's relevance logit for the passage. */
  relevanceScore: number;
  /** The span as the tokenizer decodes it (lower-cased for uncased models). */
  decodedText: string;
  /**
   * The span's start in the passage text (UTF-16 index, inclusive); null when the span reaches
   * into the title (only possible with Hugging Face's span search).
   */
  start: number | null;
  /** The span's end in the passage text (UTF-16 index, exclusive), or null; see `start`. */
  end: number | null;
  /** Token positions `[start, end]` (inclusive) in the reader's input row. */
  tokenStart: number;
  /** See `tokenStart`. */
  tokenEnd: number;
}

/** Options of a read. */
export interface ReadOptions {
  /** Number of spans to return (default 3). */
  numSpans?: number;
  /** Longest span in tokens (default 10). */
  maxAnswerLength?: number;
  /** Most spans taken from one passage (default 4). */
  numSpansPerPassage?: number;
}

/** DPR's reader as the pipeline sees it. */
export interface PassageReader {
  /**
   * Reads the passages for the question and returns the best spans, best first (by passage
   * relevance, then span score, as Hugging Face's `decode_best_spans`).
   */
  read(question: string, passages: readonly ReaderPassage[], options?: ReadOptions): Promise<
    ReaderSpan[]
  >;
  /** The longest row (question, title and text) in tokens; longer rows are truncated. */
  readonly maxLength?: number;
  /** Frees the model's weights, when it holds any. */
  dispose?(): void;
}
