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

import { LruCache } from "./lru_cache.ts";
import { pinLibrary } from "./pin_library.ts";
import { ffiView } from "./ffi_view.ts";
import {
  ACTIVATIONS,
  ARG_BIAS,
  ARG_DST,
  ARG_POST_OP_0_SRC_1,
  ARG_SCALE,
  ARG_SHIFT,
  ARG_SRC,
  ARG_WEIGHTS,
  BINARY_ADD,
  check,
  ENGINE_CPU,
  F32,
  FORMAT_ANY,
  FORWARD_INFERENCE,
  handle,
  LAYER_NORM_DESC_BYTES,
  type Lib,
  MATMUL_DESC_BYTES,
  MEMORY_ALLOCATE,
  MEMORY_DESC_BYTES,
  MEMORY_DESC_SIZE,
  type OneDnnActivation,
  type Ptr,
  QUERY_WEIGHTS_MD,
  SOFTMAX_DESC_BYTES,
  Status,
  STREAM_IN_ORDER,
  SYMBOLS,
  USE_SCALE_AND_SHIFT,
} from "./onednn_ffi.ts";

export { isOneDnnActivation, type OneDnnActivation } from "./onednn_ffi.ts";

/**
 * GEMMs this small (multiply-adds) stay on OpenBLAS: creating a primitive would cost more than
 * it saves, and the operands of a tiny product may live on the JavaScript heap, where the
 * garbage collector can move them.
 */
const MIN_MACS = 1 << 20;
const CACHE_SIZE = 48;
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

interface Plan {
  primitive: Ptr;
  src: Ptr;
  weights: Ptr;
  bias: Ptr;
  residual: Ptr;
  dst: Ptr;
}

/** A LayerNorm primitive over rows of one width, with its memory objects. */
interface NormPlan {
  primitive: Ptr;
  data: Ptr;
  scale: Ptr;
  shift: Ptr;
}

/** A oneDNN descriptor: bytes the library fills (over a plain `ArrayBuffer`, as FFI wants). */
type Desc = Uint8Array<ArrayBuffer>;

/** An execute argument whose memory object points at a JavaScript array during one call. */
type Bound = [arg: number, memory: Ptr, data: Float32Array];

/** A softmax primitive over rows of one shape, with its memory object. */
interface SoftmaxPlan {
  primitive: Ptr;
  data: Ptr;
}

/** What a primitive computes besides the product. */
interface Epilogue {
  beta: 0 | 1;
  bias: boolean;
  /** An `[m, n]` matrix added after the bias (a skip connection). */
  residual: boolean;
  activation: OneDnnActivation | null;
}

/** A weight matrix copied into oneDNN's blocked layout for `[k, n]` (stored as `transB` says). */
interface Packed {
  /** oneDNN-owned memory holding the copy, or null when the copy is `array` (in place). */
  memory: Ptr;
  /** The packed values in a JavaScript array that replaces the tensor's plain one. */
  array: Float32Array | null;
  bytes: number;
  k: number;
  n: number;
  transB: boolean;
}

/** The blocked layout oneDNN picks for a `[k, n]` weight, and the reorder that fills it. */
interface Layout {
  desc: Desc;
  bytes: number;
  reorder: Ptr;
  /** The reorder back to the plain layout, made on first use. */
  unreorder: Ptr;
  plainDesc: Desc;
}

