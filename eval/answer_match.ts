/**
 * Answer matching as DPR evaluates retrieval and reading.
 *
 * Retrieval (`hasAnswer`): a passage "has the answer" when, after Unicode NFD normalisation, the
 * answer's lower-cased token sequence occurs contiguously in the passage's lower-cased token
 * sequence ("string" mode), or when the answer, read as a case-insensitive multi-line regular
 * expression, matches somewhere in the NFD-normalised passage ("regex" mode; a pattern that does
 * not compile matches nothing). Tokens are those of DPR's simple tokenizer: maximal runs of
 * letters, digits and combining marks, and every other single character that is neither a
 * separator nor a control/format character. As in DPR, an answer with no tokens matches any
 * passage.
 *
 * Reading (`exactMatch`): SQuAD's normalisation (lower case, ASCII punctuation removed, the
 * articles a/an/the removed, whitespace collapsed) then string equality.
 * @module
 */

/** How answers are compared with passages. */
export type MatchMode = "string" | "regex";

const TOKEN = /[\p{L}\p{N}\p{M}]+|[^\p{Z}\p{C}]/gu;

/**
 * DPR's simple tokenisation, lower-cased.
 * @param text any text (normalise it first for DPR semantics)
 * @returns the tokens in order
 */
export function simpleTokens(text: string): string[] {
  return Array.from(text.matchAll(TOKEN), (m) => m[0].toLowerCase());
}

/**
 * Whether `text` contains one of `answers`, as DPR's `has_answer` decides.
 * @param answers the gold answers (strings, or regular expressions in "regex" mode)
 * @param text the passage text
 * @param mode "string" (token sequence match, default) or "regex"
 * @returns true when some answer matches
 */
export function hasAnswer(
  answers: readonly string[],
  text: string,
  mode: MatchMode = "string",
): boolean {
  const normalized = text.normalize("NFD");
  if (mode === "regex") {
    for (const answer of answers) {
      let pattern: RegExp;
      try {
        pattern = new RegExp(answer.normalize("NFD"), "imu");
      } catch {
        continue;
      }
      if (pattern.test(normalized)) return true;
    }
    return false;
  }
  if (mode !== "string") {
    throw new RangeError(
      `Cannot match answers: mode must be "string" or "regex": received ${mode}`,
    );
  }
  const tokens = simpleTokens(normalized);
  for (const answer of answers) {
    const want = simpleTokens(answer.normalize("NFD"));
    for (let i = 0; i + want.length <= tokens.length; i++) {
      let ok = true;
      for (let j = 0; j < want.length; j++) {
        if (tokens[i + j] !== want[j]) {
          ok = false;
          break;
        }
      }
      if (ok) return true;
    }
  }
  return false;
}

const PUNCTUATION = new Set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~");
const ARTICLES = /(?<![\p{L}\p{N}\p{M}_])(?:a|an|the)(?![\p{L}\p{N}\p{M}_])/gu;

/**
 * SQuAD/DPR answer normalisation: lower case, drop ASCII punctuation, drop articles, collapse
 * whitespace.
 * @param answer an answer string
 * @returns the normalised string
 */
export function normalizeAnswer(answer: string): string {
  const lower = answer.toLowerCase();
  const noPunct = Array.from(lower).filter((ch) => !PUNCTUATION.has(ch)).join("");
  const noArticles = noPunct.replace(ARTICLES, " ");
  return noArticles.split(/\s+/u).filter((s) => s !== "").join(" ");
}

/**
 * Whether a predicted answer equals one of the gold answers after {@link normalizeAnswer}.
 * @param prediction the predicted answer
 * @param golds the gold answers
 * @returns true on an exact match
 */
export function exactMatch(prediction: string, golds: readonly string[]): boolean {
  const p = normalizeAnswer(prediction);
  return golds.some((g) => normalizeAnswer(g) === p);
}
