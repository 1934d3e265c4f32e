/**
 * The "blas" backend's kernels behind the ops of `fused_ops.ts`: GELU, LayerNorm with residual,
 * and scaled, masked softmax, each a single pass over its rows.
 * @module
 */
import type { tf } from "../tf.ts";
import { expNonPositive, normalCdf } from "./fast_math.ts";
import { GELU_KERNEL, LAYER_NORM_KERNEL, MASKED_SOFTMAX_KERNEL } from "./fused_ops.ts";

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
  for (let i = 0; i < xv.length; i++) {
    const v = xv[i]!;
    out[i] = v * normalCdf(v);
  }
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
  const h = gv.length;
  const out = new Float32Array(xv.length);
  if (h === 0) return backend.makeTensorInfo(x.shape, "float32", out);
  for (let o = 0; o < xv.length; o += h) {
    // The sum first goes into `out` (float32, as the composite's add would round it).
    let sum = 0;
    if (rv) {
      for (let j = 0; j < h; j++) {
        out[o + j] = xv[o + j]! + rv[o + j]!;
        sum += out[o + j]!;
      }
    } else {
      for (let j = 0; j < h; j++) {
        out[o + j] = xv[o + j]!;
        sum += out[o + j]!;
      }
    }
    const mean = sum / h;
    let sq = 0;
    for (let j = 0; j < h; j++) {
      const c = out[o + j]! - mean;
      sq += c * c;
    }
    const inv = 1 / Math.sqrt(sq / h + eps);
    for (let j = 0; j < h; j++) out[o + j] = (out[o + j]! - mean) * inv * gv[j]! + bv[j]!;
  }
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
    let max = -Infinity;
    if (m >= 0 && mv) {
      for (let j = 0; j < tk; j++) {
        const y = Math.fround(Math.fround(sv[o + j]! * scale) + mv[m + j]!);
        out[o + j] = y;
        if (y > max) max = y;
      }
    } else {
      for (let j = 0; j < tk; j++) {
        const y = Math.fround(sv[o + j]! * scale);
        out[o + j] = y;
        if (y > max) max = y;
      }
    }
    let sum = 0;
    for (let j = 0; j < tk; j++) {
      const e = expNonPositive(out[o + j]! - max);
      out[o + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j < tk; j++) out[o + j] = out[o + j]! * inv;
  }
  return backend.makeTensorInfo(scores.shape, "float32", out);
};

/** The fused kernels to register for "blas". */
export function fusedKernels(): Array<[string, KernelFunc]> {
  return [
    [GELU_KERNEL, gelu],
    [LAYER_NORM_KERNEL, layerNorm],
    [MASKED_SOFTMAX_KERNEL, maskedSoftmax],
  ];
}
