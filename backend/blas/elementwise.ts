/**
 * Elementwise kernels for the "blas" backend that replace the cpu backend's generic loops on the
 * hot paths of a BERT encoder.
 * @module
 */
import type { tf } from "../tf.ts";

/** The kernels to override, given a lookup of the cpu kernels to fall back to. */
export function fastKernels(
  _cpu: (name: string) => tf.KernelFunc,
): Array<[string, tf.KernelFunc]> {
  return [];
}
