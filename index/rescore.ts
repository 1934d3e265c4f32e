/**
 * Re-scoring: the candidates a search finds over quantized (float16 or int8) vectors, re-ranked
 * by their exact inner products with the float32 originals (`original_vectors.ts`), as FAISS's
 * `IndexRefineFlat` and Qdrant's `rescore` do.
 *
 * A search of `k` takes the best `k * oversample` rows by the quantized scores, then reads only
 * those rows' originals: each row once, however many queries of the batch found it, in row order
 * (the file's order, so adjacent candidates share one read). Each query's candidates are scored
 * exactly (products summed in float64, rounded to float32) and the best `k` kept, ties by row.
 * Wherever the quantized search ranks a true top-`k` row within its first `k * oversample`, the
 * result is the float32 exact one.
 * @module
 */
import type { OriginalVectors } from "./original_vectors.ts";

/** Candidates per hit by default: measured in `bench/index_bench.ts` (README, index section). */
export const DEFAULT_OVERSAMPLE = 2;

/** Options of one `DenseIndex.search`. */
export interface DenseSearchOptions {
  /**
   * Re-score the candidates with the float32 originals (default: the index's `rescore` option,
   * true; ignored without originals): false returns the quantized scores as they are.
   */
  rescore?: boolean;
  /** Candidates per hit to re-score (default: the index's `oversample`, 2); at least 1. */
  oversample?: number;
}

/** A query's hits: scores (highest first) and their rows. */
export interface RankedRows {
  /** Scores, highest first. */
  scores: Float32Array;
  /** The row of each score. */
  rows: Int32Array;
}

/**
 * Checks an oversample factor: a number >= 1.
 * @param oversample the value
 * @param what names the caller in the error
 * @returns the value
 */
export function checkOversample(oversample: number, what: string): number {
  if (typeof oversample !== "number" || !(oversample >= 1) || oversample === Infinity) {
    throw new RangeError(
      `${what}: oversample must be a finite number >= 1: received ${oversample}`,
    );
  }
  return oversample;
}

/**
 * Re-ranks each query's candidates by their exact scores against the originals.
 * @param originals the float32 rows
 * @param queries `nq * dim` float32 values, row-major
 * @param candidates per query, the rows the quantized search found
 * @param k hits to keep per query
 * @returns per query, the best `k` candidates by exact score (ties: lower row first)
 */
export async function rescore(
  originals: OriginalVectors,
  queries: Float32Array,
  candidates: readonly RankedRows[],
  k: number,
): Promise<RankedRows[]> {
  const dim = originals.dim, nq = candidates.length;
  // Every (row, query) pair as row * nq + query, sorted: by row, then query.
  let total = 0;
  for (const c of candidates) total += c.rows.length;
  const pairs = new Float64Array(total);
  let n = 0;
  candidates.forEach((c, i) => {
    for (const row of c.rows) pairs[n++] = row * nq + i;
  });
  pairs.sort();
  // The distinct rows, and where each one's pairs start.
  const rows = new Int32Array(total), starts = new Int32Array(total + 1);
  let distinct = 0;
  for (let p = 0; p < total; p++) {
    const row = Math.floor(pairs[p]! / nq);
    if (distinct === 0 || rows[distinct - 1] !== row) {
      rows[distinct] = row;
      starts[distinct++] = p;
    }
  }
  starts[distinct] = total;
  const found = candidates.map((c) => ({
    rows: new Int32Array(c.rows.length),
    scores: new Float64Array(c.rows.length),
    size: 0,
  }));
  await originals.forEachRow(rows.subarray(0, distinct), (at, values) => {
    const row = rows[at]!;
    for (let p = starts[at]!; p < starts[at + 1]!; p++) {
      const i = pairs[p]! - row * nq, q = i * dim;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0, j = 0;
      for (; j + 3 < dim; j += 4) {
        s0 += queries[q + j]! * values[j]!;
        s1 += queries[q + j + 1]! * values[j + 1]!;
        s2 += queries[q + j + 2]! * values[j + 2]!;
        s3 += queries[q + j + 3]! * values[j + 3]!;
      }
      for (; j < dim; j++) s0 += queries[q + j]! * values[j]!;
      const mine = found[i]!;
      mine.rows[mine.size] = row;
      mine.scores[mine.size++] = Math.fround(s0 + s1 + s2 + s3);
    }
  });
  return found.map(({ rows, scores, size }) => {
    const order = Array.from({ length: size }, (_, i) => i);
    order.sort((a, b) => scores[b]! - scores[a]! || rows[a]! - rows[b]!);
    const kept = order.slice(0, Math.min(k, size));
    return {
      scores: Float32Array.from(kept, (i) => scores[i]!),
      rows: Int32Array.from(kept, (i) => rows[i]!),
    };
  });
}
