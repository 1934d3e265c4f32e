/**
 * `gatherRows`: rows of a 2-D tensor by index, as `tf.gather(table, indices)`, as a named op. A
 * backend with a faster way registers {@link GATHER_ROWS_KERNEL} (the wasm backend does); every
 * other backend, and any gradient recording, runs the composite.
 * @module
 */
import { tf } from "../tf.ts";
import { runNamedKernel } from "./run_named_kernel.ts";

/** Kernel name of {@link gatherRows}; attrs `{ indices: number[] }`, input `{ table }`. */
export const GATHER_ROWS_KERNEL = "DprGatherRows";

/** The kernel that gather's gradient needs; a backend without it gets a one-hot product. */
const GATHER_GRADIENT_KERNEL = "UnsortedSegmentSum";

/**
 * Rows `indices` of a 2-D tensor, as `tf.gather(table, indices)`.
 *
 * Outside gradient recording, a float32 table goes to the active backend's
 * {@link GATHER_ROWS_KERNEL} where one is registered. While gradients are recorded this is
 * `tf.gather`, or a one-hot matmul on a backend that cannot differentiate gather (it lacks
 * `UnsortedSegmentSum`): slow, but it has a gradient.
 * @param table [rows, width]
 * @param indices row numbers
 * @returns [indices.length, width]
 * @throws RangeError when an index is outside the table (from the registered kernel)
 */
export function gatherRows(
  table: tf.Tensor2D,
  indices: ArrayLike<number> | tf.Tensor1D,
): tf.Tensor2D {
  const backend = tf.getBackend();
  const taping = tf.engine().isTapeOn();
  if (
    !taping && table.dtype === "float32" &&
    tf.getKernel(GATHER_ROWS_KERNEL, backend) !== undefined
  ) {
    const ids = indices instanceof tf.Tensor ? indices.dataSync() : indices;
    return runNamedKernel(GATHER_ROWS_KERNEL, { table }, { indices: Array.from(ids) });
  }
  return tf.tidy(() => {
    const ids = indices instanceof tf.Tensor ? indices : tf.tensor1d(Array.from(indices), "int32");
    if (taping && tf.getKernel(GATHER_GRADIENT_KERNEL, backend) === undefined) {
      return tf.matMul(tf.cast(tf.oneHot(ids, table.shape[0]), "float32"), table);
    }
    return tf.gather(table, ids);
  });
}
