/**
 * Integer products for int8 weights: `y = x·Wᵀ + bias` on a generated kernel
 * (`int8_relaxed_module.ts` where the engine has relaxed SIMD, else `int8_module.ts`; every form
 * gives the same values, bit for bit), which reads W's int8 values in place in kernel memory
 * (`backend/quantized/kernel_memory.ts`) and quantizes each row of x on the fly to 8-bit codes
 * with a scale and a zero point of its own (onnxruntime's dynamic quantization does it per tensor:
 * `int8_emit.ts`).
 *
 * x and y may live anywhere (tfjs's wasm heap, plain arrays): blocks of rows of x are copied into
 * a scratch region of kernel memory (at most about {@linkcode SCRATCH_BYTES}), quantized,
 * multiplied, and the results copied out. W is never copied nor converted; a weight created
 * outside kernel memory is moved there on its first product.
 *
 * Accuracy: x's rows carry 8 bits (a step of 1/255 of the row's range, 0 exact); the integer sums
 * are exact (an i32 cannot overflow for K up to {@linkcode MAX_K}: K·255·128 < 2³¹), and the
 * float32 epilogue rounds once.
 * @module
 */
import { type KernelMemory, kernelMemory } from "../quantized/kernel_memory.ts";
import type { QuantizedWeight } from "../quantized/quantized_weight.ts";
import {
  INT8_KERNEL_SHAPE,
  type Int8Gemm,
  type Int8KernelShape,
  int8ModuleBytes,
  type QuantizeRows,
} from "./int8_module.ts";
import {
  type CodePlanes,
  int8RelaxedModuleBytes,
  RELAXED_TILES,
  relaxedDotIsUnsigned,
  type RelaxedGemm,
  type RelaxedTile,
  type RowSums,
} from "./int8_relaxed_module.ts";

/**
 * Which form of the kernel to build: relaxed SIMD (where the engine has it; one plane of codes
 * only where its relaxed dot is unsigned, default: one plane there, else two) or standard.
 */
export type Int8KernelForm =
  | { relaxed: true; planes?: CodePlanes; tile?: RelaxedTile }
  | { relaxed: false; shape?: Int8KernelShape };

/**
 * The forms' products behind one signature (`za`: the rows' zero points, `sums`: W's row sums;
 * the relaxed forms only).
 */
type Gemm = RelaxedGemm;

/** Most bytes of scratch one product uses (rows of x, their codes, their results). */
export const SCRATCH_BYTES = 2 << 20;
/** Largest shared dimension K: every exact sum (|w| <= 128, codes <= 255) fits an i32. */
export const MAX_K: number = Math.floor(0x7fffffff / (128 * 255));
/** Most pages a 32-bit memory may have (the kernel memory's maximum). */
const MAX_PAGES = 65536;

const align = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/** The kernel instantiated on the kernel memory. */
export class Int8Kernel {
  readonly #memory: KernelMemory;
  readonly #quantize: QuantizeRows;
  readonly #gemm: Gemm;
  readonly #rowSums: RowSums | undefined;
  /** W's row sums in kernel memory (relaxed form), by weight; freed with the weight. */
  readonly #sums = new WeakMap<QuantizedWeight, number>();
  readonly #sumsCollected: FinalizationRegistry<number>;
  /** Values of K per kernel step (kp is a multiple of it). */
  readonly #step: number;
  /** Whether this is the relaxed-SIMD form. */
  readonly relaxed: boolean;
  /** Planes of codes per row (the standard form's int16 codes count as 2). */
  readonly #planes: number;
  #scratch = 0;
  #scratchBytes = 0;

