/**
 * The BERT post-processor: `[CLS] A [SEP]` for one sequence, `[CLS] A [SEP] B [SEP]` for a pair,
 * with token type 0 for the first part and 1 for `B [SEP]`.
 * @module
 */
import type { TokenSequence } from "./truncation.ts";

/** One encoded row before padding: ids, token types, special-token mask, flat offsets. */
export interface Row {
  /** Token ids. */
  ids: number[];
  /** Token types. */
  typeIds: number[];
  /** 1 for added special tokens. */
  special: number[];
  /** Two numbers per token, or `null`. */
  offsets: number[] | null;
}

/** Adds BERT's special tokens around one or two sequences. */
export class BertPostProcessor {
  /** Id of `[CLS]`. */
  readonly clsId: number;
  /** Id of `[SEP]`. */
  readonly sepId: number;

  /**
   * Builds the post-processor.
   * @param clsId id of the classification token
   * @param sepId id of the separator token
   */
  constructor(clsId: number, sepId: number) {
    this.clsId = clsId;
    this.sepId = sepId;
  }

  /** How many special tokens a single sequence (2) or a pair (3) gets. */
  numSpecialTokensToAdd(pair: boolean): number {
    return pair ? 3 : 2;
  }

  /**
   * @param a the first sequence's ids
   * @param b the second sequence's ids, or `null`
   * @returns `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`
   */
  buildInputs(a: readonly number[], b: readonly number[] | null): number[] {
    const out = [this.clsId, ...a, this.sepId];
    if (b !== null) out.push(...b, this.sepId);
    return out;
  }

  /**
   * @param aLength length of the first sequence
   * @param bLength length of the second sequence, or `null`
   * @returns 0 for `[CLS] A [SEP]`, 1 for `B [SEP]`
   */
  tokenTypeIds(aLength: number, bLength: number | null): number[] {
    const out = new Array<number>(aLength + 2).fill(0);
    if (bLength !== null) { for (let i = 0; i <= bLength; i++) out.push(1); }
    return out;
  }

  /**
   * @param aLength length of the first sequence
   * @param bLength length of the second sequence, or `null`
   * @returns 1 where a special token is added, else 0
   */
  specialTokensMask(aLength: number, bLength: number | null): number[] {
    const out = [1, ...new Array<number>(aLength).fill(0), 1];
    if (bLength !== null) out.push(...new Array<number>(bLength).fill(0), 1);
    return out;
  }

  /**
   * One encoded row from its (truncated) sequences: with `addSpecial`, `[CLS] a [SEP] (b [SEP])`
   * with token types and the special-token mask; without, `a` and `b` joined, all type 0 and not
   * special. Offsets, when kept, get `[0, 0]` for each added token.
   * @param a the first sequence
   * @param b the second sequence, or `null`
   * @param addSpecial whether to add the special tokens
   * @param withOffsets whether to return offsets (the sequences then carry them)
   * @returns the row
   */
  row(a: TokenSequence, b: TokenSequence | null, addSpecial: boolean, withOffsets: boolean): Row {
    const bLength = b === null ? null : b.ids.length;
    let offsets: number[] | null = null;
    if (withOffsets) {
      offsets = addSpecial ? [0, 0, ...a.offsets!, 0, 0] : [...a.offsets!];
      if (b !== null && b.offsets !== null) {
        offsets.push(...b.offsets);
        if (addSpecial) offsets.push(0, 0);
      }
    }
    if (addSpecial) {
      return {
        ids: this.buildInputs(a.ids, b === null ? null : b.ids),
        typeIds: this.tokenTypeIds(a.ids.length, bLength),
        special: this.specialTokensMask(a.ids.length, bLength),
        offsets,
      };
    }
    const ids = b === null ? a.ids.slice() : [...a.ids, ...b.ids];
    return {
      ids,
      typeIds: new Array<number>(ids.length).fill(0),
      special: new Array<number>(ids.length).fill(0),
      offsets,
    };
  }
}
