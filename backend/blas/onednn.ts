/**
 * The optional oneDNN 2 path of the "blas" backend (Debian/Ubuntu package `libdnnl2`). A weight
 * matrix seen twice is repacked into oneDNN's blocked layout (in place of the tensor's plain
 * values when that layout is no larger, else as a copy in native memory) and multiplied by matmul
 * primitives created per shape and kept in a small least-recently-used cache, with the bias, an
 * activation, or a residual and LayerNorm applied in the same call; a row softmax too. For a
 * 32-token question this is 1.5-2x faster than OpenBLAS, which repacks every weight on each call.
 * Products with plain weights are declined (OpenBLAS is faster for those here), as is anything
 * else this path does not handle: the caller then runs it elsewhere.
 * @module
 */

import { pinLibrary } from "./pin_library.ts";
import { type Bound, OneDnnLibrary, readVersion } from "./onednn_library.ts";
import { OneDnnPacking } from "./onednn_packing.ts";
import { type Epilogue, OneDnnPlans } from "./onednn_plans.ts";
import {
  ARG_BIAS,
  ARG_DST,
  ARG_POST_OP_0_SRC_1,
  ARG_SCALE,
  ARG_SHIFT,
  ARG_SRC,
  ARG_WEIGHTS,
  type Lib,
  type OneDnnActivation,
  type Ptr,
  SYMBOLS,
} from "./onednn_ffi.ts";

export { isOneDnnActivation, type OneDnnActivation } from "./onednn_ffi.ts";

/**
 * GEMMs this small (multiply-adds) stay on OpenBLAS: creating a primitive would cost more than
 * it saves, and the operands of a tiny product may live on the JavaScript heap, where the
 * garbage collector can move them.
 */
const MIN_MACS = 1 << 20;
/** Softmaxes over fewer values stay in JavaScript. */
const MIN_SOFTMAX = 1 << 14;
/** V8 keeps typed arrays up to 64 bytes inside the JavaScript heap. */
const MIN_OFF_HEAP_BYTES = 64;

/** oneDNN's matmul as a row-major GEMM, for the operand layouts it supports. */
export interface OneDnnGemm {
  /** The library that was opened. */
  readonly path: string;
  /** oneDNN's version, `major.minor.patch`. */
  readonly version: string;
  /** Whether weights are kept packed (see {@link OneDnnGemm.gemm}). */
  readonly prepack: boolean;
  /**
   * Turns packing on or off. Off frees the packed copies in native memory; arrays packed in
   * place stay packed (they are the tensors' values now) and keep running here.
   */
  setPrepack(on: boolean): void;
  /** Bytes of native memory that packed weights hold now. */
  packedBytes(): number;
  /**
   * `C = A op(B) + beta C` with `A` [m, k], `B` [k, n] (or [n, k] when `transB`), `C` [m, n],
   * all dense row-major. Returns `false`, touching nothing, when this path does not take the
   * product (too small, or a primitive oneDNN cannot build); the caller then runs it elsewhere.
   * @param stableB `B` is immutable tensor data: with `prepack` on, its second use packs it
   * into oneDNN's blocked layout: into a new JavaScript array the caller puts in place of the
   * tensor's values ({@link OneDnnGemm.takePacked}) when the layout is no larger than the plain
   * matrix, else into native memory kept until {@link OneDnnGemm.release}.
   * @throws {Error} When oneDNN fails while running a primitive it built.
   */
  gemm(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    beta: 0 | 1,
    c: Float32Array,
    stableB?: boolean,
  ): boolean;
  /**
   * `C = act(A op(B) + bias)`, the bias (`[n]`) and the activation applied by oneDNN as the
   * GEMM's epilogue; otherwise as {@link OneDnnGemm.gemm} (with `beta` 0).
   */
  linear(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    activation: OneDnnActivation | null,
    c: Float32Array,
    stableB?: boolean,
  ): boolean;
  /**
   * `C = layerNorm(A op(B) + bias + residual) * gamma + beta` over rows of `n`: the residual
   * added in the GEMM's epilogue, then oneDNN's LayerNorm in place. Returns `false`, touching
   * nothing, when this path does not take it.
   */
  linearLayerNorm(
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array,
    residual: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    c: Float32Array,
    stableB?: boolean,
  ): boolean;
  /**
   * Softmax over each row of `data` (`rows` x `cols`, dense), in place. Returns `false`,
   * touching nothing, when this path does not take it.
   */
  softmaxRows(rows: number, cols: number, data: Float32Array): boolean;
  /** Whether `values` holds a weight in oneDNN's layout (packed in place). */
  isPacked(values: unknown): boolean;
  /** The plain matrix of a weight packed in place (a new array); other arrays as they are. */
  unpack(values: Float32Array): Float32Array;
  /**
   * The array a weight was packed into, in place of `values`, during the last call (once); the
   * caller makes it the tensor's values. Null when none was made.
   */
  takePacked(values: Float32Array): Float32Array | null;
  /** Frees the packed copy of `b`, if any (its tensor was disposed). */
  release(b: Float32Array): void;
  /** Frees every primitive, every packed weight and the library's engine and stream. */
  close(): void;
}

