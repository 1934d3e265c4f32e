/**
 * The "blas" backend's packed weights: a layer's dense kernel copied once into oneDNN's blocked
 * layout (see `onednn_packing.ts`), held by the layer as a {@linkcode PackedWeight} and read by
 * the backend's linear kernels, which get it in their attribute `weight`.
 * @module
 */
import type { LinearSizes } from "../ops/quantized_linear.ts";
import type { PackedWeight, WeightPacker } from "../ops/packed_weight.ts";
import type { BlasLibrary } from "./library.ts";
import type { Packed } from "./onednn.ts";

/** A dense kernel [in, out] in oneDNN's blocked layout, for the "blas" backend's kernels. */
export class BlasPackedWeight implements PackedWeight {
  /** The backend whose kernels read it. */
  readonly backendName: string;
  /** [in, out]. */
  readonly shape: readonly [number, number];
  /** Bytes of the packed blocks. */
  readonly bytes: number;
  readonly #lib: BlasLibrary;
  readonly #packed: Packed;

  /**
   * Wraps oneDNN's packed copy.
   * @param lib the library that packed it
   * @param packed the packed copy
   * @param backendName the backend registered on `lib`
   */
  constructor(lib: BlasLibrary, packed: Packed, backendName: string) {
    this.#lib = lib;
    this.#packed = packed;
    this.backendName = backendName;
    this.shape = [packed.k, packed.n];
    this.bytes = packed.bytes;
  }

  /** Whether the kernels still read it (false once disposed, or packing was turned off). */
  get active(): boolean {
    return this.#packed.active;
  }

  /** The packed copy oneDNN's matmul reads. */
  get blocks(): Packed {
    return this.#packed;
  }

  /**
   * The plain matrix, bit for bit.
   * @returns a new [in, out] array
   */
  unpack(): Float32Array {
    return this.#lib.unpack(this.#packed);
  }

  /** Drops the packed blocks. */
  dispose(): void {
    this.#lib.free(this.#packed);
  }
}

/**
 * The weight packer of the "blas" backend: packs a kernel when oneDNN runs its products packed
 * and `packing()` says packing is on.
 * @param lib the backend's library
 * @param backendName the backend's name
 * @param packing whether packing is on now
 * @returns the packer to register
 */
export function blasWeightPacker(
  lib: BlasLibrary,
  backendName: string,
  packing: () => boolean,
): WeightPacker {
  return (kernel: Float32Array, { m, k, n }: LinearSizes): PackedWeight | undefined => {
    if (!packing()) return undefined;
    const packed = lib.pack(kernel, k, n, m);
    return packed === undefined ? undefined : new BlasPackedWeight(lib, packed, backendName);
  };
}

/**
 * The B operand of a linear kernel: the float32 values of its input `kernel`, or the blocks of
 * the packed weight in its attribute `weight`; with `n`, the kernel's columns.
 * @param values reads a tensor's float32 values
 * @param kernel the input `kernel`, when given
 * @param weight the attribute `weight`, when given
 * @param owner names the kernel in errors
 * @returns the operand and its column count
 * @throws TypeError when neither is given, or the weight is not the blas backend's
 */
export function linearOperand<T extends { shape: number[] }>(
  values: (info: T) => Float32Array,
  kernel: T | undefined,
  weight: unknown,
  owner: string,
): { b: Float32Array | Packed; n: number } {
  if (kernel !== undefined) return { b: values(kernel), n: kernel.shape[1]! };
  if (weight instanceof BlasPackedWeight) return { b: weight.blocks, n: weight.shape[1] };
  throw new TypeError(
    `${owner}: needs an input kernel or a weight packed by the blas backend: received ` +
      `${weight === undefined ? "neither" : String(weight)}`,
  );
}

/**
 * The plain matrix of a B operand (for OpenBLAS, which reads plain matrices only).
 * @param lib the library that packed it
 * @param b plain values, or packed blocks
 * @returns `b` itself, or its plain matrix
 */
export function plainOperand(lib: BlasLibrary, b: Float32Array | Packed): Float32Array {
  return b instanceof Float32Array ? b : lib.unpack(b);
}
