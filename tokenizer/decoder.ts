/**
 * The WordPiece decoder: tokens joined by spaces, `##` continuations glued to the previous
 * token, and Hugging Face's `clean_up_tokenization` for the spaces before punctuation and
 * English contractions.
 * @module
 */

/**
 * Joins WordPiece tokens into text (`" ".join(tokens).replace(" ##", "").strip()`).
 * @param tokens the token strings
 * @param prefix the continuation prefix, `##` for BERT
 * @returns the text
 */
export function joinWordPieces(tokens: readonly string[], prefix = "##"): string {
  return tokens.join(" ").replaceAll(" " + prefix, "").trim();
}

const CLEAN_UP: ReadonlyArray<readonly [string, string]> = [
  [" .", "."],
  [" ?", "?"],
  [" !", "!"],
  [" ,", ","],
  [" ' ", "'"],
  [" n't", "n't"],
  [" 'm", "'m"],
  [" 's", "'s"],
  [" 've", "'ve"],
  [" 're", "'re"],
];

/**
 * Removes the spaces tokenization put before punctuation and contractions, in Hugging Face's
 * order (`"it ' s"` becomes `"it's"`).
 * @param text decoded text
 * @returns the cleaned text
 * @example
 * ```ts
 * import { cleanUpTokenization } from "./decoder.ts";
 * cleanUpTokenization("hello , world !"); // "hello, world!"
 * ```
 */
export function cleanUpTokenization(text: string): string {
  let out = text;
  for (const [from, to] of CLEAN_UP) out = out.replaceAll(from, to);
  return out;
}
