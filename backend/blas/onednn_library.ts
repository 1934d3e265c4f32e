/**
 * oneDNN's library, opened: its engine and stream, and the calls every oneDNN primitive goes
 * through (memory descriptors and objects, primitives and reorders, execution with JavaScript
 * arrays bound for one call). Owned by `onednn.ts`'s GEMM, shared with its plans and packing.
 * @module
 */
import { ffiView } from "./ffi_view.ts";
import {
  ARG_DST,
  ARG_SRC,
  check,
  ENGINE_CPU,
  F32,
  handle,
  type Lib,
  MEMORY_DESC_BYTES,
  type Ptr,
  STREAM_IN_ORDER,
} from "./onednn_ffi.ts";

/** A oneDNN descriptor: bytes the library fills (over a plain `ArrayBuffer`, as FFI wants). */
export type Desc = Uint8Array<ArrayBuffer>;

/** An execute argument whose memory object points at a JavaScript array during one call. */
export type Bound = [arg: number, memory: Ptr, data: Float32Array];

/** oneDNN's library with one CPU engine and one in-order stream. */
export class OneDnnLibrary {
  /** The library that was opened. */
  readonly path: string;
  /** oneDNN's version, `major.minor.patch`. */
  readonly version: string;
  /** The library's functions. */
  readonly lib: Lib;
  /** The CPU engine. */
  readonly engine: Ptr;
  /** The in-order stream primitives run on. */
  readonly stream: Ptr;
  /** The out-parameter of every create call. */
  readonly out: BigUint64Array<ArrayBuffer> = new BigUint64Array(1);
  /** Room for 8 `dnnl_exec_arg_t` (an int and a pointer each). */
  readonly #args = new BigUint64Array(16);

  /**
   * Creates the engine and the stream.
   * @param path the library's file
   * @param lib the opened library
   * @param version its version
   */
  constructor(path: string, lib: Lib, version: string) {
    this.path = path;
    this.lib = lib;
    this.version = version;
    const s = lib.symbols;
    check(s.dnnl_engine_create(this.out, ENGINE_CPU, 0n), "engine creation");
    this.engine = handle(this.out);
    try {
      check(s.dnnl_stream_create(this.out, this.engine, STREAM_IN_ORDER), "stream creation");
    } catch (err) {
      s.dnnl_engine_destroy(this.engine);
      throw err;
    }
    this.stream = handle(this.out);
  }

  /** A 2-D float32 memory descriptor with the given strides. */
  desc(rows: number, cols: number, rowStride: number, colStride: number): Desc {
    const md = new Uint8Array(MEMORY_DESC_BYTES);
    const dims = new BigInt64Array([BigInt(rows), BigInt(cols)]);
    const strides = new BigInt64Array([BigInt(rowStride), BigInt(colStride)]);
    check(
      this.lib.symbols.dnnl_memory_desc_init_by_strides(md, 2, dims, F32, strides),
      "memory descriptor",
    );
    return md;
  }

  /** The descriptor of a plain `[k, n]` weight, stored `[n, k]` when `transB`. */
  weightsDesc(k: number, n: number, transB: boolean): Desc {
    return transB ? this.desc(k, n, 1, k) : this.desc(k, n, n, 1);
  }

  /** A memory object for `md`, over `data` (or memory oneDNN allocates, or none). */
  memory(md: Desc, data: Ptr = null): Ptr {
    check(
      this.lib.symbols.dnnl_memory_create(this.out, md, this.engine, data),
      "memory creation",
    );
    return handle(this.out);
  }

  /** Creates a primitive from its descriptor; the descriptor is freed. */
  primitive(op: Desc, attr: Ptr): Ptr {
    const s = this.lib.symbols;
    check(
      s.dnnl_primitive_desc_create(this.out, op, attr, this.engine, null),
      "primitive descriptor",
    );
    return this.fromDescriptor(handle(this.out));
  }

  /** A reorder primitive from layout `from` to layout `to`. */
  reorderPrimitive(from: Desc, to: Desc): Ptr {
    check(
      this.lib.symbols.dnnl_reorder_primitive_desc_create(
        this.out,
        from,
        this.engine,
        to,
        this.engine,
        null,
      ),
      "reorder",
    );
    return this.fromDescriptor(handle(this.out));
  }

  /** The primitive of primitive descriptor `pd`, which is freed. */
  fromDescriptor(pd: Ptr): Ptr {
    const s = this.lib.symbols;
    try {
      check(s.dnnl_primitive_create(this.out, pd), "primitive creation");
      return handle(this.out);
    } finally {
      s.dnnl_primitive_desc_destroy(pd);
    }
  }

  /** Runs `reorder` from `from` (described by `fromDesc`) into `to` (by `toDesc`). */
  reorder(
    reorder: Ptr,
    fromDesc: Desc,
    from: Float32Array,
    toDesc: Desc,
    to: Float32Array,
  ): void {
    const s = this.lib.symbols;
    let source: Ptr = null, target: Ptr = null;
    try {
      source = this.memory(fromDesc, Deno.UnsafePointer.of(ffiView(from)));
      target = this.memory(toDesc, Deno.UnsafePointer.of(ffiView(to)));
      this.execute(reorder, [[ARG_SRC, source], [ARG_DST, target]]);
    } finally {
      if (source !== null) s.dnnl_memory_destroy(source);
      if (target !== null) s.dnnl_memory_destroy(target);
    }
  }

  /** Runs `primitive` with `args` and waits for it. */
  execute(primitive: Ptr, args: Array<[number, Ptr]>): void {
    const buf = this.#args;
    const view = new DataView(buf.buffer);
    args.forEach(([arg, mem], i) => {
      view.setInt32(i * 16, arg, true);
      view.setInt32(i * 16 + 4, 0, true);
      buf[i * 2 + 1] = BigInt(Deno.UnsafePointer.value(mem));
    });
    const s = this.lib.symbols;
    check(s.dnnl_primitive_execute(primitive, this.stream, args.length, buf), "execution");
    check(s.dnnl_stream_wait(this.stream), "stream wait");
  }

  /**
   * Runs `primitive` with each `bound` memory object pointing at its JavaScript array for the
   * call only, and the `fixed` ones as they are.
   */
  executeBound(primitive: Ptr, bound: Bound[], fixed: Array<[number, Ptr]>): void {
    const s = this.lib.symbols;
    try {
      for (const [, mem, data] of bound) {
        check(
          s.dnnl_memory_set_data_handle(mem, Deno.UnsafePointer.of(ffiView(data))),
          "data handle",
        );
      }
      this.execute(primitive, [...bound.map(([arg, mem]): [number, Ptr] => [arg, mem]), ...fixed]);
    } finally {
      // Never leave a pointer to a JavaScript buffer inside the library.
      for (const [, mem] of bound) s.dnnl_memory_set_data_handle(mem, null);
    }
  }

  /** Destroys the stream and the engine (the library itself stays loaded). */
  close(): void {
    this.lib.symbols.dnnl_stream_destroy(this.stream);
    this.lib.symbols.dnnl_engine_destroy(this.engine);
  }
}

/**
 * The version of an opened oneDNN library.
 * @param lib the library
 * @returns the major version and `major.minor.patch`
 */
export function readVersion(lib: Lib): [number, string] {
  const p = lib.symbols.dnnl_version();
  if (p === null) return [0, "unknown"];
  const view = new Deno.UnsafePointerView(p);
  const major = view.getInt32(0), minor = view.getInt32(4), patch = view.getInt32(8);
  return [major, `${major}.${minor}.${patch}`];
}
