/**
 * The in-memory form every checkpoint reader produces: PyTorch state-dict names mapped to
 * float32 arrays in PyTorch's layout (a Linear weight is [out_features, in_features]).
 * @module
 */

/** One tensor of a checkpoint, decoded to float32, row-major. */
export interface RawTensor {
  /** Dimensions in PyTorch order, e.g. [out, in] for a Linear weight. */
  shape: number[];
  /** Row-major values; length is the product of `shape`. */
  data: Float32Array;
}

/** A checkpoint's tensors by their PyTorch state-dict names. */
export type StateDict = Map<string, RawTensor>;
