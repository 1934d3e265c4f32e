/**
 * The BERT normalizer for one word: lower-casing and accent stripping exactly as Hugging Face's
 * `BasicTokenizer` does them (the clean-up and CJK spacing happen while splitting words, see
 * `pre_tokenizer.ts`).
 *
 * Lower-casing is done one code point at a time: transformers lower-cases the text character by
 * character before splitting it (so `ΣΑΣ` becomes `σασ`, never the final-sigma `σας`), and the
 * Rust normalizer does the same.
 * @module
 */
import { removeNonspacingMarks } from "./char_class.ts";

/** Options of {@linkcode BertNormalizer}. */
export interface BertNormalizerOptions {
  /** Lower-case every character (`do_lower_case`). Default `true`. */
  lowercase?: boolean;
  /**
   * Strip accents (NFD, then drop nonspacing marks). `null` (the default) follows `lowercase`,
   * as in Hugging Face.
   */
  stripAccents?: boolean | null;
  /**
   * Compose the word to NFC when it is neither lower-cased nor stripped, as the Python
   * `BasicTokenizer` does (the Rust one does not). Default `true`.
   */
  nfc?: boolean;
}

/** A normalized word with the source of each of its UTF-16 units. */
export interface NormalizedWord {
  /** The normalized text. */
  text: string;
  /**
   * For each UTF-16 unit of `text`, the index (in code points) of the input character it comes
   * from; `null` when unit `j` comes from code point `j` (ASCII words).
   */
  sources: number[] | null;
}

/** Normalizes single words (no whitespace inside) the way BERT does. */
export class BertNormalizer {
  /** Whether words are lower-cased. */
  readonly lowercase: boolean;
  /** Whether accents are stripped. */
  readonly stripAccents: boolean;
  /** Whether words that are neither lower-cased nor stripped are composed to NFC. */
  readonly nfc: boolean;

  /** @param options how to normalize; see {@linkcode BertNormalizerOptions} */
  constructor(options: BertNormalizerOptions = {}) {
    this.lowercase = options.lowercase ?? true;
    this.stripAccents = options.stripAccents ?? this.lowercase;
    this.nfc = options.nfc ?? true;
  }

  /**
   * Normalizes one word.
   * @param word a word without whitespace or removed characters
   * @returns the normalized text and where each unit came from
   * @example
   * ```ts
   * import { BertNormalizer } from "./normalizer.ts";
   * new BertNormalizer().normalizeWord("Café").text; // "cafe"
   * ```
   */
  normalizeWord(word: string): NormalizedWord {
    let ascii = true;
    for (let i = 0; i < word.length; i++) {
      if (word.charCodeAt(i) >= 128) {
        ascii = false;
        break;
      }
    }
    if (ascii) return { text: this.lowercase ? word.toLowerCase() : word, sources: null };
    if (!this.lowercase && !this.stripAccents) return this.#compose(word, word);
    let text = "";
    const sources: number[] = [];
    let index = 0;
    for (const ch of word) {
      let out = this.lowercase ? ch.toLowerCase() : ch;
      if (this.stripAccents) out = removeNonspacingMarks(out.normalize("NFD"));
      text += out;
      for (let k = 0; k < out.length; k++) sources.push(index);
      index++;
    }
    // Python composes the text to NFC before lower-casing it; stripping accents decomposes it
    // again, so only lower-casing alone needs the composition ("e\u0301" is then "é").
    if (this.nfc && !this.stripAccents && text !== text.normalize("NFC")) {
      return this.#compose(word, text);
    }
    return { text, sources };
  }

  #compose(word: string, normalized: string): NormalizedWord {
    const text = this.nfc ? normalized.normalize("NFC") : normalized;
    // Composition merges a base with its marks; map each output character to the input
    // character at the same position (exact when nothing was composed).
    const inputCount = [...word].length;
    const sources: number[] = [];
    let index = 0;
    for (const ch of text) {
      const source = Math.min(index, inputCount - 1);
      for (let k = 0; k < ch.length; k++) sources.push(source);
      index++;
    }
    return { text, sources };
  }
}
