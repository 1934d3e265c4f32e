// A packer for the cpu backend that keeps kernels transposed (a layout of its own that the cpu
// backend has no kernel for, so the linear ops read such weights through their plain matrix).
// Shared by the tests of the packed-weight concept and of the layers that hold packed weights.
import type { PackedWeight } from "../../../backend/ops/packed_weight.ts";
import { registerWeightPacker } from "../../../backend/ops/packed_weight.ts";

/** A [k, n] kernel kept as its [n, k] transpose. */
export class TransposedWeight implements PackedWeight {
  readonly backendName = "cpu";
  readonly shape: readonly [number, number];
  readonly bytes: number;
  #values: Float32Array | null;
  #revoked = false;

  constructor(plain: Float32Array, k: number, n: number) {
    this.shape = [k, n];
    this.#values = new Float32Array(k * n);
    for (let r = 0; r < k; r++) {
      for (let c = 0; c < n; c++) this.#values[c * k + r] = plain[r * n + c]!;
    }
    this.bytes = this.#values.byteLength;
  }

  get active(): boolean {
    return this.#values !== null && !this.#revoked;
  }

  /** What a backend does when it stops reading its packed weights. */
  revoke(): void {
    this.#revoked = true;
  }

  unpack(): Float32Array {
    if (this.#values === null) throw new Error("TransposedWeight: unpacked after dispose");
    const [k, n] = this.shape;
    const plain = new Float32Array(k * n);
    for (let r = 0; r < k; r++) {
      for (let c = 0; c < n; c++) plain[r * n + c] = this.#values[c * k + r]!;
    }
    return plain;
  }

  dispose(): void {
    this.#values = null;
  }
}

/**
 * Registers a cpu packer for products of at least `minRows` rows; returns every weight it packs.
 * @param minRows the fewest rows packed
 * @returns the weights packed so far (filled as it packs)
 */
export function useTransposedPacker(minRows: number): TransposedWeight[] {
  const made: TransposedWeight[] = [];
  registerWeightPacker("cpu", (kernel, { m, k, n }) => {
    if (m < minRows) return undefined;
    const weight = new TransposedWeight(kernel, k, n);
    made.push(weight);
    return weight;
  });
  return made;
}
