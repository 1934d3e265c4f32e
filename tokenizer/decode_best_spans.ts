/**
 * Answer spans from the DPR reader's logits, as Hugging Face's
 * `DPRReaderTokenizer.decode_best_spans`: passages in decreasing relevance, in each the best
 * non-nested spans by `start_logit + end_logit` (float32), until `numSpans` are found.
 * @module
 */

/** Logits as nested arrays or anything with `arraySync()` (a tfjs tensor). */
export type LogitsLike<T> = T | { arraySync(): unknown };

/** The reader's input rows, with what `DPRReaderTokenizer.encode` adds. */
export interface ReaderInput {
  /** `[nPassages][length]` token ids (or a tensor). */
  inputIds: LogitsLike<number[][]>;
  /**
   * Token index where each row's passage text starts (after the title's `[SEP]`), as
   * `DPRReaderTokenizer.encode` returns it. Used by `answerSearch: "passage"` and for
   * character ranges.
   */
  passageStarts?: readonly number[];
  /**
   * Offsets of each token in its own text (`encode(..., { returnOffsetsMapping: true })` of a
   * Fast reader tokenizer); text tokens point into `texts[docId]`.
   */
  offsetMapping?: readonly (readonly (readonly [number, number])[])[];
}

/** The reader's outputs. */
export interface ReaderOutput {
  /** `[nPassages][length]` start logits. */
  startLogits: LogitsLike<number[][]>;
  /** `[nPassages][length]` end logits. */
  endLogits: LogitsLike<number[][]>;
  /** `[nPassages]` relevance logits. */
  relevanceLogits: LogitsLike<number[]>;
}

/** Options of {@linkcode decodeBestSpans}. */
export interface DecodeBestSpansOptions {
  /** Spans to return in all. Default 16. */
  numSpans?: number;
  /** Longest span in tokens. Default 64. */
  maxAnswerLength?: number;
  /** Spans per passage. Default 4. */
  numSpansPerPassage?: number;
  /**
   * Where answers are searched: `"hf"` (default) from the first `[SEP]` at index 2 or later,
   * as Hugging Face does, so title tokens can be answers (transformers issue 10375);
   * `"passage"` in the passage text only.
   */
  answerSearch?: "hf" | "passage";
}

/** One answer span. */
export interface SpanPrediction {
  /** `start_logit + end_logit`, in float32. */
  spanScore: number;
  /** The passage's relevance logit. */
  relevanceScore: number;
  /** Row of the passage in the input. */
  docId: number;
  /** First token of the span (inclusive, index into the row). */
  startIndex: number;
  /** Last token of the span (inclusive). */
  endIndex: number;
  /** The decoded span. */
  text: string;
  /**
   * `[passageCharStart, passageCharEnd)` is the span in the original passage text
   * (`texts[docId].slice(passageCharStart, passageCharEnd)`), in the encode call's offset unit;
   * `null` when the encoding kept no offsets or the span reaches into the question or title.
   */
  passageCharStart: number | null;
  /** End (exclusive) of the span in the passage text, or `null`; see `passageCharStart`. */
  passageCharEnd: number | null;
}

function materialize<T>(value: LogitsLike<T>): T {
  if (typeof value === "object" && value !== null && "arraySync" in value) {
    return (value as { arraySync(): unknown }).arraySync() as T;
  }
  return value as T;
}

/** The tokenizer parts span decoding needs. */
export interface SpanDecoder {
  /** Id of `[SEP]`. */
  readonly sepTokenId: number;
  /** Id of `[PAD]`. */
  readonly padTokenId: number;
  /** Decodes ids with default options. */
  decode(ids: ArrayLike<number>): string;
}

/**
 * The best non-nested spans of one passage, as `_get_best_spans`.
 * @param start start logits (float32 values) of the searched range
 * @param end end logits of the searched range
 * @param maxAnswerLength longest span
 * @param topSpans how many spans to keep
 * @returns `[start, end]` pairs relative to the range
 */
export function bestSpans(
  start: readonly number[],
  end: readonly number[],
  maxAnswerLength: number,
  topSpans: number,
): [number, number][] {
  const scored: { s: number; e: number; score: number }[] = [];
  for (let s = 0; s < start.length; s++) {
    const limit = Math.min(end.length, s + maxAnswerLength);
    for (let e = s; e < limit; e++) {
      scored.push({ s, e, score: Math.fround(start[s]! + end[e]!) });
    }
  }
  // Array.prototype.sort is stable, like Python's sorted(reverse=True).
  scored.sort((a, b) => b.score - a.score);
  const chosen: [number, number][] = [];
  for (const { s, e } of scored) {
    const nested = chosen.some(([ps, pe]) => (s <= ps && pe <= e) || (ps <= s && e <= pe));
    if (nested) continue;
    chosen.push([s, e]);
    if (chosen.length === topSpans) break;
  }
  return chosen;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(
      `Cannot decodeBestSpans: ${name} must be a positive integer: received ${value}`,
    );
  }
  return value;
}

