/**
 * The BERT encoding pipeline for one text: special tokens cut out, words cleaned and split
 * (`pre_tokenizer.ts`), each word normalized (`normalizer.ts`), split on punctuation and cut
 * into WordPieces (`wordpiece.ts`). Results are cached per word, so repeated words cost one
 * `Map` lookup.
 * @module
 */
import type { BertNormalizer } from "./normalizer.ts";
import { forEachWord, splitOnPunctuation, splitOnSpecialTokens } from "./pre_tokenizer.ts";
import type { WordPiece } from "./wordpiece.ts";

/** The ids of one encoded text, with UTF-16 offsets when asked for. */
export interface TextEncoding {
  /** Token ids. */
  ids: number[];
  /** `[start, end)` UTF-16 offsets of each token in the text, flat; `null` when not asked. */
  offsets: number[] | null;
}

interface WordEntry {
  ids: number[];
  /** For each piece, its first and last code point index in the word, flat. */
  chars: number[];
}

/** Options of {@linkcode BertPipeline}. */
export interface BertPipelineOptions {
  /** Word normalizer. */
  normalizer: BertNormalizer;
  /** WordPiece model. */
  wordPiece: WordPiece;
  /** Special tokens (never split nor normalized) and their ids. */
  specialTokens: ReadonlyMap<string, number>;
  /** Space out CJK ideographs (`tokenize_chinese_chars`). Default `true`. */
  handleChineseChars?: boolean;
  /** Most words kept in the cache before it is emptied. Default 200 000. */
  cacheSize?: number;
}

/** Turns text into WordPiece ids (and offsets), stage by stage. */
export class BertPipeline {
  readonly #normalizer: BertNormalizer;
  readonly #wordPiece: WordPiece;
  readonly #specialIds: ReadonlyMap<string, number>;
  readonly #specials: readonly string[];
  readonly #handleChinese: boolean;
  readonly #cacheSize: number;
  readonly #cache = new Map<string, WordEntry>();
  // State of the current call, read by the word visitor.
  #ids: number[] = [];
  #offsets: number[] | null = null;
  #text = "";

  /** @param options the stages */
  constructor(options: BertPipelineOptions) {
    this.#normalizer = options.normalizer;
    this.#wordPiece = options.wordPiece;
    this.#specialIds = options.specialTokens;
    this.#specials = [...options.specialTokens.keys()];
    this.#handleChinese = options.handleChineseChars ?? true;
    this.#cacheSize = options.cacheSize ?? 200_000;
  }

  /**
   * Encodes one text without special tokens added around it.
   * @param text the text
   * @param withOffsets whether to compute UTF-16 offsets
   * @returns ids and offsets
   */
  encode(text: string, withOffsets: boolean): TextEncoding {
    const ids: number[] = [];
    const offsets = withOffsets ? [] as number[] : null;
    this.#ids = ids;
    this.#offsets = offsets;
    this.#text = text;
    const visit = withOffsets ? this.#visitTracked : this.#visitFast;
    const pieces = this.#mayHoldSpecial(text) ? splitOnSpecialTokens(text, this.#specials) : null;
    if (pieces === null) {
      this.#words(text, 0, text.length, visit, withOffsets);
    } else {
      for (const piece of pieces) {
        if (piece.special !== null) {
          ids.push(this.#specialIds.get(piece.special)!);
          offsets?.push(piece.start, piece.end);
        } else {
          this.#words(text, piece.start, piece.end, visit, withOffsets);
        }
      }
    }
    this.#ids = [];
    this.#offsets = null;
    this.#text = "";
    return { ids, offsets };
  }

  #mayHoldSpecial(text: string): boolean {
    for (const token of this.#specials) if (text.includes(token)) return true;
    return false;
  }

  #words(
    text: string,
    from: number,
    to: number,
    visit: (word: string, start: number, end: number, chars: number[] | null) => void,
    track: boolean,
  ): void {
    forEachWord(text, from, to, visit, track, this.#handleChinese);
  }

  #visitFast = (word: string): void => {
    const entry = this.#lookup(word);
    const ids = this.#ids;
    for (let i = 0; i < entry.ids.length; i++) ids.push(entry.ids[i]!);
  };

  #visitTracked = (word: string, _start: number, _end: number, chars: number[] | null): void => {
    const entry = this.#lookup(word);
    const ids = this.#ids;
    const offsets = this.#offsets!;
    const text = this.#text;
    for (let i = 0; i < entry.ids.length; i++) {
      ids.push(entry.ids[i]!);
      const first = chars![entry.chars[2 * i]!]!;
      const last = chars![entry.chars[2 * i + 1]!]!;
      const unit = text.charCodeAt(last);
      const width = unit >= 0xd800 && unit <= 0xdbff && last + 1 < text.length ? 2 : 1;
      offsets.push(first, last + width);
    }
  };

  #lookup(word: string): WordEntry {
    let entry = this.#cache.get(word);
    if (entry === undefined) {
      entry = this.#encodeWord(word);
      if (this.#cache.size >= this.#cacheSize) this.#cache.clear();
      this.#cache.set(word, entry);
    }
    return entry;
  }

  #encodeWord(word: string): WordEntry {
    const normalized = this.#normalizer.normalizeWord(word);
    const text = normalized.text;
    const sources = normalized.sources;
    const pieces: number[] = [];
    splitOnPunctuation(text, pieces);
    const ids: number[] = [];
    const spans: number[] = [];
    for (let p = 0; p < pieces.length; p += 2) {
      this.#wordPiece.tokenize(text, pieces[p]!, pieces[p + 1]!, ids, spans);
    }
    const chars: number[] = new Array(spans.length);
    for (let k = 0; k < spans.length; k += 2) {
      const first = spans[k]!;
      const last = spans[k + 1]! - 1;
      chars[k] = sources === null ? first : sources[first]!;
      chars[k + 1] = sources === null ? last : sources[last]!;
    }
    return { ids, chars };
  }
}

/**
 * Converts flat UTF-16 offsets in `text` to code point offsets (Python `str` indices).
 * @param text the text the offsets point into
 * @param offsets flat `[start, end)` pairs in UTF-16 units
 * @returns the same pairs in code points
 */
export function utf16ToCodePointOffsets(text: string, offsets: readonly number[]): number[] {
  let astral = false;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      astral = true;
      break;
    }
  }
  if (!astral) return offsets.slice();
  const index = new Int32Array(text.length + 1);
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    index[i] = count;
    const unit = text.charCodeAt(i);
    const pair = unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length &&
      text.charCodeAt(i + 1) >= 0xdc00 && text.charCodeAt(i + 1) <= 0xdfff;
    if (pair) {
      index[i + 1] = count;
      i++;
    }
    count++;
  }
  index[text.length] = count;
  return offsets.map((unit) => index[unit]!);
}