  private constructor(
    memory: KernelMemory,
    bytes: Uint8Array<ArrayBuffer>,
    step: number,
    relaxed: boolean,
    planes: number,
  ) {
    this.#memory = memory;
    this.#step = step;
    this.relaxed = relaxed;
    this.#planes = planes;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { memory: memory.memory },
    });
    this.#quantize = instance.exports["quantize_rows"] as QuantizeRows;
    if (relaxed) {
      this.#gemm = instance.exports["gemm"] as RelaxedGemm;
      this.#rowSums = instance.exports["row_sums"] as RowSums;
    } else {
      const gemm = instance.exports["gemm"] as Int8Gemm;
      this.#gemm = (q, sa, _za, m, kp, w, ldw, sw, _sums, n, bias, out, ldo) =>
        gemm(q, sa, m, kp, w, ldw, sw, n, bias, out, ldo);
    }
    this.#sumsCollected = new FinalizationRegistry((at) => memory.free(at));
  }

  /**
   * The kernel, or undefined where this engine has no kernel memory (no `SharedArrayBuffer`) or
   * no SIMD, or where the form asked for cannot run (one plane of codes on an engine whose relaxed
   * dot is not unsigned).
   * @param form relaxed SIMD, or standard SIMD (default: relaxed where the engine validates it)
   */
  static create(form?: Int8KernelForm): Int8Kernel | undefined {
    const memory = kernelMemory();
    if (memory === undefined) return undefined;
    const imported = { shared: true, minPages: 1, maxPages: MAX_PAGES };
    const forms: Int8KernelForm[] = form === undefined
      ? [{ relaxed: true }, { relaxed: false }]
      : [form];
    for (const f of forms) {
      try {
        if (f.relaxed) {
          const unsigned = relaxedDotIsUnsigned();
          const planes = f.planes ?? (unsigned ? 1 : 2);
          if (planes === 1 && !unsigned) continue;
          const tile = f.tile ?? RELAXED_TILES[planes];
          const bytes = int8RelaxedModuleBytes(imported, planes, tile);
          if (!WebAssembly.validate(bytes)) continue;
          return new Int8Kernel(memory, bytes, 16 * tile.unroll, true, planes);
        }
        const shape = f.shape ?? INT8_KERNEL_SHAPE;
        const bytes = int8ModuleBytes(imported, shape);
        if (!WebAssembly.validate(bytes)) continue;
        return new Int8Kernel(memory, bytes, 8 * shape.unroll, false, 2);
      } catch {
        continue;
      }
    }
    return undefined;
  }

  /**
   * `out = x·Wᵀ + bias`.
   * @param x [m, K] row-major float32
   * @param m rows of x
   * @param weight int8 [N, K] (moved into kernel memory if it is not there yet)
   * @param bias [N], or undefined
   * @param out [m, N] row-major float32, written
   * @throws TypeError when the weight is not int8 or the arrays do not fit
   * @throws RangeError when K is past {@linkcode MAX_K}
   */
  product(
    x: Float32Array,
    m: number,
    weight: QuantizedWeight,
    bias: Float32Array | undefined,
    out: Float32Array,
  ): void {
    const [n, k] = weight.shape;
    if (weight.disposed) {
      throw new TypeError(`Int8Kernel: the [${weight.shape}] int8 weight was disposed`);
    }
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
    if (k > MAX_K) {
      throw new RangeError(
        `Int8Kernel: K = ${k} is past ${MAX_K}, the most whose integer sums fit an i32`,
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
    const sums = this.#rowSumsOf(weight, w);
    const kp = Math.ceil(k / this.#step) * this.#step, codeBytes = kp * this.#planes;
    const rowBytes = align(k * 4) + align(codeBytes) + align(n * 4) + 32;
    const rows = Math.max(1, Math.min(m, Math.floor(SCRATCH_BYTES / rowBytes)));
    const xAt = this.#ensureScratch(
      rows * k * 4 + rows * codeBytes + rows * n * 4 + rows * 8 + 8 * n + 6 * 16,
    );
    const qAt = xAt + align(rows * k * 4);
    const outAt = qAt + align(rows * codeBytes);
    const saAt = outAt + align(rows * n * 4);
    const zaAt = saAt + align(rows * 4);
    const swAt = zaAt + align(rows * 4);
    const biasAt = swAt + align(n * 4);
    const f32 = new Float32Array(this.#memory.memory.buffer);
    f32.set(weight.scales!, swAt >>> 2);
    if (bias === undefined) f32.fill(0, biasAt >>> 2, (biasAt >>> 2) + n);
    else f32.set(bias, biasAt >>> 2);
    for (let m0 = 0; m0 < m; m0 += rows) {
      const r = Math.min(rows, m - m0);
      f32.set(x.subarray(m0 * k, (m0 + r) * k), xAt >>> 2);
      this.#quantize(xAt, r, k, kp, qAt, saAt, zaAt);
      this.#gemm(qAt, saAt, zaAt, r, kp, w, k, swAt, sums, n, biasAt, outAt, n * 4);
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

  /** W's row sums (relaxed form; computed once per weight), or 0. */
  #rowSumsOf(weight: QuantizedWeight, w: number): number {
    if (this.#rowSums === undefined) return 0;
    let at = this.#sums.get(weight);
    if (at === undefined) {
      const [n, k] = weight.shape;
      const sums = this.#memory.alloc(n * 4);
      this.#rowSums(w, n, k, sums);
      this.#sums.set(weight, sums);
      this.#sumsCollected.register(weight, sums, weight);
      weight.keep(() => {
        this.#sums.delete(weight);
        this.#sumsCollected.unregister(weight);
        this.#memory.free(sums);
      });
      at = sums;
    }
    return at;
  }

  /** A scratch region of at least `bytes`, kept between products. */
  #ensureScratch(bytes: number): number {
    const want = bytes;
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
