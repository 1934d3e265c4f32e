/**
 * The optional oneDNN 2 path of the "blas" backend (Debian/Ubuntu package `libdnnl2`). A weight
 * matrix is packed once into oneDNN's blocked layout ({@linkcode OneDnnGemm.pack}, a copy its
 * holder keeps) and multiplied by matmul primitives created per shape and kept in a small
 * least-recently-used cache, with the bias, an activation, or a residual and LayerNorm applied in
 * the same call; a row softmax too. For a 32-token question this is 1.5-2x faster than OpenBLAS,
 * which repacks every weight on each call. Products with plain weights are declined (OpenBLAS is
 * faster for those here), as is anything else this path does not handle: the caller then runs it
 * elsewhere.
 * @module
 */

import { pinLibrary } from "./pin_library.ts";
import { type Bound, OneDnnLibrary, readVersion } from "./onednn_library.ts";
import { OneDnnPacking, type Packed } from "./onednn_packing.ts";
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
  SYMBOLS,
} from "./onednn_ffi.ts";

export { isOneDnnActivation, type OneDnnActivation } from "./onednn_ffi.ts";
export type { Packed } from "./onednn_packing.ts";

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
  /**
   * A copy of the plain weight `b` (`[k, n]`, or `[n, k]` when `transB`) in oneDNN's blocked
   * layout, for products of `m` rows; undefined when such products are too small to run here or
   * oneDNN's matmul keeps such weights plain. The caller holds it and frees it.
   */
  pack(b: Float32Array, k: number, n: number, transB: boolean, m: number): Packed | undefined;
  /** The plain matrix of a packed weight (a new array), bit for bit. */
  unpack(packed: Packed): Float32Array;
  /** Drops a packed weight's values. */
  free(packed: Packed): void;
  /** Marks every packed weight inactive (products stop reading them; holders unpack them). */
  revokePacked(): void;
  /** Bytes that packed weights hold now. */
  packedBytes(): number;
  /**
   * `C = A op(B) + beta C` with `A` [m, k], `B` [k, n] (or [n, k] when `transB`), `C` [m, n],
   * all dense row-major. Returns `false`, touching nothing, when this path does not take the
   * product (too small, a plain `B` when plain products are declined, a packed `B` of other
   * sizes, or a primitive oneDNN cannot build); the caller then runs it elsewhere.
   * @throws {Error} When oneDNN fails while running a primitive it built.
   */
  gemm(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array | Packed,
    beta: 0 | 1,
    c: Float32Array,
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
    b: Float32Array | Packed,
    bias: Float32Array | null,
    activation: OneDnnActivation | null,
    c: Float32Array,
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
    b: Float32Array | Packed,
    bias: Float32Array,
    residual: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    c: Float32Array,
  ): boolean;
  /**
   * Softmax over each row of `data` (`rows` x `cols`, dense), in place. Returns `false`,
   * touching nothing, when this path does not take it.
   */
  softmaxRows(rows: number, cols: number, data: Float32Array): boolean;
  /** Frees every primitive and the library's engine and stream. */
  close(): void;
}

