/**
 * The "blas" backend's kernels behind the ops of `fused_ops.ts`: GELU, LayerNorm with residual,
 * scaled, masked softmax, each a single pass over its rows; and whole multi-head attention.
 * @module
 */
import type { tf } from "../tf.ts";
import { geluInto, normalCdfLinear, normalizeRows, rowMax, softmaxRow } from "./fast_math.ts";
import {
  ATTENTION_KERNEL,
  GELU_KERNEL,
  LAYER_NORM_KERNEL,
  LINEAR_GELU_KERNEL,
  LINEAR_LAYER_NORM_KERNEL,
  MASKED_SOFTMAX_KERNEL,
  PACKED_LINEAR_KERNEL,
} from "../ops/fused_ops.ts";
import type { BlasLibrary } from "./library.ts";
import { linearOperand, plainOperand } from "./blas_packed_weight.ts";

type TensorInfo = tf.TensorInfo;
type KernelFunc = tf.KernelFunc;

interface CpuLikeBackend {
  data: { get(id: unknown): { values?: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): TensorInfo;
}

function values(backend: CpuLikeBackend, info: TensorInfo, owner: string): Float32Array {
  const v = backend.data.get(info.dataId).values;
  if (info.dtype !== "float32" || !(v instanceof Float32Array)) {
    throw new TypeError(`${owner}: inputs must be float32 tensors: received ${info.dtype}`);
  }
  return v;
}

const gelu: KernelFunc = (args) => {
  const backend = args.backend as unknown as CpuLikeBackend;
  const { x } = args.inputs as { x: TensorInfo };
  const xv = values(backend, x, GELU_KERNEL);
  const out = new Float32Array(xv.length);
  geluInto(xv, out);
  return backend.makeTensorInfo(x.shape, "float32", out);
};

const layerNorm: KernelFunc = (args) => {
  const backend = args.backend as unknown as CpuLikeBackend;
  const { x, gamma, beta, residual } = args.inputs as {
    x: TensorInfo;
    gamma: TensorInfo;
    beta: TensorInfo;
    residual?: TensorInfo;
  };
  const { eps } = args.attrs as unknown as { eps: number };
  const xv = values(backend, x, LAYER_NORM_KERNEL);
  const gv = values(backend, gamma, LAYER_NORM_KERNEL);
  const bv = values(backend, beta, LAYER_NORM_KERNEL);
  const rv = residual ? values(backend, residual, LAYER_NORM_KERNEL) : null;
  const out = new Float32Array(xv);
  normalizeRows(out, rv, gv, bv, eps);
  return backend.makeTensorInfo(x.shape, "float32", out);
};

const maskedSoftmax: KernelFunc = (args) => {
  const backend = args.backend as unknown as CpuLikeBackend;
  const { scores, maskBias } = args.inputs as { scores: TensorInfo; maskBias?: TensorInfo };
  const { scale } = args.attrs as unknown as { scale: number };
  const sv = values(backend, scores, MASKED_SOFTMAX_KERNEL);
  const mv = maskBias ? values(backend, maskBias, MASKED_SOFTMAX_KERNEL) : null;
  const [, heads, tq, tk] = scores.shape as [number, number, number, number];
  const out = new Float32Array(sv.length);
  if (tk === 0) return backend.makeTensorInfo(scores.shape, "float32", out);
  const rowsPerBatch = heads * tq;
  let row = 0;
  for (let o = 0; o < sv.length; o += tk, row++) {
    const m = mv ? ((row / rowsPerBatch) | 0) * tk : -1;
    // Each sum is rounded to float32 as it is stored, as the composite's ops round theirs.
    if (m >= 0 && mv) {
      for (let j = 0; j < tk; j++) out[o + j] = Math.fround(sv[o + j]! * scale) + mv[m + j]!;
    } else {
      for (let j = 0; j < tk; j++) out[o + j] = sv[o + j]! * scale;
    }
    softmaxRow(out, o, tk, rowMax(out, o, tk));
  }
  return backend.makeTensorInfo(scores.shape, "float32", out);
};

/** Whether `v[o .. o + n)` is all zeros (a mask bias row without padding). */
function allZero(v: Float32Array, o: number, n: number): boolean {
  for (let j = 0; j < n; j++) if (v[o + j] !== 0) return false;
  return true;
}

/**
 * Multi-head attention from the fused [B*T, 3H] projection, per sequence: for each head one GEMM
 * adding the scaled scores to the mask (Q and K read in place with row stride 3H); one softmax
 * over all heads' rows; for each head one GEMM writing P V into its columns of the [B*Tq, H]
 * output (row stride H).
 */
function makeAttention(lib: BlasLibrary): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { qkv, maskBias } = args.inputs as { qkv: TensorInfo; maskBias?: TensorInfo };
    const { batch, seq, heads, firstOnly } = args.attrs as unknown as {
      batch: number;
      seq: number;
      heads: number;
      firstOnly: boolean;
    };
    const qv = values(backend, qkv, ATTENTION_KERNEL);
    const mv = maskBias ? values(backend, maskBias, ATTENTION_KERNEL) : null;
    const h3 = qkv.shape[1]!, h = h3 / 3, d = h / heads, t = seq, tq = firstOnly ? 1 : t;
    const out = new Float32Array(batch * tq * h);
    if (t === 0 || d === 0) return backend.makeTensorInfo([batch * tq, h], "float32", out);
    const scale = 1 / Math.sqrt(d);
    // One sequence's scores for all heads at once ([heads * tq, t]), so that one native softmax
    // call (oneDNN, on all cores) covers them; JavaScript's softmax when that is declined.
    const scores = new Float32Array(heads * tq * t);
    for (let b = 0; b < batch; b++) {
      const base = b * t * h3;
      const bias = mv !== null && !allZero(mv, b * t, t) ? mv.subarray(b * t, b * t + t) : null;
      for (let n = 0; n < heads; n++) {
        const q = qv.subarray(base + n * d), k = qv.subarray(base + h + n * d);
        const block = scores.subarray(n * tq * t, (n + 1) * tq * t);
        // The mask bias goes in first; the GEMM adds the scaled Q K^T to it (beta = 1).
        if (bias !== null) { for (let r = 0; r < tq; r++) block.set(bias, r * t); }
        lib.sgemm(false, true, tq, t, d, scale, q, h3, k, h3, bias === null ? 0 : 1, block, t);
      }
      if (!lib.softmaxRows(heads * tq, t, scores)) {
        for (let o = 0; o < scores.length; o += t) softmaxRow(scores, o, t, rowMax(scores, o, t));
      }
      for (let n = 0; n < heads; n++) {
        const v = qv.subarray(base + 2 * h + n * d);
        const block = scores.subarray(n * tq * t, (n + 1) * tq * t);
        lib.sgemm(
          false,
          false,
          tq,
          d,
          t,
          1,
          block,
          t,
          v,
          h3,
          0,
          out.subarray(b * tq * h + n * d),
          h,
        );
      }
    }
    return backend.makeTensorInfo([batch * tq, h], "float32", out);
  };
}

