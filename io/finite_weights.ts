/**
 * The check that loaded weights are finite: a NaN or an infinity in a checkpoint (or an F64 value
 * beyond float32's range, which becomes one on conversion) is an error naming the tensor, unless
 * the caller asks for such weights with `allowNonFinite`.
 * @module
 */

/** The option every weight reader takes to let non-finite values through. */
export interface NonFiniteOption {
  /**
   * Load weights that hold NaN or ±Infinity (after conversion to float32) instead of refusing
   * them. Default false: such a tensor is a `RangeError` naming it.
   */
  allowNonFinite?: boolean;
}

/**
 * Throws when `data` holds a NaN or an infinity, naming the tensor, the first such value and its
 * index, and how many there are.
 *
 * @param data the tensor's values, as float32
 * @param tensorName the tensor's state-dict name
 * @param where the start of the message, e.g. "Cannot read model.safetensors in my-model"
 * @param options `allowNonFinite: true` skips the check
 * @param firstIndex when `data` is a block of the tensor (rows read one block at a time), the
 *   tensor's index of `data[0]`
 * @throws {RangeError} on the first tensor with a non-finite value
 */
export function checkFiniteWeights(
  data: Float32Array,
  tensorName: string,
  where: string,
  options: NonFiniteOption = {},
  firstIndex?: number,
): void {
  if (options.allowNonFinite === true) return;
  // In slices, by a small function the engine soon optimizes: one loop over a whole block runs in
  // the interpreter until it is replaced on the stack (and, here, fell back to it on every call),
  // and every float there is a fresh heap object (megabytes of garbage per checkpoint).
  let first = -1;
  for (let i = 0; i < data.length && first < 0; i += FINITE_SLICE) {
    first = firstNonFinite(data, i, Math.min(data.length, i + FINITE_SLICE));
  }
  if (first < 0) return;
  let count = 0;
  for (let i = first; i < data.length; i++) if (data[i]! - data[i]! !== 0) count++;
  throw new RangeError(
    `${where}: tensor "${tensorName}" holds ${data[first]} at index ${(firstIndex ?? 0) + first} ` +
      `(${count} non-finite value${count === 1 ? "" : "s"} in ${
        firstIndex === undefined ? "all" : "the block read"
      }; values beyond float32's range become ` +
      `Infinity); pass allowNonFinite: true to load non-finite weights anyway`,
  );
}

/** Values per call of {@linkcode firstNonFinite}. */
const FINITE_SLICE = 4096;

/** The index of the first NaN or infinity in `data[from, to)`, or -1. */
function firstNonFinite(data: Float32Array, from: number, to: number): number {
  // x - x is 0 for every finite x and NaN for NaN and ±Infinity.
  for (let i = from; i < to; i++) if (data[i]! - data[i]! !== 0) return i;
  return -1;
}
