/**
 * Weights packed into oneDNN's blocked layout: on a weight's second use, a copy in the layout
 * oneDNN's matmul wants, in a JavaScript array that takes the plain one's place when it is no
 * larger (adopted by the caller), else in native memory kept until the weight is released.
 * @module
 */
import { ffiView } from "./ffi_view.ts";
import {
  ARG_DST,
  ARG_SRC,
  check,
  F32,
  FORMAT_ANY,
  handle,
  MATMUL_DESC_BYTES,
  MEMORY_ALLOCATE,
  MEMORY_DESC_BYTES,
  MEMORY_DESC_SIZE,
  type Ptr,
  QUERY_WEIGHTS_MD,
  Status,
} from "./onednn_ffi.ts";
import type { Desc, OneDnnLibrary } from "./onednn_library.ts";

/** A weight matrix copied into oneDNN's blocked layout for `[k, n]` (stored as `transB` says). */
export interface Packed {
  /** oneDNN-owned memory holding the copy, or null when the copy is `array` (in place). */
  memory: Ptr;
  /** The packed values in a JavaScript array that replaces the tensor's plain one. */
  array: Float32Array | null;
  /** Bytes of the packed copy. */
  bytes: number;
  /** Rows of the weight. */
  k: number;
  /** Columns of the weight. */
  n: number;
  /** Whether the plain weight is stored `[n, k]`. */
  transB: boolean;
}

/** The blocked layout oneDNN picks for a `[k, n]` weight, and the reorder that fills it. */
export interface Layout {
  /** The blocked layout. */
  desc: Desc;
  /** Its size. */
  bytes: number;
  /** The reorder from the plain layout. */
  reorder: Ptr;
  /** The reorder back to the plain layout, made on first use. */
  unreorder: Ptr;
  /** The plain layout. */
  plainDesc: Desc;
}

/** The packed weights of one library. */
export class OneDnnPacking {
  readonly #dnn: OneDnnLibrary;
  /** `k,n,transB` -> packed layout, or null when the primitive keeps plain weights. */
  readonly #layouts = new Map<string, Layout | null>();
  #packed = new WeakMap<Float32Array, Packed>();
  /** Arrays holding weights in oneDNN's layout (in place of their plain values). */
  readonly #inPlace = new WeakMap<Float32Array, Packed>();
  /** Plain weight array -> its in-place packed array, made during the last call, to adopt. */
  readonly #adoptions = new WeakMap<Float32Array, Float32Array>();
  readonly #seen = new WeakSet<Float32Array>();
  readonly #live = new Set<Packed>();

  /**
   * Packing on `dnn`.
   * @param dnn the library
   */
  constructor(dnn: OneDnnLibrary) {
    this.#dnn = dnn;
  }

  /** The packed weight an array holds in place of its plain values, if it is one. */
  inPlace(values: Float32Array): Packed | undefined {
    return this.#inPlace.get(values);
  }