/**
 * `act(x @ kernel + bias)` (act: none, or exact GELU), the kernel a float32 input or a packed
 * weight: one native call when the library takes it (oneDNN, packed weights), else OpenBLAS's
 * GEMM on the plain matrix, then the activation in place.
 */
function makeLinear(lib: BlasLibrary, owner: string, gelu: boolean): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { x, kernel, bias } = args.inputs as {
      x: TensorInfo;
      kernel?: TensorInfo;
      bias: TensorInfo;
    };
    const [m, k] = x.shape as [number, number];
    const read = (info: TensorInfo): Float32Array => values(backend, info, owner);
    const { b, n } = linearOperand(read, kernel, args.attrs?.weight, owner);
    const out = new Float32Array(m * n);
    const xv = read(x), bv = read(bias);
    if (!lib.linear(false, m, n, k, xv, b, bv, gelu ? "gelu_erf" : "linear", out)) {
      for (let r = 0; r < m; r++) out.set(bv, r * n);
      lib.sgemm(false, false, m, n, k, 1, xv, k, plainOperand(lib, b), n, 1, out, n);
      if (gelu) {
        for (let i = 0; i < out.length; i++) {
          const y = out[i]!;
          out[i] = y * normalCdfLinear(y);
        }
      }
    }
    return backend.makeTensorInfo([m, n], "float32", out);
  };
}

/**
 * `layerNorm(x @ kernel + bias + residual)`: natively in one call when the library can (oneDNN,
 * packed weights), else OpenBLAS's GEMM, then the LayerNorm in place.
 */
function makeLinearLayerNorm(lib: BlasLibrary): KernelFunc {
  return (args) => {
    const backend = args.backend as unknown as CpuLikeBackend;
    const { x, kernel, bias, gamma, beta, residual } = args.inputs as Record<string, TensorInfo>;
    const { eps } = args.attrs as unknown as { eps: number };
    const [m, k] = x!.shape as [number, number];
    const read = (info: TensorInfo): Float32Array =>
      values(backend, info, LINEAR_LAYER_NORM_KERNEL);
    const { b, n } = linearOperand(read, kernel, args.attrs?.weight, LINEAR_LAYER_NORM_KERNEL);
    const xv = read(x!), biasV = read(bias!), rv = read(residual!);
    const gv = read(gamma!), bv = read(beta!);
    const v = new Float32Array(m * n);
    if (lib.linearLayerNorm(m, n, k, xv, b, biasV, rv, gv, bv, eps, v)) {
      return backend.makeTensorInfo([m, n], "float32", v);
    }
    for (let r = 0; r < m; r++) v.set(biasV, r * n);
    lib.sgemm(false, false, m, n, k, 1, xv, k, plainOperand(lib, b), n, 1, v, n);
    normalizeRows(v, rv, gv, bv, eps);
    return backend.makeTensorInfo([m, n], "float32", v);
  };
}

/** The fused kernels to register for "blas", running their products on `lib`. */
export function fusedKernels(lib: BlasLibrary): Array<[string, KernelFunc]> {
  return [
    [PACKED_LINEAR_KERNEL, makeLinear(lib, PACKED_LINEAR_KERNEL, false)],
    [LINEAR_GELU_KERNEL, makeLinear(lib, LINEAR_GELU_KERNEL, true)],
    [LINEAR_LAYER_NORM_KERNEL, makeLinearLayerNorm(lib)],
    [GELU_KERNEL, gelu],
    [LAYER_NORM_KERNEL, layerNorm],
    [MASKED_SOFTMAX_KERNEL, maskedSoftmax],
    [ATTENTION_KERNEL, makeAttention(lib)],
  ];
}
