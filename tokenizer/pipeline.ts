/**
 * The BERT encoding pipeline for one text: special tokens cut out, words cleaned and split
 * (`pre_tokenizer.ts`), each word normalized (`normalizer.ts`), split on punctuation and cut
 * into WordPieces (`wordpiece.ts`). Results are cached per word, so repeated words cost one
 * `Map` lookup.
 * @module
 */
import { CHAR_CJK, CHAR_REMOVED, CHAR_SPACE, charClass } from "./char_class.ts";
import type { BertNormalizer } from "./normalizer.ts";
import { forEachWord, splitOnPunctuation, splitOnSpecialTokens } from "./pre_tokenizer.ts";
import type { WordPiece } from "./wordpiece.ts";
import { hashRange, RangeTable } from "./range_table.ts";

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
  /** The token string of a word kept whole (`never_split`), which may not be in the vocabulary. */
  token?: string;
}

/** Options of {@linkcode BertPipeline}. */
export interface BertPipelineOptions {
  /** Word normalizer. */
  normalizer: BertNormalizer;
  /** WordPiece model. */
  wordPiece: WordPiece;
  /**
   * Words kept whole (`never_split`) and their ids, as Python's BasicTokenizer: a
   * whitespace-separated word matches as it is (composed to NFC) or once normalized (lower-cased,
   * accents stripped, as the normalizer does).
   */
  neverSplit?: ReadonlyMap<string, number>;
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
  readonly #neverSplit: ReadonlyMap<string, number> | null;
  // Word cache, looked up straight from the text without slicing a string first.
  readonly #cache = new RangeTable<WordEntry>(1 << 12);
  // State of the current call, read by the word visitor.
  #ids: number[] = [];
  #offsets: number[] | null = null;
  #tokens: (string | null)[] | null = null;
  #text = "";

  /** @param options the stages */
  constructor(options: BertPipelineOptions) {
    this.#normalizer = options.normalizer;
    this.#wordPiece = options.wordPiece;
    this.#specialIds = options.specialTokens;
    this.#specials = [...options.specialTokens.keys()];
    this.#handleChinese = options.handleChineseChars ?? true;
    this.#cacheSize = options.cacheSize ?? 200_000;
    const neverSplit = options.neverSplit;
    this.#neverSplit = neverSplit !== undefined && neverSplit.size > 0 ? neverSplit : null;
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
    const pieces = this.#mayHoldSpecial(text) ? splitOnSpecialTokens(text, this.#specials) : null;
    if (pieces === null) {
      this.#words(text, 0, text.length, withOffsets);
    } else {
      for (const piece of pieces) {
        if (piece.special !== null) {
          ids.push(this.#specialIds.get(piece.special)!);
          offsets?.push(piece.start, piece.end);
        } else {
          this.#words(text, piece.start, piece.end, withOffsets);
        }
      }
    }
    this.#ids = [];
    this.#offsets = null;
    this.#text = "";
    return { ids, offsets };
  }

  /**
   * Encodes one text (no special tokens added) and names each token: a word kept whole
   * (`never_split`) by its own string, every other token `null` (its vocabulary entry).
   * @param text the text
   * @returns ids and, per id, the kept word or null
   */
  encodeTokens(text: string): { ids: number[]; tokens: (string | null)[] } {
    const tokens: (string | null)[] = [];
    this.#tokens = tokens;
    try {
      const { ids } = this.encode(text, true);
      while (tokens.length < ids.length) tokens.push(null);
      return { ids, tokens };
    } finally {
      this.#tokens = null;
    }
  }

  /**
   * The `never_split` entry `word` matches, and its id, or null: the word itself (NFC) when
   * listed, else its normalized form (lower-cased and accents stripped, as the normalizer does).
   */
  #neverSplitMatch(word: string): { token: string; id: number } | null {
    const listed = this.#neverSplit;
    if (listed === null) return null;
    const original = this.#normalizer.nfc ? word.normalize("NFC") : word;
    const id = listed.get(original);
    if (id !== undefined) return { token: original, id };
    const key = this.#normalizer.normalizeWord(word).text;
    const keyId = listed.get(key);
    return keyId === undefined ? null : { token: key, id: keyId };
  }

  #mayHoldSpecial(text: string): boolean {
    for (const token of this.#specials) if (text.includes(token)) return true;
    return false;
  }