/**
 * Finds the best answer spans over all passages.
 * @param tokenizer the reader tokenizer (for `[SEP]`, `[PAD]` and decoding)
 * @param input the reader's input (`inputIds`, and optionally `passageStarts`, `offsetMapping`)
 * @param output the reader's logits (arrays or tensors)
 * @param options limits and where to search
 * @returns spans, best passages first
 */
export function decodeBestSpans(
  tokenizer: SpanDecoder,
  input: ReaderInput,
  output: ReaderOutput,
  options: DecodeBestSpansOptions = {},
): SpanPrediction[] {
  const numSpans = positiveInteger(options.numSpans ?? 16, "numSpans");
  const maxAnswerLength = positiveInteger(options.maxAnswerLength ?? 64, "maxAnswerLength");
  const perPassage = positiveInteger(options.numSpansPerPassage ?? 4, "numSpansPerPassage");
  const search = options.answerSearch ?? "hf";
  if (search !== "hf" && search !== "passage") {
    throw new RangeError(
      `Cannot decodeBestSpans: answerSearch must be "hf" or "passage": received ${
        JSON.stringify(search)
      }`,
    );
  }
  const inputIds = materialize(input.inputIds);
  const startLogits = materialize(output.startLogits);
  const endLogits = materialize(output.endLogits);
  const relevance = materialize(output.relevanceLogits).map((x) => Math.fround(x));
  const n = relevance.length;
  if (inputIds.length !== n || startLogits.length !== n || endLogits.length !== n) {
    throw new RangeError(
      `Cannot decodeBestSpans: inputIds, startLogits, endLogits and relevanceLogits must have ` +
        `one row per passage: received ${inputIds.length}, ${startLogits.length}, ` +
        `${endLogits.length} and ${n}`,
    );
  }
  const order = [...relevance.keys()].sort((a, b) => relevance[b]! - relevance[a]!);
  const predictions: SpanPrediction[] = [];
  for (const docId of order) {
    const ids = inputIds[docId]!;
    const starts = startLogits[docId]!.map((x) => Math.fround(x));
    const ends = endLogits[docId]!.map((x) => Math.fround(x));
    if (starts.length !== ids.length || ends.length !== ids.length) {
      throw new RangeError(
        `Cannot decodeBestSpans: row ${docId} has ${ids.length} ids but ${starts.length} start ` +
          `and ${ends.length} end logits`,
      );
    }
    const offset = answerStart(tokenizer, ids, docId, search, input.passageStarts);
    const length = ids[ids.length - 1] === tokenizer.padTokenId
      ? ids.indexOf(tokenizer.padTokenId)
      : ids.length;
    const spans = bestSpans(
      starts.slice(offset, Math.max(offset, length)),
      ends.slice(offset, Math.max(offset, length)),
      maxAnswerLength,
      perPassage,
    );
    const passageStart = input.passageStarts?.[docId];
    const rowOffsets = input.offsetMapping?.[docId];
    for (const [s, e] of spans) {
      const startIndex = s + offset;
      const endIndex = e + offset;
      let charStart: number | null = null;
      let charEnd: number | null = null;
      if (passageStart !== undefined && rowOffsets !== undefined && startIndex >= passageStart) {
        charStart = rowOffsets[startIndex]?.[0] ?? null;
        charEnd = rowOffsets[endIndex]?.[1] ?? null;
        if (charStart === null || charEnd === null) charStart = charEnd = null;
      }
      predictions.push({
        spanScore: Math.fround(starts[startIndex]! + ends[endIndex]!),
        relevanceScore: relevance[docId]!,
        docId,
        startIndex,
        endIndex,
        text: tokenizer.decode(ids.slice(startIndex, endIndex + 1)),
        passageCharStart: charStart,
        passageCharEnd: charEnd,
      });
    }
    if (predictions.length >= numSpans) break;
  }
  return predictions.slice(0, numSpans);
}

function answerStart(
  tokenizer: SpanDecoder,
  ids: readonly number[],
  docId: number,
  search: "hf" | "passage",
  passageStarts: readonly number[] | undefined,
): number {
  const sep = tokenizer.sepTokenId;
  if (search === "hf") {
    const at = ids.indexOf(sep, 2);
    if (at < 0) {
      throw new RangeError(
        `Cannot decodeBestSpans: row ${docId} has no [SEP] token (id ${sep}) at index 2 or later`,
      );
    }
    return at + 1;
  }
  const known = passageStarts?.[docId];
  if (known !== undefined) return known;
  const first = ids.indexOf(sep, 1);
  const second = first < 0 ? -1 : ids.indexOf(sep, first + 1);
  if (second < 0) {
    throw new RangeError(
      `Cannot decodeBestSpans: row ${docId} lacks the two [SEP] tokens (id ${sep}) of ` +
        `[CLS] question [SEP] title [SEP] text`,
    );
  }
  return second + 1;
}
