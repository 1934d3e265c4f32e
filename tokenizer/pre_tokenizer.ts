/**
 * BERT pre-tokenization: special tokens are cut out first (never split, never normalized), the
 * rest is cleaned (control characters, NUL and U+FFFD dropped), split on whitespace, CJK
 * ideographs become words of their own, and each normalized word is split on punctuation.
 * Iterates by code point.
 * @module
 */
import { CHAR_CJK, CHAR_PUNCT, CHAR_REMOVED, CHAR_SPACE, charClass } from "./char_class.ts";

/** A piece of text between special tokens, or a special token itself. */
export interface TextPiece {
  /** UTF-16 start in the text. */
  start: number;
  /** UTF-16 end (exclusive) in the text. */
  end: number;
  /** The special token's string when this piece is one, else `null`. */
  special: string | null;
}

/**
 * Cuts `text` at every occurrence of a special token (leftmost first, longest on ties), as the
 * added-tokens trie of Hugging Face does.
 * @param text the input text
 * @param specials the special token strings (e.g. `[CLS]`)
 * @returns the pieces in order, special tokens marked
 */
export function splitOnSpecialTokens(text: string, specials: readonly string[]): TextPiece[] {
  const pieces: TextPiece[] = [];
  let from = 0;
  while (from < text.length) {
    let best = -1;
    let bestToken = "";
    for (const token of specials) {
      if (token.length === 0) continue;
      const at = text.indexOf(token, from);
      if (at < 0) continue;
      if (best < 0 || at < best || (at === best && token.length > bestToken.length)) {
        best = at;
        bestToken = token;
      }
    }
    if (best < 0) break;
    if (best > from) pieces.push({ start: from, end: best, special: null });
    pieces.push({ start: best, end: best + bestToken.length, special: bestToken });
    from = best + bestToken.length;
  }
  if (from < text.length) pieces.push({ start: from, end: text.length, special: null });
  return pieces;
}

/**
 * Called for each word: `word` is its text without removed characters, `start`/`end` its UTF-16
 * range in the text, and `charStarts` (only when asked for) the UTF-16 start of each of its
 * kept code points. `charStarts` is reused between calls.
 */
export type WordVisitor = (
  word: string,
  start: number,
  end: number,
  charStarts: number[] | null,
) => void;

/**
 * Splits `text[from, to)` into cleaned words: whitespace separates words, control characters
 * (and NUL, U+FFFD) vanish, and every CJK ideograph is a word of its own.
 * @param text the text
 * @param from UTF-16 start
 * @param to UTF-16 end (exclusive)
 * @param visit called once per word, in order
 * @param trackChars whether to pass the start of each kept code point
 * @param handleChinese whether CJK ideographs are words of their own (default `true`)
 */
export function forEachWord(
  text: string,
  from: number,
  to: number,
  visit: WordVisitor,
  trackChars: boolean,
  handleChinese = true,
): void {
  const charStarts: number[] | null = trackChars ? [] : null;
  let wordStart = -1; // UTF-16 start of the first kept character of the current word
  let wordEnd = -1;
  let pending = ""; // text of the word when characters were removed inside it
  let contiguous = true;
  const flush = (): void => {
    if (wordStart < 0) return;
    const word = contiguous ? text.slice(wordStart, wordEnd) : pending;
    visit(word, wordStart, wordEnd, charStarts);
    wordStart = -1;
    pending = "";
    contiguous = true;
    if (charStarts !== null) charStarts.length = 0;
  };
  const limit = Math.min(to, text.length);
  let i = Math.max(0, from);
  while (i < limit) {
    let cp = text.charCodeAt(i);
    let width = 1;
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < limit) {
      const low = text.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        width = 2;
      }
    }
    const cls = charClass(cp);
    if (cls === CHAR_SPACE) {
      flush();
    } else if (cls === CHAR_REMOVED) {
      if (wordStart >= 0 && contiguous) {
        contiguous = false;
        pending = text.slice(wordStart, wordEnd);
      }
    } else if (cls === CHAR_CJK && handleChinese) {
      flush();
      if (charStarts !== null) charStarts.push(i);
      visit(text.slice(i, i + width), i, i + width, charStarts);
      if (charStarts !== null) charStarts.length = 0;
    } else {
      if (wordStart < 0) wordStart = i;
      else if (!contiguous) pending += text.slice(i, i + width);
      wordEnd = i + width;
      if (charStarts !== null) charStarts.push(i);
    }
    i += width;
  }
  flush();
}

/**
 * Splits a normalized word on punctuation: each punctuation character is a piece of its own.
 * @param word the normalized word
 * @param out receives `[start, end)` UTF-16 pairs, flat
 */
export function splitOnPunctuation(word: string, out: number[]): void {
  let start = -1;
  let i = 0;
  while (i < word.length) {
    let cp = word.charCodeAt(i);
    let width = 1;
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < word.length) {
      const low = word.charCodeAt(i + 1);
      if (low >= 0xdc00 && low <= 0xdfff) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        width = 2;
      }
    }
    if (charClass(cp) === CHAR_PUNCT) {
      if (start >= 0) out.push(start, i);
      out.push(i, i + width);
      start = -1;
    } else if (start < 0) {
      start = i;
    }
    i += width;
  }
  if (start >= 0) out.push(start, word.length);
}
