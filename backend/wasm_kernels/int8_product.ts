/**
 * Integer products for int8 weights: `y = x·Wᵀ + bias` on the generated kernel of
 * `int8_module.ts`, which reads W's int8 values in place in kernel memory
 * (`backend/quantized/kernel_memory.ts`) and quantizes each row of x to 16-bit integers on the
 * fly (symmetric, one scale per row, as onnxruntime's dynamic quantization does per tensor).
 *
 * x and y may live anywhere (tfjs's wasm heap, plain arrays): blocks of rows of x are copied into
 * a scratch region of kernel memory (at most about {@linkcode SCRATCH_BYTES}), quantized,
 * multiplied, and the results copied out. W is never copied nor converted; a weight created
 * outside kernel memory is moved there on its first product.
 *
 * Accuracy: x's rows carry up to 13 bits (|q| <= 4095, relative step 1/4095 of the row's largest
 * value); the integer sums are exact (an i32 cannot overflow: qmax is lowered for K past 4096 so
 * that K·qmax·128 < 2³¹), and the float32 epilogue rounds once.
 * @module
 */
import { type KernelMemory, kernelMemory } from "../quantized/kernel_memory.ts";
import type { QuantizedWeight } from "../quantized/quantized_weight.ts";
import { type Int8Gemm, int8ModuleBytes, type QuantizeRows } from "./int8_module.ts";

/** Most bytes of scratch one product uses (rows of x, their codes, their results). */
export const SCRATCH_BYTES = 2 << 20;
/** Largest activation code: 13 bits. */
const QMAX = 4095;
/** Most pages a 32-bit memory may have (the kernel memory's maximum). */
const MAX_PAGES = 65536;

/**
 * The largest activation code for a shared dimension of `k`: 4095, lowered where the exact
 * int32 sum of `k` products with int8 weights (|w| <= 128) could overflow.
 * @param k the shared dimension
 */
export function activationQmax(k: number): number {
  const kp = Math.ceil(k / 8) * 8;
  return Math.max(1, Math.min(QMAX, Math.floor(0x7fffffff / (128 * Math.max(kp, 1)))));
}

const align = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/** The kernel instantiated on the kernel memory. */
export class Int8Kernel {
  readonly #memory: KernelMemory;
  readonly #quantize: QuantizeRows;
  readonly #gemm: Int8Gemm;
  #scratch = 0;
  #scratchBytes = 0;

  private constructor(memory: KernelMemory, bytes: Uint8Array<ArrayBuffer>) {
    this.#memory = memory;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { memory: memory.memory },
    });
    this.#quantize = instance.exports["quantize_rows"] as QuantizeRows;
    this.#gemm = instance.exports["gemm"] as Int8Gemm;
  }

  /**
   * The kernel, or undefined where this engine has no kernel memory (no `SharedArrayBuffer`) or
   * no SIMD.
   */
  static create(): Int8Kernel | undefined {
    const memory = kernelMemory();
    if (memory === undefined) return undefined;
    const bytes = int8ModuleBytes({ shared: true, minPages: 1, maxPages: MAX_PAGES });
    try {
      if (!WebAssembly.validate(bytes)) return undefined;
      return new Int8Kernel(memory, bytes);
    } catch {
      return undefined;
    }
  }

  /**
   * `out = x·Wᵀ + bias`.
   * @param x [m, K] row-major float32
   * @param m rows of x
   * @param weight int8 [N, K] (moved into kernel memory if it is not there yet)
   * @param bias [N], or undefined
   * @param out [m, N] row-major float32, written
   * @throws TypeError when the weight is not int8 or the arrays do not fit
   */
  product(
    x: Float32Array,
    m: number,
    weight: QuantizedWeight,
    bias: Float32Array | undefined,
    out: Float32Array,
  ): void {
    const [n, k] = weight.shape;
    if (
      weight.layout !== "int8" || x.length < m * k || out.length < m * n ||
      (bias !== undefined && bias.length !== n)
    ) {
      throw new TypeError(
        `Int8Kernel: needs an int8 [N, K] weight, x [${m}, K], bias [N] and out [${m}, N]: ` +
          `received a ${weight.layout} [${weight.shape}] weight, ${x.length} values of x, ` +
          `${bias === undefined ? "no bias" : `a bias of ${bias.length}`}, ${out.length} of out`,
      );
    }
    if (m === 0 || n === 0) return;
    if (k === 0) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) out[i * n + j] = bias?.[j] ?? 0;
      }
      return;
    }
    const w = this.#weightAddress(weight);
    const kp = Math.ceil(k / 8) * 8;
    const rowBytes = align(k * 4) + align(kp * 2) + align(n * 4) + 16;
    const rows = Math.max(1, Math.min(m, Math.floor(SCRATCH_BYTES / rowBytes)));
    const xAt = this.#ensureScratch(rows * k * 4 + rows * kp * 2 + rows * n * 4 + rows * 4 + 8 * n);
    const qAt = xAt + align(rows * k * 4);
    const outAt = qAt + align(rows * kp * 2);
    const saAt = outAt + align(rows * n * 4);
    const swAt = saAt + align(rows * 4);
    const biasAt = swAt + align(n * 4);
    const f32 = new Float32Array(this.#memory.memory.buffer);
    f32.set(weight.scales!, swAt >>> 2);
    if (bias === undefined) f32.fill(0, biasAt >>> 2, (biasAt >>> 2) + n);
    else f32.set(bias, biasAt >>> 2);
    const qmax = activationQmax(k);
    for (let m0 = 0; m0 < m; m0 += rows) {
      const r = Math.min(rows, m - m0);
      f32.set(x.subarray(m0 * k, (m0 + r) * k), xAt >>> 2);
      this.#quantize(xAt, r, k, kp, qAt, saAt, qmax);
      this.#gemm(qAt, saAt, r, kp, w, k, swAt, n, biasAt, outAt, n * 4);
      out.set(f32.subarray(outAt >>> 2, (outAt >>> 2) + r * n), m0 * n);
    }
  }

  /** The byte address of W's values in kernel memory, moving them there first if needed. */
  #weightAddress(weight: QuantizedWeight): number {
    const at = this.#memory.addressOf(weight.data);
    if (at !== undefined) return at;
    weight.moveTo(this.#memory.int8(weight.data.length));
    return this.#memory.addressOf(weight.data)!;
  }

  /** A scratch region of at least `bytes` (plus alignment), kept between products. */
  #ensureScratch(bytes: number): number {
    const want = bytes + 6 * 16;
    if (want > this.#scratchBytes) {
      if (this.#scratch !== 0) this.#memory.free(this.#scratch);
      this.#scratch = 0;
      this.#scratchBytes = 0;
      this.#scratch = this.#memory.alloc(want);
      this.#scratchBytes = want;
    }
    return this.#scratch;
  }
}

let kernel: Int8Kernel | null | undefined;

/** The process's {@linkcode Int8Kernel}, or undefined where it cannot run (checked once). */
export function int8Kernel(): Int8Kernel | undefined {
  if (kernel === undefined) kernel = Int8Kernel.create() ?? null;
  return kernel ?? undefined;
}