/** Options of {@link openOneDnn}. */
export interface OneDnnOptions {
  /** Keep reused weights in oneDNN's blocked layout (see {@link OneDnnGemm.gemm}). */
  prepack?: boolean;
  /**
   * Also run products whose weight is not packed. Default false: with plain weights oneDNN's
   * matmul is slower than OpenBLAS's here (it copies weight blocks on every call too), so those
   * are declined and only packed weights run on oneDNN.
   */
  plain?: boolean;
}

/** Library names tried in order. */
export function oneDnnCandidates(os: typeof Deno.build.os = Deno.build.os): string[] {
  if (os === "darwin") return ["libdnnl.2.dylib", "/opt/homebrew/lib/libdnnl.2.dylib"];
  if (os === "windows") return ["dnnl.dll"];
  return ["libdnnl.so.2"];
}

class OneDnn implements OneDnnGemm {
  #prepack: boolean;
  readonly #dnn: OneDnnLibrary;
  readonly #plans: OneDnnPlans;
  readonly #packing: OneDnnPacking;
  #closed = false;

  readonly #plain: boolean;

  constructor(path: string, lib: Lib, version: string, prepack: boolean, plain: boolean) {
    this.#dnn = new OneDnnLibrary(path, lib, version);
    this.#plans = new OneDnnPlans(this.#dnn);
    this.#packing = new OneDnnPacking(this.#dnn);
    this.#prepack = prepack;
    this.#plain = plain;
  }

  get path(): string {
    return this.#dnn.path;
  }

  get version(): string {
    return this.#dnn.version;
  }

  isPacked(values: unknown): boolean {
    return this.#packing.isPacked(values);
  }

  unpack(values: Float32Array): Float32Array {
    return this.#packing.unpack(values);
  }

  takePacked(values: Float32Array): Float32Array | null {
    return this.#packing.takePacked(values);
  }