/** Options of {@link openOneDnn}. */
export interface OneDnnOptions {
  /**
   * Also run products whose weight is not packed. Default false: with plain weights oneDNN's
   * matmul is slower than OpenBLAS's here (it copies weight blocks on every call too), so those
   * are declined and only packed weights ({@link OneDnnGemm.pack}) run on oneDNN.
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
  readonly #dnn: OneDnnLibrary;
  readonly #plans: OneDnnPlans;
  readonly #packing: OneDnnPacking;
  readonly #plain: boolean;
  #closed = false;

  constructor(path: string, lib: Lib, version: string, plain: boolean) {
    this.#dnn = new OneDnnLibrary(path, lib, version);
    this.#plans = new OneDnnPlans(this.#dnn);
    this.#packing = new OneDnnPacking(this.#dnn);
    this.#plain = plain;
  }

  get path(): string {
    return this.#dnn.path;
  }

  get version(): string {
    return this.#dnn.version;
  }

  pack(b: Float32Array, k: number, n: number, transB: boolean, m: number): Packed | undefined {
    if (this.#closed || m * n * k < MIN_MACS || b.length < k * n) return undefined;
    return this.#packing.pack(b, k, n, transB, m);
  }

  unpack(packed: Packed): Float32Array {
    return this.#packing.unpack(packed);
  }

  free(packed: Packed): void {
    this.#packing.free(packed);
  }

  revokePacked(): void {
    this.#packing.revokeAll();
  }

  packedBytes(): number {
    return this.#packing.packedBytes();
  }

  gemm(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array | Packed,
    beta: 0 | 1,
    c: Float32Array,
  ): boolean {
    const epilogue: Epilogue = { beta, bias: false, residual: false, activation: null };
    return this.#run(transB, m, n, k, a, b, null, null, epilogue, c);
  }

  linear(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array | Packed,
    bias: Float32Array | null,
    activation: OneDnnActivation | null,
    c: Float32Array,
  ): boolean {
    if (bias !== null && bias.length !== n) {
      throw new RangeError(
        `Cannot run a oneDNN matmul with bias: the bias must hold ${n} values: received ${bias.length}`,
      );
    }
    const epilogue: Epilogue = { beta: 0, bias: bias !== null, residual: false, activation };
    return this.#run(transB, m, n, k, a, b, bias, null, epilogue, c);
  }

  #run(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array | Packed,
    bias: Float32Array | null,
    residual: Float32Array | null,
    epilogue: Epilogue,
    c: Float32Array,
  ): boolean {
    if (this.#closed) return false;
    // A packed weight runs here whatever the product's size (it was packed for this path); one
    // with other dimensions is declined, and the caller unpacks it.
    const packed = b instanceof Float32Array ? null : b;
    if (packed !== null) {
      if (packed.array === null || packed.k !== k || packed.n !== n || packed.transB !== transB) {
        return false;
      }
    } else if (!this.#plain || m * n * k < MIN_MACS) return false;
    const weights = packed?.array ?? (b as Float32Array);
    if (a.length < m * k || weights.length < k * n || c.length < m * n) {
      throw new RangeError(
        `Cannot run a oneDNN matmul of [${m}, ${k}] x [${k}, ${n}]: operands hold ${a.length}, ` +
          `${weights.length} and ${c.length} values`,
      );
    }
    // Arrays this small may sit on the JavaScript heap, where the collector moves them.
    for (const x of [a, weights, c, bias, residual]) {
      if (x !== null && x.byteLength <= MIN_OFF_HEAP_BYTES) return false;
    }
    const plan = this.#plans.matmul(transB, m, n, k, epilogue, packed?.layout.desc ?? null);
    if (plan === null) return false;
    const bound: Bound[] = [
      [ARG_SRC, plan.src, a],
      [ARG_DST, plan.dst, c],
      [ARG_WEIGHTS, plan.weights, weights],
    ];
    if (bias !== null && plan.bias !== null) bound.push([ARG_BIAS, plan.bias, bias]);
    if (residual !== null && plan.residual !== null) {
      bound.push([ARG_POST_OP_0_SRC_1, plan.residual, residual]);
    }
    this.#dnn.executeBound(plan.primitive, bound, []);
    return true;
  }

  linearLayerNorm(
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array | Packed,
    bias: Float32Array,
    residual: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    c: Float32Array,
  ): boolean {
    if (this.#closed) return false;
    if (b instanceof Float32Array && m * n * k < MIN_MACS) return false;
    if (
      bias.length !== n || gamma.length !== n || beta.length !== n || residual.length < m * n ||
      n * 4 <= MIN_OFF_HEAP_BYTES
    ) return false;
    const norm = this.#plans.norm(m, n, eps);
    if (norm === null) return false;
    const epilogue: Epilogue = { beta: 0, bias: true, residual: true, activation: null };
    if (!this.#run(false, m, n, k, a, b, bias, residual, epilogue, c)) return false;
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
 * @param options Whether products with plain weights run here too.
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
      const opened = new OneDnn(name, lib, version, options.plain ?? false);
      // Its OpenMP threads outlive this handle (closed when a worker ends): keep the code mapped.
      pinLibrary(name);
      return opened;
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return `no oneDNN 2 library could be opened (${failures.join("; ")})`;
}