class OneDnn implements OneDnnGemm {
  readonly path: string;
  readonly version: string;
  #prepack: boolean;
  readonly #lib: Lib;
  readonly #engine: Ptr;
  readonly #stream: Ptr;
  /** Shape key -> primitive, or null when oneDNN could not build it. Map order is LRU order. */
  readonly #plans = new LruCache<Plan>(CACHE_SIZE, (plan) => this.#free(plan));
  /** `k,n,transB` -> packed layout, or null when the primitive keeps plain weights. */
  readonly #layouts = new Map<string, Layout | null>();
  /** `rows,cols` -> softmax primitive with its memory, or null when oneDNN could not build it. */
  readonly #softmaxes = new LruCache<SoftmaxPlan>(CACHE_SIZE, (plan) => this.#freeSoftmax(plan));
  /** `m,n,eps` -> LayerNorm primitive, or null when oneDNN could not build it. */
  readonly #norms = new LruCache<NormPlan>(CACHE_SIZE, (plan) => this.#freeNorm(plan));
  #packed = new WeakMap<Float32Array, Packed>();
  /** Arrays holding weights in oneDNN's layout (in place of their plain values). */
  readonly #inPlace = new WeakMap<Float32Array, Packed>();
  /** Plain weight array -> its in-place packed array, made during the last call, to adopt. */
  readonly #adoptions = new WeakMap<Float32Array, Float32Array>();
  readonly #seen = new WeakSet<Float32Array>();
  readonly #live = new Set<Packed>();
  /** Room for 8 `dnnl_exec_arg_t` (an int and a pointer each). */
  readonly #args = new BigUint64Array(16);
  readonly #out = new BigUint64Array(1);
  #closed = false;

  readonly #plain: boolean;

