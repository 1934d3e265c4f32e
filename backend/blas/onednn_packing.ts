/**
 * Weights packed into oneDNN's blocked layout: a copy of a plain weight in the layout oneDNN's
 * matmul wants, in a JavaScript array (64-byte aligned) owned by whoever holds the weight, and the
 * reorders in and out of it.
 * @module
 */
import {
  check,
  F32,
  FORMAT_ANY,
  handle,
  MATMUL_DESC_BYTES,
  MEMORY_DESC_BYTES,
  MEMORY_DESC_SIZE,
  type Ptr,
  QUERY_WEIGHTS_MD,
  Status,
} from "./onednn_ffi.ts";
import type { Desc, OneDnnLibrary } from "./onednn_library.ts";

/** A weight matrix copied into oneDNN's blocked layout for `[k, n]` (stored as `transB` says). */
export interface Packed {
  /** The packed values (padded blocks), or null once freed. */
  array: Float32Array | null;
  /** Bytes of the packed copy. */
  readonly bytes: number;
  /** Rows of the weight. */
  readonly k: number;
  /** Columns of the weight. */
  readonly n: number;
  /** Whether the plain weight is stored `[n, k]`. */
  readonly transB: boolean;
  /** Its layout (shared by every weight of this shape). */
  readonly layout: Layout;
  /** Whether products still read it (false once freed or revoked). */
  active: boolean;
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

/** The blocked layouts of one library, and packing into and out of them. */
export class OneDnnPacking {
  readonly #dnn: OneDnnLibrary;
  /** `k,n,transB` -> packed layout, or null when the primitive keeps plain weights. */
  readonly #layouts = new Map<string, Layout | null>();
  /** Weights packed and not freed (weak: a weight dropped by its holder goes with it). */
  readonly #live = new Set<WeakRef<Packed>>();

  /**
   * Packing on `dnn`.
   * @param dnn the library
   */
  constructor(dnn: OneDnnLibrary) {
    this.#dnn = dnn;
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

  /**
   * A packed copy of the plain weight `b` (`[k, n]`, or `[n, k]` when `transB`) for products of
   * `m` rows; undefined when oneDNN's matmul keeps such weights plain.
   */
  pack(b: Float32Array, k: number, n: number, transB: boolean, m: number): Packed | undefined {
    const layout = this.layout(k, n, transB, m);
    if (layout === null) return undefined;
    const array = alignedFloats(layout.bytes / 4);
    this.#dnn.reorder(layout.reorder, layout.plainDesc, b, layout.desc, array);
    const packed: Packed = { array, bytes: layout.bytes, k, n, transB, layout, active: true };
    this.#live.add(new WeakRef(packed));
    return packed;
  }

  /** The plain matrix of a packed weight (a new array), bit for bit. */
  unpack(packed: Packed): Float32Array {
    if (packed.array === null) throw new Error("Cannot unpack a oneDNN weight: it was freed");
    const layout = packed.layout;
    layout.unreorder ??= this.#dnn.reorderPrimitive(layout.desc, layout.plainDesc);
    const plain = new Float32Array(packed.k * packed.n);
    this.#dnn.reorder(layout.unreorder, layout.desc, packed.array, layout.plainDesc, plain);
    return plain;
  }

  /** Drops a packed weight's values. */
  free(packed: Packed): void {
    packed.array = null;
    packed.active = false;
  }

  /** Marks every packed weight inactive: products stop reading them (their holders unpack). */
  revokeAll(): void {
    for (const ref of this.#live) {
      const packed = ref.deref();
      if (packed !== undefined) packed.active = false;
    }
  }

  /** Bytes that packed weights not yet freed (nor collected) hold now. */
  packedBytes(): number {
    let total = 0;
    for (const ref of this.#live) {
      const packed = ref.deref();
      if (packed === undefined || packed.array === null) this.#live.delete(ref);
      else total += packed.bytes;
    }
    return total;
  }

  /** Frees every reorder. */
  close(): void {
    const s = this.#dnn.lib.symbols;
    for (const layout of this.#layouts.values()) {
      if (layout) s.dnnl_primitive_destroy(layout.reorder);
      if (layout?.unreorder) s.dnnl_primitive_destroy(layout.unreorder);
    }
    this.#layouts.clear();
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