  /**
   * The blocked layout oneDNN's matmul wants for a `[k, n]` weight (the same for every row
   * count: it is asked once, with `m` rows), and a reorder into it; null when it wants plain.
   */
  layout(k: number, n: number, transB: boolean, m: number): Layout | null {
    const key = `${k},${n},${transB ? 1 : 0}`;
    const cached = this.#layouts.get(key);
    if (cached !== undefined) return cached;
    const s = this.#dnn.lib.symbols;
    let layout: Layout | null = null;
    try {
      const src = this.#dnn.desc(m, k, k, 1), dst = this.#dnn.desc(m, n, n, 1);
      const any = new Uint8Array(MEMORY_DESC_BYTES);
      const dims = new BigInt64Array([BigInt(k), BigInt(n)]);
      check(s.dnnl_memory_desc_init_by_tag(any, 2, dims, F32, FORMAT_ANY), "memory descriptor");
      const op = new Uint8Array(MATMUL_DESC_BYTES);
      check(s.dnnl_matmul_desc_init(op, src, any, null, dst), "matmul descriptor");
      const desc = new Uint8Array(MEMORY_DESC_BYTES);
      check(
        s.dnnl_primitive_desc_create(this.#dnn.out, op, null, this.#dnn.engine, null),
        "matmul",
      );
      const pd = handle(this.#dnn.out);
      try {
        const md = s.dnnl_primitive_desc_query_md(pd, QUERY_WEIGHTS_MD, 0);
        if (md === null) throw new Status("oneDNN weights query failed");
        new Deno.UnsafePointerView(md).copyInto(desc.subarray(0, MEMORY_DESC_SIZE));
      } finally {
        s.dnnl_primitive_desc_destroy(pd);
      }
      const plainDesc = this.#dnn.weightsDesc(k, n, transB);
      const bytes = Number(s.dnnl_memory_desc_get_size(desc));
      // A blocked layout (padded by at most half), not the plain matrix itself.
      if (bytes >= k * n * 4 && bytes <= k * n * 6 && !equalBytes(desc, plainDesc)) {
        const reorder = this.#dnn.reorderPrimitive(plainDesc, desc);
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
  packedFor(
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
    const layout = this.layout(k, n, transB, m);
    if (layout === null) return undefined;
    const s = this.#dnn.lib.symbols;
    if (layout.bytes === k * n * 4) {
      // Same size as the plain matrix: packed into a JavaScript array the caller puts in place of
      // the tensor's values (no second copy is kept).
      const array = alignedFloats(k * n);
      this.#dnn.reorder(layout.reorder, layout.plainDesc, b, layout.desc, array);
      const packed: Packed = { memory: null, array, bytes: layout.bytes, k, n, transB };
      this.#inPlace.set(array, packed);
      this.#adoptions.set(b, array);
      return packed;
    }
    const memory = this.#dnn.memory(layout.desc, Deno.UnsafePointer.create(MEMORY_ALLOCATE));
    let from: Ptr = null;
    try {
      from = this.#dnn.memory(layout.plainDesc, Deno.UnsafePointer.of(ffiView(b)));
      this.#dnn.execute(layout.reorder, [[ARG_SRC, from], [ARG_DST, memory]]);
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

  /** Whether `values` holds a weight in oneDNN's layout (packed in place). */
  isPacked(values: unknown): boolean {
    return values instanceof Float32Array && this.#inPlace.has(values);
  }

  /** The plain matrix of a weight packed in place (a new array); other arrays as they are. */
  unpack(values: Float32Array): Float32Array {
    const packed = this.#inPlace.get(values);
    if (packed === undefined) return values;
    const layout = this.#layouts.get(`${packed.k},${packed.n},${packed.transB ? 1 : 0}`);
    if (!layout) throw new Error("oneDNN: a packed weight lost its layout");
    layout.unreorder ??= this.#dnn.reorderPrimitive(layout.desc, layout.plainDesc);
    const plain = new Float32Array(values.length);
    this.#dnn.reorder(layout.unreorder, layout.desc, values, layout.plainDesc, plain);
    return plain;
  }

  /** The array a weight was packed into during the last call (once), or null. */
  takePacked(values: Float32Array): Float32Array | null {
    const array = this.#adoptions.get(values);
    if (array === undefined) return null;
    this.#adoptions.delete(values);
    return array;
  }

  /** Frees the packed copies in native memory (arrays packed in place stay packed). */
  freeCopies(): void {
    for (const packed of this.#live) this.#dnn.lib.symbols.dnnl_memory_destroy(packed.memory);
    this.#live.clear();
    this.#packed = new WeakMap();
  }

  /** Bytes of native memory that packed weights hold now. */
  packedBytes(): number {
    let total = 0;
    for (const p of this.#live) total += p.bytes;
    return total;
  }

  /** Frees the packed copy of `b`, if any (its tensor was disposed). */
  release(b: Float32Array): void {
    const packed = this.#packed.get(b);
    if (packed === undefined) return;
    this.#packed.delete(b);
    this.#live.delete(packed);
    this.#dnn.lib.symbols.dnnl_memory_destroy(packed.memory);
  }

  /** Frees every reorder and every packed copy. */
  close(): void {
    const s = this.#dnn.lib.symbols;
    for (const layout of this.#layouts.values()) {
      if (layout) s.dnnl_primitive_destroy(layout.reorder);
      if (layout?.unreorder) s.dnnl_primitive_destroy(layout.unreorder);
    }
    this.#layouts.clear();
    for (const packed of this.#live) s.dnnl_memory_destroy(packed.memory);
    this.#live.clear();
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
