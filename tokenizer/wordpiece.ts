/**
 * The WordPiece model: greedy longest-match-first over a vocabulary, continuation pieces marked
 * with a prefix (`##`), and words longer than `maxInputCharsPerWord` code points (or with no
 * match) become the unknown token.
 * @module
 */
import { RangeTable } from "./range_table.ts";

/** Options of {@linkcode WordPiece}. */
export interface WordPieceOptions {
  /** The id of the unknown token. */
  unkId: number;
  /** Prefix of continuation pieces. Default `"##"`. */
  continuingSubwordPrefix?: string;
  /** Longer words (in code points) become the unknown token. Default 100. */
  maxInputCharsPerWord?: number;
}

/** Greedy longest-match WordPiece over a `Map` vocabulary. */
export class WordPiece {
  /** Token id of the unknown token. */
  readonly unkId: number;
  /** Prefix of continuation pieces. */
  readonly prefix: string;
  /** Longest word, in code points, that is split; longer ones are unknown. */
  readonly maxInputCharsPerWord: number;
  readonly #initial = new RangeTable<number>();
  readonly #continuing = new RangeTable<number>();
  readonly #longest: number;
  #prefixHashes = new Int32Array(64);

  /**
   * @param vocab token string to id (see `Vocabulary.tokenToId`)
   * @param options unknown token id, prefix and word limit
   */
  constructor(vocab: ReadonlyMap<string, number>, options: WordPieceOptions) {
    this.unkId = options.unkId;
    this.prefix = options.continuingSubwordPrefix ?? "##";
    this.maxInputCharsPerWord = options.maxInputCharsPerWord ?? 100;
    let longest = 1;
    // forEach, not for...of: a vocabulary is read once, by unoptimized code, where each entry of
    // an iterator is two fresh objects (3 MB of garbage for BERT's 30,522 tokens).
    vocab.forEach((id, token) => {
      this.#initial.set(token, id);
      if (this.prefix.length > 0 && token.startsWith(this.prefix)) {
        const rest = token.slice(this.prefix.length);
        this.#continuing.set(rest, id);
        longest = Math.max(longest, rest.length);
      }
      longest = Math.max(longest, token.length);
    });
    this.#longest = longest;
    this.#prefixHashes = new Int32Array(longest + 1);
  }

  /**
   * Splits `text[from, to)` (one pre-tokenized word) into pieces.
   * @param text normalized text holding the word
   * @param from UTF-16 start of the word
   * @param to UTF-16 end (exclusive) of the word
   * @param ids receives the piece ids
   * @param spans when given, receives each piece's `[start, end)` UTF-16 range, flat
   */
  tokenize(text: string, from: number, to: number, ids: number[], spans: number[] | null): void {
    if (to <= from) return;
    let count = 0;
    for (let i = from; i < to; i++) {
      const unit = text.charCodeAt(i);
      if (unit < 0xdc00 || unit > 0xdfff) count++;
    }
    if (count > this.maxInputCharsPerWord) {
      ids.push(this.unkId);
      if (spans !== null) spans.push(from, to);
      return;
    }
    const firstId = ids.length;
    const firstSpan = spans === null ? 0 : spans.length;
    let start = from;
    const hashes = this.#prefixHashes;
    while (start < to) {
      const table = start === from ? this.#initial : this.#continuing;
      const limit = Math.min(to, start + this.#longest);
      // hashes[k]: hash of text[start, start + k), so no candidate is sliced to be looked up.
      let hash = 0;
      for (let i = start; i < limit; i++) {
        hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
        hashes[i - start + 1] = hash;
      }
      let end = limit;
      let found = -1;
      while (end > start) {
        // Never cut a surrogate pair: Python slices by code point.
        const last = text.charCodeAt(end - 1);
        if (end < to && last >= 0xd800 && last <= 0xdbff) {
          end--;
          continue;
        }
        const id = table.find(text, start, end, hashes[end - start]!);
        if (id !== undefined) {
          found = id;
          break;
        }
        end--;
      }
      if (found < 0) {
        ids.length = firstId;
        ids.push(this.unkId);
        if (spans !== null) {
          spans.length = firstSpan;
          spans.push(from, to);
        }
        return;
      }
      ids.push(found);
      if (spans !== null) spans.push(start, end);
      start = end;
    }
  }
}
