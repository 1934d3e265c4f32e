/**
 * How the named ops call a backend's kernel: by name, with the tensors given (an optional input
 * left out is not passed at all) and attributes of any kind (numbers, a weight object).
 * @module
 */
import { tf } from "../tf.ts";

/** A named op's inputs; `null` or `undefined` for an optional input not given. */
export type OptionalInputs = Record<string, tf.Tensor | null | undefined>;

/**
 * The given tensors of `inputs`.
 * @param inputs the op's inputs
 * @returns the map of those given
 */
export function givenInputs(inputs: OptionalInputs): tf.NamedTensorMap {
  const named: tf.NamedTensorMap = {};
  for (const [name, tensor] of Object.entries(inputs)) if (tensor) named[name] = tensor;
  return named;
}

/**
 * Runs the kernel `kernel` of the active backend.
 * @param kernel its registered name
 * @param inputs its inputs (those not given are left out)
 * @param attrs its attributes
 * @returns its output
 */
export function runNamedKernel<T extends tf.Tensor>(
  kernel: string,
  inputs: OptionalInputs,
  attrs: Record<string, unknown> = {},
): T {
  return tf.engine().runKernel(kernel, givenInputs(inputs), attrs as tf.NamedAttrMap) as T;
}
