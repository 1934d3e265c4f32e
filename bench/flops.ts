/**
 * Floating-point operation counts of a BERT forward pass, for effective GFLOP/s.
 * @module
 */

/** The sizes that set a BERT encoder's cost. */
export interface BertSize {
  /** Hidden width (768 for BERT-base). */
  hiddenSize: number;
  /** Feed-forward width (3072 for BERT-base). */
  intermediateSize: number;
  /** Transformer layers (12 for BERT-base). */
  numHiddenLayers: number;
}

/**
 * FLOPs of one forward pass over `batch` sequences of `seq` tokens: two per multiply-add of
 * every matrix product (Q, K, V, attention output, both feed-forward layers, attention scores
 * and the weighted sum of values). Elementwise work is not counted. BERT-base, batch 16 x 256:
 * about 735 GFLOP.
 *
 * @param size the encoder's sizes
 * @param batch sequences
 * @param seq tokens per sequence
 * @returns the FLOP count
 */
export function bertFlops(size: BertSize, batch: number, seq: number): number {
  const h = size.hiddenSize, i = size.intermediateSize, tokens = batch * seq;
  const dense = 2 * tokens * (4 * h * h + 2 * h * i);
  const attention = 2 * 2 * batch * seq * seq * h;
  return size.numHiddenLayers * (dense + attention);
}
