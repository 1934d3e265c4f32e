/**
 * The oneDNN 2 C API as Deno FFI sees it: the functions used, struct sizes, enum values and
 * argument ids, and the two helpers every call goes through.
 * @module
 */

/** The oneDNN v2 C functions used here. */
export const SYMBOLS = {
  dnnl_version: { parameters: [], result: "pointer" },
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_engine_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_stream_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_desc_init_by_strides: {
    parameters: ["buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_matmul_desc_init: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_primitive_attr_create: { parameters: ["buffer"], result: "i32" },
  dnnl_primitive_attr_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_attr_set_post_ops: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_post_ops_create: { parameters: ["buffer"], result: "i32" },
  dnnl_post_ops_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_post_ops_append_sum: { parameters: ["pointer", "f32"], result: "i32" },
  dnnl_post_ops_append_binary: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
  dnnl_layer_normalization_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_softmax_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "i32"],
    result: "i32",
  },
  dnnl_post_ops_append_eltwise: {
    parameters: ["pointer", "f32", "i32", "f32", "f32"],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_desc_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_primitive_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "buffer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_memory_desc_get_size: { parameters: ["buffer"], result: "usize" },
  dnnl_primitive_desc_query_md: { parameters: ["pointer", "i32", "i32"], result: "pointer" },
  dnnl_reorder_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "buffer", "pointer", "pointer"],
    result: "i32",
  },
} as const;

export type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;
export type Ptr = Deno.PointerValue;

// Sizes of the v2 structs (x86-64 and aarch64): dnnl_memory_desc_t is 696 bytes and
// dnnl_matmul_desc_t 2800; the buffers are larger so that a minor release that grows them
// cannot write past them.
export const MEMORY_DESC_BYTES = 1024;
/** `sizeof(dnnl_memory_desc_t)` in the v2 ABI, for copying one out of the library. */
export const MEMORY_DESC_SIZE = 696;
export const FORMAT_ANY = 1;
export const QUERY_WEIGHTS_MD = 131;
/** `DNNL_MEMORY_ALLOCATE`: the library allocates the buffer. */
export const MEMORY_ALLOCATE = 0xffffffffffffffffn;
export const MATMUL_DESC_BYTES = 4096;
export const ENGINE_CPU = 1;
export const STREAM_IN_ORDER = 1;
export const F32 = 3;
export const ARG_SRC = 1;
export const ARG_DST = 17;
export const ARG_WEIGHTS = 33;
export const ARG_BIAS = 41;
export const ARG_SCALE = 51;
export const ARG_SHIFT = 52;
/** `DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1`: the first post-op's second input. */
export const ARG_POST_OP_0_SRC_1 = 16384 | 2;
export const BINARY_ADD = 0x1fff0;
export const FORWARD_INFERENCE = 96;
export const USE_SCALE_AND_SHIFT = 0x8 | 0x10;
export const LAYER_NORM_DESC_BYTES = 8192;
export const SOFTMAX_DESC_BYTES = 4096;

/** Activations oneDNN applies in the GEMM's epilogue: oneDNN's algorithm, alpha and beta. */
export const ACTIVATIONS = {
  relu: [0x1f, 0, 0],
  elu: [0x3f, 1, 0],
  sigmoid: [0xaf, 0, 0],
  tanh: [0x2f, 0, 0],
  gelu_erf: [0x30, 0, 0],
  gelu_tanh: [0xcf, 0, 0],
} as const;

/** An activation {@link OneDnnGemm.matmul} fuses into the product. */
export type OneDnnActivation = keyof typeof ACTIVATIONS;

/** Whether oneDNN can fuse `name` (a tfjs `_FusedMatMul` activation or `gelu_erf`). */
export function isOneDnnActivation(name: string): name is OneDnnActivation {
  return Object.hasOwn(ACTIVATIONS, name);
}

export const STATUS = [
  "success",
  "out_of_memory",
  "invalid_arguments",
  "unimplemented",
  "iterator_ends",
  "runtime_error",
  "not_required",
];

/** A failed oneDNN call: the path that made it declines, unless it was running. */
export class Status extends Error {}

/** Throws a {@link Status} naming `what` unless `status` is success. */
export function check(status: number, what: string): void {
  if (status !== 0) {
    throw new Status(`oneDNN ${what} failed: ${STATUS[status] ?? `status ${status}`}`);
  }
}

/** Reads the pointer a `dnnl_*_create` call wrote into `out`. */
export function handle(out: BigUint64Array): Ptr {
  return Deno.UnsafePointer.create(out[0]!);
}
