/**
 * A float32 dense kernel ([in, out]) that a backend keeps in a layout of its own, in place of the
 * plain matrix: oneDNN's blocked layout on "blas", which its matmul reads without repacking the
 * weight on every call. The weight owns its blocks (no tfjs tensor holds them); the backend's
 * kernels for the linear ops read them (the weight travels in the attribute `weight`), and
 * {@linkcode PackedWeight.unpack} is the one way to read the plain matrix back.
 *
 * A backend that packs registers a {@linkcode WeightPacker} with
 * {@linkcode registerWeightPacker}; {@linkcode packWeight} asks the active backend's packer, so a
 * layer never asks which backend runs it.
 * @module
 */
import { tf } from "../tf.ts";
import { recordingGradients } from "./recording_gradients.ts";
import type { LinearSizes } from "./quantized_linear.ts";

/** A dense kernel [in, out] held in a backend's own layout. */
export interface PackedWeight {
  /** The backend whose kernels read it. */
  readonly backendName: string;
  /** [in, out], the shape of the plain matrix. */
  readonly shape: readonly [number, number];
  /** Bytes the packed values hold. */
  readonly bytes: number;
  /**
   * Whether the backend's kernels still read it: false once it is disposed or the backend turned
   * packing off (its holder then reads it back plain).
   */
  readonly active: boolean;
  /**
   * The plain matrix, [in, out] row-major, bit for bit as it was packed.
   * @returns a new array
   */
  unpack(): Float32Array;
  /** Drops the packed values. */
  dispose(): void;
}

/**
 * Packs a plain kernel ([in, out] row-major, `sizes.k` x `sizes.n`) for a product with
 * `sizes.m` rows; undefined when the backend runs such products as well with the plain matrix.
 */
export type WeightPacker = (kernel: Float32Array, sizes: LinearSizes) => PackedWeight | undefined;

const packers = new Map<string, WeightPacker>();

/**
 * Makes `packer` the weight packer of `backendName` (replacing any).
 * @param backendName e.g. "blas"
 * @param packer the packer
 */
export function registerWeightPacker(backendName: string, packer: WeightPacker): void {
  packers.set(backendName, packer);
}

/**
 * Removes `backendName`'s weight packer (its layers' kernels then stay plain).
 * @param backendName e.g. "blas"
 */
export function unregisterWeightPacker(backendName: string): void {
  packers.delete(backendName);
}

/**
 * The active backend's packed form of `kernel` for a product with `rows` rows of input, or
 * undefined: no packer, a gradient tape recording (the packed kernels have no gradients), a
 * kernel that is not float32 [in, out], or a product the backend keeps plain.
 * @param kernel float32 [in, out]
 * @param rows rows of the input it multiplies
 * @returns the packed weight, owned by the caller
 */
export function packWeight(kernel: tf.Tensor, rows: number): PackedWeight | undefined {
  const packer = packers.get(tf.getBackend());
  if (packer === undefined || recordingGradients()) return undefined;
  if (kernel.rank !== 2 || kernel.dtype !== "float32") return undefined;
  const [k, n] = kernel.shape as [number, number];
  return packer(kernel.dataSync() as Float32Array, { m: rows, k, n });
}

/**
 * Whether the kernels of the active backend read `weight` now: it is active, it is the backend
 * that packed it, and no gradient is being recorded. Otherwise read it back plain.
 * @param weight a packed weight
 * @returns whether to hand it to the linear ops
 */
export function readsPacked(weight: PackedWeight): boolean {
  return weight.active && weight.backendName === tf.getBackend() && !recordingGradients();
}

/**
 * The plain matrix of `weight` as a tensor (what the composite forms multiply).
 * @param weight a packed weight
 * @returns float32 [in, out], owned by the caller
 */
export function unpackedTensor(weight: PackedWeight): tf.Tensor2D {
  return tf.tensor2d(weight.unpack(), [...weight.shape], "float32");
}
