/**
 * `BertTokenizerOptions`: the fields of `tokenizer_config.json` a BERT tokenizer takes, in a file
 * of their own so the file loader (`pretrained.ts`) can name them without importing the tokenizer.
 * @module
 */

/** Options of a BERT tokenizer (the fields of `tokenizer_config.json`, in camelCase). */
export interface BertTokenizerOptions {
  /** Lower-case the input. Default `true`. */
  doLowerCase?: boolean;
  /** Strip accents; `null` (default) follows `doLowerCase`. */
  stripAccents?: boolean | null;
  /** Put spaces around CJK ideographs. Default `true`. */
  tokenizeChineseChars?: boolean;
  /** Unknown token. Default `[UNK]`. */
  unkToken?: string;
  /** Separator token. Default `[SEP]`. */
  sepToken?: string;
  /** Padding token. Default `[PAD]`. */
  padToken?: string;
  /** Classification token. Default `[CLS]`. */
  clsToken?: string;
  /** Mask token. Default `[MASK]`. */
  maskToken?: string;
  /** More special tokens (each must be in the vocabulary). */
  additionalSpecialTokens?: readonly string[];
  /** Length used when `maxLength` is needed but not given. Default: unlimited. */
  modelMaxLength?: number;
  /** Default of `decode`'s `cleanUpTokenizationSpaces`. Default `true`. */
  cleanUpTokenizationSpaces?: boolean;
  /** Longer words (in code points) become `[UNK]`. Default 100. */
  maxInputCharsPerWord?: number;
  /** Prefix of WordPiece continuations. Default `##`. */
  continuingSubwordPrefix?: string;
  /**
   * Compose words to NFC when neither lower-casing nor stripping accents (what the Python
   * tokenizer does). Default `true` (`false` for the Fast classes, as in Rust).
   */
  nfc?: boolean;
  /** Words kept in the encoding cache. Default 200 000. */
  cacheSize?: number;
  /**
   * Words (`never_split`) kept whole: a whitespace-separated word equal to one of them (after
   * lower-casing when `doLowerCase`) is neither split on punctuation nor into WordPieces; it
   * becomes its vocabulary id, or `[UNK]`. As in Hugging Face, only the Python-style classes use
   * it: the Fast classes ignore it, as `BertTokenizerFast` does.
   */
  neverSplit?: readonly string[];
  /**
   * Added tokens that are not special (Hugging Face's `added_tokens` with `special: false`):
   * each must be in the vocabulary; found anywhere in the text (exactly, before normalization)
   * they become their id, like special tokens, but `decode` never skips them.
   */
  addedTokens?: readonly string[];
}