  gemm(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    beta: 0 | 1,
    c: Float32Array,
    stableB = false,
  ): boolean {
    return this.#run(
      transB,
      m,
      n,
      k,
      a,
      b,
      null,
      null,
      { beta, bias: false, residual: false, activation: null },
      c,
      stableB,
    );
  }

  linear(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    activation: OneDnnActivation | null,
    c: Float32Array,
    stableB = false,
  ): boolean {
    if (bias !== null && bias.length !== n) {
      throw new RangeError(
        `Cannot run a oneDNN matmul with bias: the bias must hold ${n} values: received ${bias.length}`,
      );
    }
    const epilogue: Epilogue = { beta: 0, bias: bias !== null, residual: false, activation };
    return this.#run(transB, m, n, k, a, b, bias, null, epilogue, c, stableB);
  }

  #run(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array | null,
    residual: Float32Array | null,
    epilogue: Epilogue,
    c: Float32Array,
    stableB: boolean,
  ): boolean {
    if (this.#closed) return false;
    // A weight already in oneDNN's layout must run here (OpenBLAS cannot read it) whatever its
    // size; one with other dimensions is declined, and the caller unpacks it.
    const inPlace = this.#packing.inPlace(b);
    if (inPlace !== undefined) {
      if (inPlace.k !== k || inPlace.n !== n || inPlace.transB !== transB) return false;
    } else if (m * n * k < MIN_MACS) return false;
    if (a.length < m * k || b.length < k * n || c.length < m * n) {
      throw new RangeError(
        `Cannot run a oneDNN matmul of [${m}, ${k}] x [${k}, ${n}]: operands hold ${a.length}, ` +
          `${b.length} and ${c.length} values`,
      );
    }
    // Arrays this small may sit on the JavaScript heap, where the collector moves them.
    for (const x of [a, b, c, bias, residual]) {
      if (x !== null && x.byteLength <= MIN_OFF_HEAP_BYTES) return false;
    }
    let packed = inPlace ??
      (stableB && this.#prepack ? this.#packing.packedFor(b, k, n, transB, m) : undefined);
    if (packed === undefined && !this.#plain) return false;
    let plan = packed
      ? this.#plans.matmul(
        transB,
        m,
        n,
        k,
        epilogue,
        this.#packing.layout(k, n, transB, m)?.desc ?? null,
      )
      : null;
    if (plan === null) {
      if (!this.#plain || inPlace !== undefined) return false;
      packed = undefined;
      plan = this.#plans.matmul(transB, m, n, k, epilogue, null);
    }
    if (plan === null) return false;
    const bound: Bound[] = [[ARG_SRC, plan.src, a], [ARG_DST, plan.dst, c]];
    const fixed: Array<[number, Ptr]> = [];
    if (packed?.memory) fixed.push([ARG_WEIGHTS, packed.memory]);
    else bound.push([ARG_WEIGHTS, plan.weights, packed?.array ?? b]);
    if (bias !== null && plan.bias !== null) bound.push([ARG_BIAS, plan.bias, bias]);
    if (residual !== null && plan.residual !== null) {
      bound.push([ARG_POST_OP_0_SRC_1, plan.residual, residual]);
    }
    this.#dnn.executeBound(plan.primitive, bound, fixed);
    return true;
  }

  linearLayerNorm(
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array,
    residual: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    c: Float32Array,
    stableB = false,
  ): boolean {
    if (this.#closed || m * n * k < MIN_MACS) return false;
    if (
      bias.length !== n || gamma.length !== n || beta.length !== n || residual.length < m * n ||
      n * 4 <= MIN_OFF_HEAP_BYTES
    ) return false;
    const norm = this.#plans.norm(m, n, eps);
    if (norm === null) return false;
    const epilogue: Epilogue = { beta: 0, bias: true, residual: true, activation: null };
    if (!this.#run(false, m, n, k, a, b, bias, residual, epilogue, c, stableB)) return false;
    this.#dnn.executeBound(
      norm.primitive,
      [[ARG_SRC, norm.data, c], [ARG_SCALE, norm.scale, gamma], [ARG_SHIFT, norm.shift, beta]],
      [[ARG_DST, norm.data]],
    );
    return true;
  }

  softmaxRows(rows: number, cols: number, data: Float32Array): boolean {
    if (this.#closed || rows * cols < MIN_SOFTMAX || data.length < rows * cols) return false;
    const plan = this.#plans.softmax(rows, cols);
    if (plan === null) return false;
    this.#dnn.executeBound(plan.primitive, [[ARG_SRC, plan.data, data]], [[ARG_DST, plan.data]]);
    return true;
  }

  get prepack(): boolean {
    return this.#prepack;
  }

  setPrepack(on: boolean): void {
    this.#prepack = on;
    if (on) return;
    this.#packing.freeCopies();
  }

  packedBytes(): number {
    return this.#packing.packedBytes();
  }

  release(b: Float32Array): void {
    this.#packing.release(b);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#plans.clear();
    this.#packing.close();
    this.#dnn.close();
    // The library stays loaded: OpenMP threads it started may still be parked inside it.
  }
}

/**
 * Opens oneDNN v2 for the "blas" backend, or returns why it did not.
 * @param path A library path; default: {@link oneDnnCandidates}.
 * @param options Packing, and whether products with plain weights run here too.
 * @returns The GEMM, or a message naming why none could be opened (missing library, another
 * major version, a failing engine).
 */
export function openOneDnn(
  path?: string,
  options: OneDnnOptions = {},
): OneDnnGemm | string {
  const tried = path === undefined ? oneDnnCandidates() : [path];
  const failures: string[] = [];
  for (const name of tried) {
    let lib: Lib;
    try {
      lib = Deno.dlopen(name, SYMBOLS);
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    const [major, version] = readVersion(lib);
    if (major !== 2) {
      lib.close();
      failures.push(`${name}: oneDNN ${version} (this backend speaks the version 2 C API)`);
      continue;
    }
    try {
      const opened = new OneDnn(
        name,
        lib,
        version,
        options.prepack ?? false,
        options.plain ?? false,
      );
      // Its OpenMP threads outlive this handle (closed when a worker ends): keep the code mapped.
      pinLibrary(name);
      return opened;
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return `no oneDNN 2 library could be opened (${failures.join("; ")})`;
}
