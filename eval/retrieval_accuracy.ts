/**
 * DPR's evaluation numbers: top-k retrieval accuracy (the share of questions with an answer in at
 * least one of the first k retrieved passages) and reader exact match.
 * @module
 */
import { exactMatch, hasAnswer, type MatchMode } from "./answer_match.ts";

/** The retrieval accuracy for each k, plus per-question first-hit ranks. */
export interface RetrievalAccuracy {
  /** Number of questions. */
  count: number;
  /** k -> share of questions (0..1) answered within the first k passages. */
  topK: Record<number, number>;
  /** For each question, the 0-based rank of the first passage with an answer, or -1. */
  firstHit: number[];
}

/**
 * Computes top-k retrieval accuracy.
 * @param answers the gold answers per question
 * @param passages the retrieved passage texts per question, best first
 * @param ks the cut-offs (default 1, 5, 20, 100)
 * @param mode answer matching mode (default "string")
 * @returns accuracy per k and first-hit ranks
 */
export function retrievalAccuracy(
  answers: readonly (readonly string[])[],
  passages: readonly (readonly string[])[],
  ks: readonly number[] = [1, 5, 20, 100],
  mode: MatchMode = "string",
): RetrievalAccuracy {
  if (answers.length !== passages.length) {
    throw new RangeError(
      `Cannot compute retrieval accuracy: ${answers.length} answer lists but ` +
        `${passages.length} passage lists`,
    );
  }
  const firstHit = answers.map((golds, i) =>
    passages[i]!.findIndex((t) => hasAnswer(golds, t, mode))
  );
  const topK: Record<number, number> = {};
  for (const k of ks) {
    const hits = firstHit.filter((r) => r >= 0 && r < k).length;
    topK[k] = answers.length === 0 ? 0 : hits / answers.length;
  }
  return { count: answers.length, topK, firstHit };
}

/**
 * The share of predictions that exactly match one of their gold answers.
 * @param predictions one predicted answer per question ("" when none)
 * @param answers the gold answers per question
 * @returns exact match, 0..1
 */
export function exactMatchRate(
  predictions: readonly string[],
  answers: readonly (readonly string[])[],
): number {
  if (predictions.length !== answers.length) {
    throw new RangeError(
      `Cannot compute exact match: ${predictions.length} predictions but ${answers.length} answer lists`,
    );
  }
  if (predictions.length === 0) return 0;
  return predictions.filter((p, i) => exactMatch(p, answers[i]!)).length / predictions.length;
}
