/**
 * The search kernel of {@link DenseIndex}: exact top-k maximum inner product over row blocks.
 *
 * Each block of rows is multiplied with all queries in one matrix product on the active
 * TensorFlow.js backend (`[nq, d] x [rows, d]^T`, one GEMM on blas), and each query's row of
 * scores is scanned once against the running k-th best score: only a score that beats it touches
 * the query's bounded heap ({@link TopK}), so selection costs one comparison per score and no
 * allocation. Blocks are small enough to stay in cache (a few MiB of vectors), which keeps the
 * product's packing of the block cheap for one query as for many.
 * @module
 */
import { tf } from "../backend/tf.ts";
import { TopK } from "./top_k.ts";

/** Rows of the matrix to search, as float32 blocks. */
export interface RowBlocks {
  /** Number of rows. */
  readonly rows: number;
  /** Values per row. */
  readonly dim: number;
  /** Rows `start .. start + count` as float32, row-major (a view or a fresh array). */
  decode(start: number, count: number): Float32Array;
}

/** Bytes of vectors per block: small enough for the product to pack the block in cache. */
const BLOCK_VECTOR_BYTES = 3 << 20;

/**
 * Rows per block for `nq` queries: about {@link BLOCK_VECTOR_BYTES} of vectors, and never more
 * than `maxBlockBytes` for the block and its `[nq, rows]` scores together.
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
  const step = blockRows(dim, nq, maxBlockBytes);
  const q = tf.tensor2d(queries, [nq, dim]);
  try {
    for (let start = 0; start < source.rows; start += step) {
      const count = Math.min(step, source.rows - start);
      const block = tf.tensor2d(source.decode(start, count), [count, dim]);
      const product = tf.matMul(q, block, false, true); // [nq, count]
      block.dispose();
      try {
        // On cpu and blas, the product's own array: scanned before the tensor is disposed.
        const scores = (await product.data()) as Float32Array;
        for (let i = 0; i < nq; i++) heaps[i]!.scan(scores, i * count, count, start);
      } finally {
        product.dispose();
      }
    }
  } finally {
    q.dispose();
  }
  return heaps.map((heap) => heap.sorted());
}
