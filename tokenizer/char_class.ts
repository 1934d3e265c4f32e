/**
 * Character classes of the BERT normalizer and pre-tokenizer, as Hugging Face's `BasicTokenizer`
 * (`_is_whitespace`, `_is_control`, `_is_punctuation`, `_is_chinese_char`) defines them.
 *
 * Classes are computed once per code point and cached in a table, so the hot loop never runs a
 * regular expression per character.
 * @module
 */

/** A character of a word: kept as is. */
export const CHAR_WORD = 1;
/** Punctuation (ASCII symbols or Unicode category P*): always a token of its own. */
export const CHAR_PUNCT = 2;
/** Whitespace (tab, newline, carriage return, Zs, and U+2028/U+2029 that Python's split uses). */
export const CHAR_SPACE = 3;
/** Removed by clean-up: NUL, U+FFFD and every category C* character except tab/newline/CR. */
export const CHAR_REMOVED = 4;
/** A CJK ideograph: surrounded by spaces, so always a word of its own. */
export const CHAR_CJK = 5;

const RE_CONTROL = /^\p{C}$/u;
const RE_PUNCT = /^\p{P}$/u;
const RE_SPACE_SEP = /^\p{Zs}$/u;
const RE_NONSPACING_MARK = /\p{Mn}/gu;

/** Whether `cp` lies in one of the CJK Unified Ideographs blocks that BERT spaces out. */
export function isChineseChar(cp: number): boolean {
  return (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f);
}

/** Whether `cp` is punctuation for BERT: ASCII non-alphanumeric symbols or category P*. */
export function isPunctuation(cp: number): boolean {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96)) return true;
  if (cp >= 123 && cp <= 126) return true;
  return RE_PUNCT.test(String.fromCodePoint(cp));
}

function computeClass(cp: number): number {
  if (cp === 9 || cp === 10 || cp === 13 || cp === 32) return CHAR_SPACE;
  if (cp === 0 || cp === 0xfffd) return CHAR_REMOVED;
  const ch = String.fromCodePoint(cp);
  if (RE_CONTROL.test(ch)) return CHAR_REMOVED;
  // Zs becomes a space in clean-up; U+2028/U+2029 survive clean-up but Python's str.split cuts there.
  if (RE_SPACE_SEP.test(ch) || cp === 0x2028 || cp === 0x2029) return CHAR_SPACE;
  if (isChineseChar(cp)) return CHAR_CJK;
  if (isPunctuation(cp)) return CHAR_PUNCT;
  return CHAR_WORD;
}

const BMP_CLASSES = new Uint8Array(0x10000);

/** The class (`CHAR_*`) of code point `cp`, cached for the Basic Multilingual Plane. */
export function charClass(cp: number): number {
  if (cp < 0x10000) {
    const cached = BMP_CLASSES[cp]!;
    if (cached !== 0) return cached;
    const computed = computeClass(cp);
    BMP_CLASSES[cp] = computed;
    return computed;
  }
  return computeClass(cp);
}

/** Removes every nonspacing mark (category Mn) from `text`. */
export function removeNonspacingMarks(text: string): string {
  return text.replace(RE_NONSPACING_MARK, "");
}
