/**
 * Padding rules of Hugging Face's `pad` (right side).
 * @module
 */
import type { Row } from "./post_processor.ts";

/** How to pad: not at all, to the longest in the batch, or to `maxLength`. */
export type PaddingStrategy = "do_not_pad" | "longest" | "max_length";

/** The values `encode` accepts for `padding`. */
export type PaddingOption = boolean | PaddingStrategy;

/**
 * Maps the `padding` option to a strategy (`true` is `"longest"`).
 * @param option the option value
 * @returns the strategy
 */
export function paddingStrategy(option: PaddingOption): PaddingStrategy {
  if (option === true) return "longest";
  if (option === false) return "do_not_pad";
  if (option === "longest" || option === "max_length" || option === "do_not_pad") return option;
  throw new TypeError(
    `Cannot encode: padding must be a boolean, "longest", "max_length" or "do_not_pad": ` +
      `received ${JSON.stringify(option)}`,
  );
}

/**
 * The length every row is padded to, or `null` for no padding.
 * @param lengths the rows' lengths
 * @param strategy the strategy
 * @param maxLength the target for `"max_length"`
 * @param padToMultipleOf round the target up to a multiple of this
 * @returns the padded length
 */
export function paddedLength(
  lengths: readonly number[],
  strategy: PaddingStrategy,
  maxLength: number | undefined,
  padToMultipleOf: number | undefined,
): number | null {
  if (strategy === "do_not_pad") return null;
  let target = strategy === "longest" ? Math.max(0, ...lengths) : maxLength;
  if (target === undefined) return null;
  if (padToMultipleOf !== undefined && padToMultipleOf > 0 && target % padToMultipleOf !== 0) {
    target = (Math.floor(target / padToMultipleOf) + 1) * padToMultipleOf;
  }
  return target;
}

/**
 * Pads `row` on the right with `value` up to `length` (longer rows stay as they are).
 * @param row the values
 * @param length the target length
 * @param value the padding value
 * @returns `row`, padded in place
 */
export function padRow<T>(row: T[], length: number, value: T): T[] {
  while (row.length < length) row.push(value);
  return row;
}

/** Rows padded to one width, one array per key. */
export interface PaddedRows {
  /** Token ids, padded with the pad token. */
  inputIds: number[][];
  /** Token types, padded with 0. */
  tokenTypeIds: number[][];
  /** 1 for tokens, 0 for padding. */
  attentionMask: number[][];
  /** The special-token mask, padded with 1. */
  specialTokensMask: number[][];
  /** `[start, end)` pairs, padded with `[0, 0]` (rows without offsets give none). */
  offsetMapping: [number, number][][];
}

/**
 * Pads encoded rows to `target` (a row longer than it, or every row with `target` null, keeps its
 * length).
 * @param rows the rows (their arrays are padded in place)
 * @param target the padded length, or `null` for no padding
 * @param padTokenId the id padding gets
 * @returns one array per key
 */
export function padRows(
  rows: readonly Row[],
  target: number | null,
  padTokenId: number,
): PaddedRows {
  const out: PaddedRows = {
    inputIds: [],
    tokenTypeIds: [],
    attentionMask: [],
    specialTokensMask: [],
    offsetMapping: [],
  };
  for (const row of rows) {
    const length = row.ids.length;
    const width = target === null ? length : Math.max(target, length);
    out.inputIds.push(padRow(row.ids, width, padTokenId));
    out.tokenTypeIds.push(padRow(row.typeIds, width, 0));
    const mask = new Array<number>(width).fill(0);
    mask.fill(1, 0, length);
    out.attentionMask.push(mask);
    out.specialTokensMask.push(padRow(row.special, width, 1));
    if (row.offsets !== null) {
      const pairs: [number, number][] = [];
      for (let k = 0; k < row.offsets.length; k += 2) {
        pairs.push([row.offsets[k]!, row.offsets[k + 1]!]);
      }
      out.offsetMapping.push(padRow(pairs, width, [0, 0]));
    }
  }
  return out;
}