  constructor(path: string, lib: Lib, version: string, prepack: boolean, plain: boolean) {
    this.path = path;
    this.#lib = lib;
    this.version = version;
    this.#prepack = prepack;
    this.#plain = plain;
    const s = lib.symbols;
    check(s.dnnl_engine_create(this.#out, ENGINE_CPU, 0n), "engine creation");
    this.#engine = handle(this.#out);
    try {
      check(s.dnnl_stream_create(this.#out, this.#engine, STREAM_IN_ORDER), "stream creation");
    } catch (err) {
      s.dnnl_engine_destroy(this.#engine);
      throw err;
    }
    this.#stream = handle(this.#out);
  }

  #desc(rows: number, cols: number, rowStride: number, colStride: number): Desc {
    const md = new Uint8Array(MEMORY_DESC_BYTES);
    const dims = new BigInt64Array([BigInt(rows), BigInt(cols)]);
    const strides = new BigInt64Array([BigInt(rowStride), BigInt(colStride)]);
    check(
      this.#lib.symbols.dnnl_memory_desc_init_by_strides(md, 2, dims, F32, strides),
      "memory descriptor",
    );
    return md;
  }

  #weightsDesc(k: number, n: number, transB: boolean): Desc {
    return transB ? this.#desc(k, n, 1, k) : this.#desc(k, n, n, 1);
  }

  #memory(md: Desc, data: Ptr = null): Ptr {
    check(
      this.#lib.symbols.dnnl_memory_create(this.#out, md, this.#engine, data),
      "memory creation",
    );
    return handle(this.#out);
  }

  /** Creates a primitive from its descriptor; the descriptor is freed. */
  #primitive(op: Desc, attr: Ptr): Ptr {
    const s = this.#lib.symbols;
    check(
      s.dnnl_primitive_desc_create(this.#out, op, attr, this.#engine, null),
      "primitive descriptor",
    );
    return this.#fromDescriptor(handle(this.#out));
  }

  /** A reorder primitive from layout `from` to layout `to`. */
  #reorderPrimitive(from: Desc, to: Desc): Ptr {
    check(
      this.#lib.symbols.dnnl_reorder_primitive_desc_create(
        this.#out,
        from,
        this.#engine,
        to,
        this.#engine,
        null,
      ),
      "reorder",
    );
    return this.#fromDescriptor(handle(this.#out));
  }

  /** The primitive of primitive descriptor `pd`, which is freed. */
  #fromDescriptor(pd: Ptr): Ptr {
    const s = this.#lib.symbols;
    try {
      check(s.dnnl_primitive_create(this.#out, pd), "primitive creation");
      return handle(this.#out);
    } finally {
      s.dnnl_primitive_desc_destroy(pd);
    }
  }

  /** Builds the primitive for one shape; returns null when oneDNN cannot. */
  #build(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    epilogue: Epilogue,
    layout: Layout | null,
  ): Plan | null {
    const s = this.#lib.symbols;
    let attr: Ptr = null, postOps: Ptr = null;
    try {
      const src = this.#desc(m, k, k, 1);
      const weights = layout?.desc ?? this.#weightsDesc(k, n, transB);
      const dst = this.#desc(m, n, n, 1);
      const bias = epilogue.bias ? this.#desc(1, n, n, 1) : null;
      const op = new Uint8Array(MATMUL_DESC_BYTES);
      check(s.dnnl_matmul_desc_init(op, src, weights, bias, dst), "matmul descriptor");
      const residual = epilogue.residual ? this.#desc(m, n, n, 1) : null;
      if (epilogue.beta === 1 || epilogue.activation !== null || residual !== null) {
        check(s.dnnl_primitive_attr_create(this.#out), "attribute creation");
        attr = handle(this.#out);
        check(s.dnnl_post_ops_create(this.#out), "post-op creation");
        postOps = handle(this.#out);
        if (epilogue.beta === 1) check(s.dnnl_post_ops_append_sum(postOps, 1), "sum post-op");
        if (residual !== null) {
          if (epilogue.beta === 1) throw new Status("a residual after a sum is not supported");
          check(s.dnnl_post_ops_append_binary(postOps, BINARY_ADD, residual), "add post-op");
        }
        if (epilogue.activation !== null) {
          const [alg, alpha, beta] = ACTIVATIONS[epilogue.activation];
          check(s.dnnl_post_ops_append_eltwise(postOps, 1, alg, alpha, beta), "eltwise post-op");
        }
        check(s.dnnl_primitive_attr_set_post_ops(attr, postOps), "post-op attribute");
      }
      const plan: Plan = {
        primitive: this.#primitive(op, attr),
        src: null,
        weights: null,
        bias: null,
        residual: null,
        dst: null,
      };
      try {
        plan.src = this.#memory(src);
        plan.weights = this.#memory(weights);
        if (bias !== null) plan.bias = this.#memory(bias);
        if (residual !== null) plan.residual = this.#memory(residual);
        plan.dst = this.#memory(dst);
      } catch (err) {
        this.#free(plan);
        throw err;
      }
      return plan;
    } catch (err) {
      if (err instanceof Status) return null;
      throw err;
    } finally {
      if (postOps !== null) s.dnnl_post_ops_destroy(postOps);
      if (attr !== null) s.dnnl_primitive_attr_destroy(attr);
    }
  }

  #free(plan: Plan): void {
    const s = this.#lib.symbols;
    for (const mem of [plan.src, plan.weights, plan.bias, plan.residual, plan.dst]) {
      if (mem !== null) s.dnnl_memory_destroy(mem);
    }
    s.dnnl_primitive_destroy(plan.primitive);
  }

  #plan(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    epilogue: Epilogue,
    layout: Layout | null,
  ): Plan | null {
    const key = `${m},${n},${k},${transB ? 1 : 0},${epilogue.beta},${epilogue.bias ? 1 : 0},` +
      `${epilogue.residual ? 1 : 0},` +
      `${epilogue.activation ?? ""},${layout ? "packed" : "plain"}`;
    return this.#plans.get(key, () => this.#build(transB, m, n, k, epilogue, layout));
  }

  /**
   * The blocked layout oneDNN's matmul wants for a `[k, n]` weight (the same for every row
   * count: it is asked once, with `m` rows), and a reorder into it; null when it wants plain.
   */
  #layout(k: number, n: number, transB: boolean, m: number): Layout | null {
    const key = `${k},${n},${transB ? 1 : 0}`;
    const cached = this.#layouts.get(key);
    if (cached !== undefined) return cached;
    const s = this.#lib.symbols;
    let layout: Layout | null = null;
    try {
      const src = this.#desc(m, k, k, 1), dst = this.#desc(m, n, n, 1);
      const any = new Uint8Array(MEMORY_DESC_BYTES);
      const dims = new BigInt64Array([BigInt(k), BigInt(n)]);
      check(s.dnnl_memory_desc_init_by_tag(any, 2, dims, F32, FORMAT_ANY), "memory descriptor");
      const op = new Uint8Array(MATMUL_DESC_BYTES);
      check(s.dnnl_matmul_desc_init(op, src, any, null, dst), "matmul descriptor");
      const desc = new Uint8Array(MEMORY_DESC_BYTES);
      check(s.dnnl_primitive_desc_create(this.#out, op, null, this.#engine, null), "matmul");
      const pd = handle(this.#out);
      try {
        const md = s.dnnl_primitive_desc_query_md(pd, QUERY_WEIGHTS_MD, 0);
        if (md === null) throw new Status("oneDNN weights query failed");
        new Deno.UnsafePointerView(md).copyInto(desc.subarray(0, MEMORY_DESC_SIZE));
      } finally {
        s.dnnl_primitive_desc_destroy(pd);
      }
      const plainDesc = this.#weightsDesc(k, n, transB);
      const bytes = Number(s.dnnl_memory_desc_get_size(desc));
      // A blocked layout (padded by at most half), not the plain matrix itself.
      if (bytes >= k * n * 4 && bytes <= k * n * 6 && !equalBytes(desc, plainDesc)) {
        const reorder = this.#reorderPrimitive(plainDesc, desc);
        layout = { desc, bytes, reorder, unreorder: null, plainDesc };
      }
    } catch (err) {
      if (!(err instanceof Status)) throw err;
      layout = null;
    }
    this.#layouts.set(key, layout);
    return layout;
  }

  /** The packed copy of `b`, made on its second use; undefined while it stays plain. */
  #packedFor(
    b: Float32Array,
    k: number,
    n: number,
    transB: boolean,
    m: number,
  ): Packed | undefined {
    const existing = this.#packed.get(b);
    if (existing !== undefined) {
      if (existing.k === k && existing.n === n && existing.transB === transB) return existing;
      return undefined;
    }
    if (!this.#seen.has(b)) {
      this.#seen.add(b);
      return undefined;
    }
    const layout = this.#layout(k, n, transB, m);
    if (layout === null) return undefined;
    const s = this.#lib.symbols;
    if (layout.bytes === k * n * 4) {
      // Same size as the plain matrix: packed into a JavaScript array the caller puts in place of
      // the tensor's values (no second copy is kept).
      const array = alignedFloats(k * n);
      this.#reorder(layout.reorder, layout.plainDesc, b, layout.desc, array);
      const packed: Packed = { memory: null, array, bytes: layout.bytes, k, n, transB };
      this.#inPlace.set(array, packed);
      this.#adoptions.set(b, array);
      return packed;
    }
    const memory = this.#memory(layout.desc, Deno.UnsafePointer.create(MEMORY_ALLOCATE));
    let from: Ptr = null;
    try {
      from = this.#memory(layout.plainDesc, Deno.UnsafePointer.of(ffiView(b)));
      this.#execute(layout.reorder, [[ARG_SRC, from], [ARG_DST, memory]]);
    } catch (err) {
      s.dnnl_memory_destroy(memory);
      throw err;
    } finally {
      if (from !== null) s.dnnl_memory_destroy(from);
    }
    const packed: Packed = { memory, array: null, bytes: layout.bytes, k, n, transB };
    this.#packed.set(b, packed);
    this.#live.add(packed);
    return packed;
  }

  /** Runs `reorder` from `from` (described by `fromDesc`) into `to` (by `toDesc`). */
  #reorder(
    reorder: Ptr,
    fromDesc: Desc,
    from: Float32Array,
    toDesc: Desc,
    to: Float32Array,
  ): void {
    const s = this.#lib.symbols;
    let source: Ptr = null, target: Ptr = null;
    try {
      source = this.#memory(fromDesc, Deno.UnsafePointer.of(ffiView(from)));
      target = this.#memory(toDesc, Deno.UnsafePointer.of(ffiView(to)));
      this.#execute(reorder, [[ARG_SRC, source], [ARG_DST, target]]);
    } finally {
      if (source !== null) s.dnnl_memory_destroy(source);
      if (target !== null) s.dnnl_memory_destroy(target);
    }
  }

  isPacked(values: unknown): boolean {
    return values instanceof Float32Array && this.#inPlace.has(values);
  }

  unpack(values: Float32Array): Float32Array {
    const packed = this.#inPlace.get(values);
    if (packed === undefined) return values;
    const layout = this.#layouts.get(`${packed.k},${packed.n},${packed.transB ? 1 : 0}`);
    if (!layout) throw new Error("oneDNN: a packed weight lost its layout");
    layout.unreorder ??= this.#reorderPrimitive(layout.desc, layout.plainDesc);
    const plain = new Float32Array(values.length);
    this.#reorder(layout.unreorder, layout.desc, values, layout.plainDesc, plain);
    return plain;
  }

  takePacked(values: Float32Array): Float32Array | null {
    const array = this.#adoptions.get(values);
    if (array === undefined) return null;
    this.#adoptions.delete(values);
    return array;
  }

  #execute(primitive: Ptr, args: Array<[number, Ptr]>): void {
    const buf = this.#args;
    const view = new DataView(buf.buffer);
    args.forEach(([arg, mem], i) => {
      view.setInt32(i * 16, arg, true);
      view.setInt32(i * 16 + 4, 0, true);
      buf[i * 2 + 1] = BigInt(Deno.UnsafePointer.value(mem));
    });
    const s = this.#lib.symbols;
    check(s.dnnl_primitive_execute(primitive, this.#stream, args.length, buf), "execution");
    check(s.dnnl_stream_wait(this.#stream), "stream wait");
  }

  /**
   * Runs `primitive` with each `bound` memory object pointing at its JavaScript array for the
   * call only, and the `fixed` ones as they are.
   */
  #executeBound(primitive: Ptr, bound: Bound[], fixed: Array<[number, Ptr]>): void {
    const s = this.#lib.symbols;
    try {
      for (const [, mem, data] of bound) {
        check(
          s.dnnl_memory_set_data_handle(mem, Deno.UnsafePointer.of(ffiView(data))),
          "data handle",
        );
      }
      this.#execute(primitive, [...bound.map(([arg, mem]): [number, Ptr] => [arg, mem]), ...fixed]);
    } finally {
      // Never leave a pointer to a JavaScript buffer inside the library.
      for (const [, mem] of bound) s.dnnl_memory_set_data_handle(mem, null);
    }
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
    const inPlace = this.#inPlace.get(b);
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
      (stableB && this.#prepack ? this.#packedFor(b, k, n, transB, m) : undefined);
    if (packed === undefined && !this.#plain) return false;
    let plan = packed ? this.#plan(transB, m, n, k, epilogue, this.#layout(k, n, transB, m)) : null;
    if (plan === null) {
      if (!this.#plain || inPlace !== undefined) return false;
      packed = undefined;
      plan = this.#plan(transB, m, n, k, epilogue, null);
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
    this.#executeBound(plan.primitive, bound, fixed);
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
    const norm = this.#norm(m, n, eps);
    if (norm === null) return false;
    const epilogue: Epilogue = { beta: 0, bias: true, residual: true, activation: null };
    if (!this.#run(false, m, n, k, a, b, bias, residual, epilogue, c, stableB)) return false;
    this.#executeBound(
      norm.primitive,
      [[ARG_SRC, norm.data, c], [ARG_SCALE, norm.scale, gamma], [ARG_SHIFT, norm.shift, beta]],
      [[ARG_DST, norm.data]],
    );
    return true;
  }

  /** The in-place LayerNorm over `[m, n]` rows; null when oneDNN cannot build it. */
  #norm(m: number, n: number, eps: number): NormPlan | null {
    return this.#norms.get(`${m},${n},${eps}`, () => this.#buildNorm(m, n, eps));
  }

  #buildNorm(m: number, n: number, eps: number): NormPlan | null {
    const s = this.#lib.symbols;
    try {
      const data = this.#desc(m, n, n, 1);
      // oneDNN wants the scale and shift as 1-D tensors of n values.
      const flat = new Uint8Array(MEMORY_DESC_BYTES);
      check(
        s.dnnl_memory_desc_init_by_strides(
          flat,
          1,
          new BigInt64Array([BigInt(n)]),
          F32,
          new BigInt64Array([1n]),
        ),
        "memory descriptor",
      );
      const op = new Uint8Array(LAYER_NORM_DESC_BYTES);
      check(
        s.dnnl_layer_normalization_forward_desc_init(
          op,
          FORWARD_INFERENCE,
          data,
          null,
          eps,
          USE_SCALE_AND_SHIFT,
        ),
        "layer normalization descriptor",
      );
      const plan: NormPlan = {
        primitive: this.#primitive(op, null),
        data: null,
        scale: null,
        shift: null,
      };
      try {
        plan.data = this.#memory(data);
        plan.scale = this.#memory(flat);
        plan.shift = this.#memory(flat);
      } catch (err) {
        this.#freeNorm(plan);
        throw err;
      }
      return plan;
    } catch (err) {
      if (err instanceof Status) return null;
      throw err;
    }
  }

  #freeNorm(plan: NormPlan): void {
    const s = this.#lib.symbols;
    for (const mem of [plan.data, plan.scale, plan.shift]) {
      if (mem !== null) s.dnnl_memory_destroy(mem);
    }
    s.dnnl_primitive_destroy(plan.primitive);
  }

  softmaxRows(rows: number, cols: number, data: Float32Array): boolean {
    if (this.#closed || rows * cols < MIN_SOFTMAX || data.length < rows * cols) return false;
    const plan = this.#softmaxes.get(`${rows},${cols}`, () => this.#buildSoftmax(rows, cols));
    if (plan === null) return false;
    this.#executeBound(plan.primitive, [[ARG_SRC, plan.data, data]], [[ARG_DST, plan.data]]);
    return true;
  }

  #buildSoftmax(rows: number, cols: number): SoftmaxPlan | null {
    try {
      const md = this.#desc(rows, cols, cols, 1);
      const op = new Uint8Array(SOFTMAX_DESC_BYTES);
      check(
        this.#lib.symbols.dnnl_softmax_forward_desc_init(op, FORWARD_INFERENCE, md, 1),
        "softmax descriptor",
      );
      return { primitive: this.#primitive(op, null), data: this.#memory(md) };
    } catch (err) {
      if (err instanceof Status) return null;
      throw err;
    }
  }

  #freeSoftmax(plan: SoftmaxPlan): void {
    this.#lib.symbols.dnnl_memory_destroy(plan.data);
    this.#lib.symbols.dnnl_primitive_destroy(plan.primitive);
  }

  get prepack(): boolean {
    return this.#prepack;
  }

  setPrepack(on: boolean): void {
    this.#prepack = on;
    if (on) return;
    for (const packed of this.#live) this.#lib.symbols.dnnl_memory_destroy(packed.memory);
    this.#live.clear();
    this.#packed = new WeakMap();
  }

  packedBytes(): number {
    let total = 0;
    for (const p of this.#live) total += p.bytes;
    return total;
  }

  release(b: Float32Array): void {
    const packed = this.#packed.get(b);
    if (packed === undefined) return;
    this.#packed.delete(b);
    this.#live.delete(packed);
    this.#lib.symbols.dnnl_memory_destroy(packed.memory);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const s = this.#lib.symbols;
    this.#plans.clear();
    this.#norms.clear();
    this.#softmaxes.clear();
    for (const layout of this.#layouts.values()) {
      if (layout) s.dnnl_primitive_destroy(layout.reorder);
      if (layout?.unreorder) s.dnnl_primitive_destroy(layout.unreorder);
    }
    this.#layouts.clear();
    for (const packed of this.#live) s.dnnl_memory_destroy(packed.memory);
    this.#live.clear();
    s.dnnl_stream_destroy(this.#stream);
    s.dnnl_engine_destroy(this.#engine);
    // The library stays loaded: OpenMP threads it started may still be parked inside it.
  }
}

/** A zeroed Float32Array of `length` values starting on a 64-byte boundary (a cache line). */
function alignedFloats(length: number): Float32Array {
  const whole = new Float32Array(length + 16);
  const address = Number(Deno.UnsafePointer.value(Deno.UnsafePointer.of(whole)));
  const skip = ((64 - (address % 64)) % 64) / 4;
  return whole.subarray(skip, skip + length);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < MEMORY_DESC_SIZE; i++) if (a[i] !== b[i]) return false;
  return true;
}

function readVersion(lib: Lib): [number, string] {
  const p = lib.symbols.dnnl_version();
  if (p === null) return [0, "unknown"];
  const view = new Deno.UnsafePointerView(p);
  const major = view.getInt32(0), minor = view.getInt32(4), patch = view.getInt32(8);
  return [major, `${major}.${minor}.${patch}`];
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