  #words(text: string, from: number, to: number, track: boolean): void {
    if (track) forEachWord(text, from, to, this.#visitTracked, true, this.#handleChinese);
    else this.#scanFast(text, from, to);
  }

  /**
   * `forEachWord` fused with the cache lookup: words are hashed while scanning and found in the
   * cache without building a string (only a word seen for the first time, or one with removed
   * characters inside, is sliced).
   */
  #scanFast(text: string, from: number, to: number): void {
    const ids = this.#ids;
    const chinese = this.#handleChinese;
    let start = -1;
    let end = -1;
    let hash = 0;
    let dirty = false; // a removed character lies inside the current word
    let i = from;
    while (i <= to) {
      let cls: number;
      let width = 1;
      let unit = 32;
      if (i === to) {
        cls = CHAR_SPACE;
      } else {
        unit = text.charCodeAt(i);
        if (unit < 128) {
          cls = ASCII_CLASS[unit]!;
        } else {
          let cp = unit;
          if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < to) {
            const low = text.charCodeAt(i + 1);
            if (low >= 0xdc00 && low <= 0xdfff) {
              cp = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
              width = 2;
            }
          }
          cls = charClass(cp);
          if (cls === CHAR_CJK && !chinese) cls = 0;
        }
      }
      if (cls === CHAR_SPACE || cls === CHAR_CJK) {
        if (start >= 0) {
          const entry = dirty
            ? this.#lookup(cleanWord(text, start, end))
            : this.#lookupRange(text, start, end, hash);
          const pieces = entry.ids;
          for (let k = 0; k < pieces.length; k++) ids.push(pieces[k]!);
          start = -1;
          dirty = false;
        }
        if (cls === CHAR_CJK) {
          const entry = this.#lookup(text.slice(i, i + width));
          for (let k = 0; k < entry.ids.length; k++) ids.push(entry.ids[k]!);
        }
      } else if (cls === CHAR_REMOVED) {
        if (start >= 0) dirty = true;
      } else {
        if (start < 0) {
          start = i;
          hash = 0;
        }
        hash = (Math.imul(hash, 31) + unit) | 0;
        if (width === 2) hash = (Math.imul(hash, 31) + text.charCodeAt(i + 1)) | 0;
        end = i + width;
      }
      i += width;
    }
  }

  #visitTracked = (word: string, _start: number, _end: number, chars: number[] | null): void => {
    const entry = this.#lookup(word);
    const ids = this.#ids;
    const offsets = this.#offsets!;
    const text = this.#text;
    const tokens = this.#tokens;
    if (tokens !== null) {
      while (tokens.length < ids.length) tokens.push(null);
      for (let i = 0; i < entry.ids.length; i++) tokens.push(entry.token ?? null);
    }
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
    return this.#lookupRange(word, 0, word.length, hashRange(word, 0, word.length));
  }

  #lookupRange(text: string, start: number, end: number, hash: number): WordEntry {
    const cached = this.#cache.find(text, start, end, hash);
    if (cached !== undefined) return cached;
    // A new word: flatten the key so the cache does not keep whole texts alive.
    const word = (" " + text.slice(start, end)).slice(1);
    const entry = this.#encodeWord(word);
    if (this.#cache.size >= this.#cacheSize) this.#cache.clear();
    else this.#cache.set(word, entry, hash);
    return entry;
  }

  #encodeWord(word: string): WordEntry {
    const kept = this.#neverSplitMatch(word);
    if (kept !== null) {
      let count = 0;
      for (const _ of word) count++;
      return { ids: [kept.id], chars: [0, count - 1], token: kept.token };
    }
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

/** Class of each ASCII character (see `char_class.ts`), for the scanning loop. */
const ASCII_CLASS: Uint8Array = (() => {
  const table = new Uint8Array(128);
  for (let c = 0; c < 128; c++) table[c] = charClass(c);
  return table;
})();

/** `text[start, end)` without the characters clean-up removes. */
function cleanWord(text: string, start: number, end: number): string {
  let out = "";
  let i = start;
  while (i < end) {
    const cp = text.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    if (charClass(cp) !== CHAR_REMOVED) out += text.slice(i, i + width);
    i += width;
  }
  return out;
}
