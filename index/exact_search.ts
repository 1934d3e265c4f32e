/**
 * The search kernel of {@link DenseIndex}: exact top-k maximum inner product over row blocks.
 *
 * Each block of rows is multiplied with all queries in one matrix product on the active
 * TensorFlow.js backend, `[rows, d] x [nq, d]^T` (one GEMM on blas). The queries are the
 * product's second operand because they stay the same for every block: backends that prepare
 * that operand (XNNPACK on wasm, oneDNN on blas) do it once per search rather than once per block.
 * Each query's column of scores is then scanned once against its running k-th best score: only a
 * score that beats it touches the query's bounded heap ({@link TopK}), so selection costs one
 * comparison per score and no allocation. Blocks hold a few MiB of vectors, small enough for the
 * block and its scores to stay in cache.
 * @module
 */
import { tf } from "../backend/tf.ts";
import { TopK } from "./top_k.ts";
import { acquireDecoder, type LevelDecoder, releaseDecoder } from "./level_decoder.ts";

/** Rows of the matrix to search, as float32 blocks. */
export interface RowBlocks {
  /** Number of rows. */
  readonly rows: number;
  /** Values per row. */
  readonly dim: number;
  /**
   * The queries to multiply with the blocks' values, and a term to add to each query's scores
   * (null: none).
   */
  queryTerms(queries: Float32Array): { queries: Float32Array; shifts: Float32Array | null };
  /**
   * Rows `start .. start + count`: float32 values (a view, or written into `scratch`) and
   * optional per-row factors for their products.
   */
  block(
    start: number,
    count: number,
    scratch: Float32Array,
    decoder: LevelDecoder | null,
  ): { values: Float32Array; scales: Float32Array | null };
  /**
   * For one query: the rows' products with it (before `scales`) computed from the stored rows
   * directly, or null to go through {@link block} and the product.
   */
  products(
    start: number,
    count: number,
    query: Float32Array,
    decoder: LevelDecoder | null,
  ): { scores: Float32Array; scales: Float32Array | null } | null;
}

/** Bytes of vectors per block: small enough for the product to keep the block in cache. */
const BLOCK_VECTOR_BYTES = 3 << 20;

/**
 * Rows per block for `nq` queries: about {@link BLOCK_VECTOR_BYTES} of vectors, and never more
 * than `maxBlockBytes` for the block and its `[rows, nq]` scores together.
 * @param dim values per row
 * @param nq number of queries
 * @param maxBlockBytes the bound
 * @returns rows per block (at least 1)
 */
export function blockRows(dim: number, nq: number, maxBlockBytes: number): number {
  const bounded = Math.floor(maxBlockBytes / (4 * (dim + nq)));
  const cached = Math.floor(BLOCK_VECTOR_BYTES / (4 * dim));
  return Math.max(1, Math.min(bounded, cached));
}

/**
 * The `k` best rows for each query, sorted by score (highest first), ties by row (lower first).
 * @param source the rows
 * @param queries `nq * dim` float32 values, row-major
 * @param k hits per query, at most `source.rows`
 * @param maxBlockBytes bound on one block's vectors plus scores
 * @returns per query, the hits' scores and rows
 */
export async function exactSearch(
  source: RowBlocks,
  queries: Float32Array,
  k: number,
  maxBlockBytes: number,
): Promise<Array<{ scores: Float32Array; rows: Int32Array }>> {
  const dim = source.dim, nq = queries.length / dim;
  const heaps = Array.from({ length: nq }, () => new TopK(k));
  const step = Math.min(blockRows(dim, nq, maxBlockBytes), source.rows);
  const decoder = acquireDecoder();
  // Decoded rows without WebAssembly (with it, the decoder's memory holds them).
  const scratch = new Float32Array(decoder === null ? step * dim : 0);
  const terms = source.queryTerms(queries);
  // A copy: a backend may keep or repack the tensor's array, which must not be the caller's.
  const q = tf.tensor2d(terms.queries === queries ? queries.slice() : terms.queries, [nq, dim]);
  try {
    for (let start = 0; start < source.rows; start += step) {
      const count = Math.min(step, source.rows - start);
      // One query over float16 or int8 rows: products straight from the codes, in WebAssembly
      // (a matrix-vector product reads the block once anyway; decoding first would read it twice).
      const direct = nq === 1 ? source.products(start, count, terms.queries, decoder) : null;
      if (direct !== null) {
        if (direct.scales !== null) scaleRows(direct.scores, direct.scales, terms.shifts, 1);
        heaps[0]!.scan(direct.scores, 0, count, start, 1);
        continue;
      }
      const { values, scales } = source.block(start, count, scratch, decoder);
      const block = tf.tensor2d(values, [count, dim]);
      let product: tf.Tensor;
      try {
        product = tf.matMul(block, q, false, true); // [count, nq]
      } finally {
        block.dispose();
      }
      try {
        // On cpu and blas, the product's own array: used before the tensor is disposed.
        const scores = (await product.data()) as Float32Array;
        if (scales !== null) scaleRows(scores, scales, terms.shifts, nq);
        for (let i = 0; i < nq; i++) heaps[i]!.scan(scores, i, count, start, nq);
      } finally {
        product.dispose();
      }
    }
  } finally {
    q.dispose();
    releaseDecoder(decoder);
  }
  return heaps.map((heap) => heap.sorted());
}

/**
 * Multiplies row `r` of the `[rows, nq]` scores by `scales[r]` and adds `shifts[i]` (when given)
 * to column `i`.
 */
function scaleRows(
  scores: Float32Array,
  scales: Float32Array,
  shifts: Float32Array | null,
  nq: number,
): void {
  for (let r = 0; r < scales.length; r++) {
    const s = scales[r]!, base = r * nq;
    if (shifts === null) {
      for (let i = 0; i < nq; i++) scores[base + i] = scores[base + i]! * s;
    } else {
      for (let i = 0; i < nq; i++) scores[base + i] = scores[base + i]! * s + shifts[i]!;
    }
  }
}
