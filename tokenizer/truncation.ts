/**
 * Truncation rules of Hugging Face's `truncate_sequences` (right side, no stride).
 * @module
 */

/** How to shorten inputs longer than `maxLength`. */
export type TruncationStrategy = "longest_first" | "only_first" | "only_second" | "do_not_truncate";

/** The values `encode` accepts for `truncation`. */
export type TruncationOption = boolean | TruncationStrategy;

/**
 * Maps the `truncation` option to a strategy (`true` is `"longest_first"`).
 * @param option the option value
 * @returns the strategy
 */
export function truncationStrategy(option: TruncationOption): TruncationStrategy {
  if (option === true) return "longest_first";
  if (option === false) return "do_not_truncate";
  if (
    option === "longest_first" || option === "only_first" || option === "only_second" ||
    option === "do_not_truncate"
  ) return option;
  throw new TypeError(
    `Cannot encode: truncation must be a boolean, "longest_first", "only_first", "only_second" ` +
      `or "do_not_truncate": received ${JSON.stringify(option)}`,
  );
}

/**
 * How many tokens to remove from each sequence, following Hugging Face: `only_first` /
 * `only_second` cut one sequence and do nothing when it is too short; `longest_first` first
 * evens out the longer one, then splits the rest (the first gets the smaller half).
 * @param firstLength length of the first sequence
 * @param secondLength length of the second, or `null` for a single sequence
 * @param toRemove number of tokens over the limit
 * @param strategy the strategy
 * @returns tokens to cut from the end of each sequence
 */
export function truncationCuts(
  firstLength: number,
  secondLength: number | null,
  toRemove: number,
  strategy: TruncationStrategy,
): [number, number] {
  if (toRemove <= 0 || strategy === "do_not_truncate") return [0, 0];
  if (strategy === "only_first" || (strategy === "longest_first" && secondLength === null)) {
    return firstLength > toRemove ? [toRemove, 0] : [0, 0];
  }
  if (strategy === "longest_first") {
    const second = secondLength ?? 0;
    const firstRemove = Math.min(Math.abs(second - firstLength), toRemove);
    const secondRemove = toRemove - firstRemove;
    const half = Math.floor(secondRemove / 2);
    if (firstLength > second) return [firstRemove + half, secondRemove - half];
    return [half, firstRemove + secondRemove - half];
  }
  // only_second
  if (secondLength !== null && secondLength > toRemove) return [0, toRemove];
  return [0, 0];
}

/** A sequence's ids with its flat `[start, end)` offsets (or `null` without offsets). */
export interface TokenSequence {
  /** Token ids. */
  ids: number[];
  /** Two numbers per token, or `null`. */
  offsets: number[] | null;
}

/**
 * Truncates a sequence (and its optional pair) so that, with `special` added tokens, it fits
 * `maxLength`, cutting as {@link truncationCuts} says; offsets are cut with their tokens.
 * @param a the first sequence
 * @param b the second sequence, or `null`
 * @param special the special tokens that will be added
 * @param maxLength the length to fit; `undefined` (or 0) leaves the sequences as they are
 * @param strategy the truncation strategy
 * @returns the sequences, cut (the inputs themselves when nothing is cut)
 */
export function truncatePair(
  a: TokenSequence,
  b: TokenSequence | null,
  special: number,
  maxLength: number | undefined,
  strategy: TruncationStrategy,
): [TokenSequence, TokenSequence | null] {
  const total = a.ids.length + (b?.ids.length ?? 0) + special;
  if (strategy === "do_not_truncate" || !maxLength || total <= maxLength) return [a, b];
  const [cutA, cutB] = truncationCuts(
    a.ids.length,
    b === null ? null : b.ids.length,
    total - maxLength,
    strategy,
  );
  let first = a;
  let second = b;
  if (cutA > 0) {
    const ids = a.ids.slice(0, Math.max(0, a.ids.length - cutA));
    first = { ids, offsets: a.offsets?.slice(0, ids.length * 2) ?? null };
  }
  if (cutB > 0 && b !== null) {
    const ids = b.ids.slice(0, Math.max(0, b.ids.length - cutB));
    second = { ids, offsets: b.offsets?.slice(0, ids.length * 2) ?? null };
  }
  return [first, second];
}
