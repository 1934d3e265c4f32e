/**
 * What a DPR checkpoint's keys say: the prefix each architecture's weights carry, and the keys a
 * transformers checkpoint may hold that the models do not use (registered buffers, and the BERT
 * pooler: DPR builds BERT without one, some exports still carry it). The loader, the converter
 * and the layers layout all read them from here.
 * @module
 */

/** The DPR architectures (`config.json`'s `architectures`). */
export type DprArchitectureName = "DPRQuestionEncoder" | "DPRContextEncoder" | "DPRReader";

/** State-dict prefix each architecture's weights carry. */
export const ARCHITECTURE_PREFIXES: Readonly<Record<DprArchitectureName, string>> = {
  DPRQuestionEncoder: "question_encoder.",
  DPRContextEncoder: "ctx_encoder.",
  DPRReader: "span_predictor.",
};

/** Keys a checkpoint may hold that models ignore: buffers and the unused BERT pooler. */
export const IGNORED_KEY_PATTERNS: readonly RegExp[] = [
  /(^|\.)position_ids$/,
  /(^|\.)embeddings\.token_type_ids$/,
  /(^|\.)pooler\.dense\.(weight|bias)$/,
];

/**
 * Whether models ignore `key` (a buffer or a BERT pooler weight).
 * @param key a state-dict key
 * @returns true for a key no model reads
 */
export function isIgnoredKey(key: string): boolean {
  return IGNORED_KEY_PATTERNS.some((re) => re.test(key));
}

/**
 * Checks that a checkpoint whose `config.json` names `architectures` holds a `className`.
 * transformers does not check this (its issue 9725) and silently loads random weights: a context
 * encoder's weights live under another prefix than a question encoder's. An empty list passes.
 * @param architectures `config.json`'s `architectures`
 * @param className the class being loaded, e.g. `"DPRQuestionEncoder"`
 * @param where names the checkpoint in the error
 * @throws TypeError when the checkpoint holds another class
 */
export function checkArchitectures(
  architectures: readonly string[],
  className: string,
  where: string,
): void {
  if (architectures.length > 0 && !architectures.includes(className)) {
    throw new TypeError(
      `Cannot load ${className} from ${where}: config.json's ` +
        `architectures is ${JSON.stringify(architectures)}, so it holds a ` +
        `${architectures.join(" / ")} checkpoint, not a ${className}`,
    );
  }
}
