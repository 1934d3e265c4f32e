/**
 * Fused BERT building blocks as tfjs ops: one pass over memory on the "blas" backend instead of
 * the 4-8 kernels (each a full pass and a fresh tensor) of their composite forms. On any other
 * backend, and under a gradient tape, they run the composite form, so callers can use them
 * unconditionally. Each equals its composite to float32 rounding.
 * @module
 */
import { tf } from "../tf.ts";
import { recordingGradients } from "./recording_gradients.ts";
import { givenInputs, type OptionalInputs, runNamedKernel } from "./run_named_kernel.ts";
import { type PackedWeight, readsPacked, unpackedTensor } from "./packed_weight.ts";

/** Kernel names registered for the "blas" backend. */
export const GELU_KERNEL = "DprGeluErf";
/** Kernel name of {@link layerNormFused}. */
export const LAYER_NORM_KERNEL = "DprLayerNorm";
/** Kernel name of {@link maskedSoftmax}. */
export const MASKED_SOFTMAX_KERNEL = "DprScaledMaskedSoftmax";
/** Kernel name of {@link linearGeluErf}. */
export const LINEAR_GELU_KERNEL = "DprLinearGeluErf";
/** Kernel name of {@link linearLayerNorm}. */
export const LINEAR_LAYER_NORM_KERNEL = "DprLinearLayerNorm";
/** Kernel name of {@link fusedAttention}. */
export const ATTENTION_KERNEL = "DprFusedAttention";
/**
 * Kernel name of {@link linear} with a packed weight (a plain one runs `_FusedMatMul`): inputs
 * `x` and `bias`, the {@linkcode PackedWeight} in the attribute `weight`. The kernels of
 * {@link LINEAR_GELU_KERNEL} and {@link LINEAR_LAYER_NORM_KERNEL} take a packed weight the same
 * way, in place of their input `kernel`.
 */
export const PACKED_LINEAR_KERNEL = "DprPackedLinear";

/** A dense kernel [in, out] as the linear ops take it: a float32 tensor or a packed weight. */
export type LinearKernel = tf.Tensor2D | PackedWeight;

/**
 * `x @ kernel + bias`: `_FusedMatMul` for a float32 kernel; for a packed one the backend's
 * {@link PACKED_LINEAR_KERNEL}, or (on another backend, under a gradient tape) its plain matrix.
 * @param x float32 [N, in]
 * @param kernel float32 [in, out], or packed
 * @param bias float32 [out]
 * @returns [N, out]
 */
export function linear(x: tf.Tensor2D, kernel: LinearKernel, bias: tf.Tensor): tf.Tensor2D {
  if (kernel instanceof tf.Tensor) {
    return tf.fused.matMul({ a: x, b: kernel, bias }) as tf.Tensor2D;
  }
  if (linearAvailable(PACKED_LINEAR_KERNEL, kernel, { x, bias })) {
    return runLinear(PACKED_LINEAR_KERNEL, kernel, { x, bias });
  }
  return tf.tidy(() => linear(x, unpackedTensor(kernel), bias));
}

/**
 * Whether `kernel` would run fused now: it is registered for the active backend and no
 * gradient is being recorded (the fused kernels have no gradients).
 * @param kernel a kernel name such as {@link MASKED_SOFTMAX_KERNEL}
 */
export function hasFusedKernel(kernel: string): boolean {
  if (recordingGradients()) return false;
  return tf.getKernel(kernel, tf.getBackend()) !== undefined;
}

function fusedAvailable(kernel: string, inputs: OptionalInputs): boolean {
  return hasFusedKernel(kernel) &&
    Object.values(givenInputs(inputs)).every((t) => t.dtype === "float32");
}

/** Whether `kernel` (a linear op's) runs fused with `weight` (a tensor, or packed). */
function linearAvailable(kernel: string, weight: LinearKernel, inputs: OptionalInputs): boolean {
  if (weight instanceof tf.Tensor) return fusedAvailable(kernel, { ...inputs, kernel: weight });
  return readsPacked(weight) && fusedAvailable(kernel, inputs);
}

/** Runs a linear op's kernel: `kernel` an input tensor, or a packed weight in `weight`. */
function runLinear(
  name: string,
  kernel: LinearKernel,
  inputs: OptionalInputs,
  attrs: Record<string, unknown> = {},
): tf.Tensor2D {
  return kernel instanceof tf.Tensor
    ? runNamedKernel(name, { ...inputs, kernel }, attrs)
    : runNamedKernel(name, inputs, { ...attrs, weight: kernel });
}

/**
 * GELU, exact erf form: `0.5 x (1 + erf(x / sqrt 2))`.
 * @param x float32 tensor
 * @returns a tensor of the same shape
 */
export function geluErf(x: tf.Tensor): tf.Tensor {
  if (fusedAvailable(GELU_KERNEL, { x })) return runNamedKernel(GELU_KERNEL, { x });
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
}

/**
 * `geluErf(x @ kernel + bias)`: on "blas" one kernel, the GELU applied in place on the GEMM's
 * output (no second [N, out] tensor); elsewhere and under a gradient tape the composite.
 * @param x float32 [N, in]
 * @param kernel float32 [in, out], or packed
 * @param bias float32 [out]
 * @returns [N, out]
 */
export function linearGeluErf(x: tf.Tensor2D, kernel: LinearKernel, bias: tf.Tensor): tf.Tensor2D {
  const [k, n] = kernel.shape;
  const shapesOk = x.rank === 2 && kernel.shape.length === 2 && x.shape[1] === k &&
    bias.rank === 1 && bias.shape[0] === n;
  if (shapesOk && linearAvailable(LINEAR_GELU_KERNEL, kernel, { x, bias })) {
    return runLinear(LINEAR_GELU_KERNEL, kernel, { x, bias });
  }
  return tf.tidy(() => geluErf(linear(x, kernel, bias))) as tf.Tensor2D;
}

/**
 * LayerNorm over the last axis of `x + residual` (residual optional): biased variance, epsilon
 * inside the square root, as PyTorch.
 * @param x float32 [..., H]
 * @param gamma float32 [H]
 * @param beta float32 [H]
 * @param eps epsilon
 * @param residual float32, same shape as `x`, added first (a transformer's skip connection)
 * @returns a tensor shaped like `x`
 */
export function layerNormFused(
  x: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  residual?: tf.Tensor,
): tf.Tensor {
  const h = x.shape[x.rank - 1];
  const shapesOk = x.rank >= 1 && gamma.size === h && beta.size === h &&
    (residual === undefined || tf.util.arraysEqual(residual.shape, x.shape));
  const inputs = { x, gamma, beta, residual };
  if (shapesOk && fusedAvailable(LAYER_NORM_KERNEL, inputs)) {
    return runNamedKernel(LAYER_NORM_KERNEL, inputs, { eps });
  }
  return tf.tidy(() => {
    const y = residual === undefined ? x : tf.add(x, residual);
    const centered = tf.sub(y, tf.mean(y, -1, true));
    const variance = tf.mean(tf.square(centered), -1, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
}

/**
 * `layerNorm(x @ kernel + bias + residual)`: a BERT output block at inference. On "blas" one
 * kernel, the LayerNorm done in place on the GEMM's output; elsewhere and under a gradient tape
 * the composite.
 * @param x float32 [N, in]
 * @param kernel float32 [in, H], or packed
 * @param bias float32 [H]
 * @param gamma float32 [H]
 * @param beta float32 [H]
 * @param eps epsilon
 * @param residual float32 [N, H]
 * @returns [N, H]
 */
export function linearLayerNorm(
  x: tf.Tensor2D,
  kernel: LinearKernel,
  bias: tf.Tensor,
  gamma: tf.Tensor,
  beta: tf.Tensor,
  eps: number,
  residual: tf.Tensor2D,
): tf.Tensor2D {
  const [k, h] = kernel.shape;
  const shapesOk = x.rank === 2 && kernel.shape.length === 2 && x.shape[1] === k &&
    bias.rank === 1 && bias.size === h && gamma.size === h && beta.size === h &&
    tf.util.arraysEqual(residual.shape, [x.shape[0], h!]);
  const inputs = { x, bias, gamma, beta, residual };
  if (shapesOk && linearAvailable(LINEAR_LAYER_NORM_KERNEL, kernel, inputs)) {
    return runLinear(LINEAR_LAYER_NORM_KERNEL, kernel, inputs, { eps });
  }
  return tf.tidy(() =>
    layerNormFused(linear(x, kernel, bias), gamma, beta, eps, residual)
  ) as tf.Tensor2D;
}

/**
 * Attention probabilities: `softmax(scores * scale + maskBias)` over the last axis.
 * @param scores float32 [B, heads, Tq, Tk]
 * @param scale multiplier of the scores (1 / sqrt(head size))
 * @param maskBias float32 [B, 1, 1, Tk] added after scaling, or null
 * @returns a tensor shaped like `scores`
 */
export function maskedSoftmax(
  scores: tf.Tensor,
  scale: number,
  maskBias: tf.Tensor | null,
): tf.Tensor {
  const [b, , , tk] = scores.shape;
  const maskOk = maskBias === null ||
    (maskBias.rank === 4 && tf.util.arraysEqual(maskBias.shape, [b!, 1, 1, tk!]));
  const inputs = { scores, maskBias };
  if (scores.rank === 4 && maskOk && fusedAvailable(MASKED_SOFTMAX_KERNEL, inputs)) {
    return runNamedKernel(MASKED_SOFTMAX_KERNEL, inputs, { scale });
  }
  return tf.tidy(() => {
    const scaled = tf.mul(scores, scale);
    return tf.softmax(maskBias === null ? scaled : tf.add(scaled, maskBias));
  });
}

/** Sizes of {@link fusedAttention}. */
export interface FusedAttentionArgs {
  /** Sequences B. */
  batch: number;
  /** Sequence length T. */
  seq: number;
  /** Heads N; the head size is H / N. */
  heads: number;
  /** Only the first position's query of each sequence (what a [CLS] pooler reads). */
  firstOnly?: boolean;
}

/**
 * Multi-head self-attention straight from a fused projection: per sequence and head,
 * `softmax(Q Kᵀ / sqrt(D) + maskBias) V`, written into the [B*Tq, H] context layout (Tq = T, or 1
 * with `firstOnly`). On "blas" one kernel (two GEMMs per head reading the projection with
 * strides, no transposes, no [B, N, T, T] tensor); elsewhere and under a gradient tape the
 * composite ops. No dropout: for inference.
 * @param qkv float32 [B*T, 3H], the [query | key | value] projection of each position
 * @param maskBias float32 [B, 1, 1, T] additive bias, or null
 * @param args batch, sequence length and heads
 * @returns the context vectors [B*Tq, H]
 * @throws TypeError when the shapes do not fit the sizes
 */
export function fusedAttention(
  qkv: tf.Tensor2D,
  maskBias: tf.Tensor | null,
  args: FusedAttentionArgs,
): tf.Tensor2D {
  const { batch: b, seq: t, heads: n } = args;
  const firstOnly = args.firstOnly === true;
  const h3 = qkv.shape[1];
  const okShape = qkv.rank === 2 && qkv.shape[0] === b * t && h3 % 3 === 0 && (h3 / 3) % n === 0 &&
    (maskBias === null || tf.util.arraysEqual(maskBias.shape, [b, 1, 1, t]));
  if (!okShape) {
    throw new TypeError(
      `fusedAttention: qkv must be [batch * seq, 3 * heads * headSize] and maskBias ` +
        `[batch, 1, 1, seq]: received qkv [${qkv.shape}], maskBias ` +
        `${maskBias === null ? "null" : `[${maskBias.shape}]`}, batch ${b}, seq ${t}, heads ${n}`,
    );
  }
  const h = h3 / 3, d = h / n, tq = firstOnly ? 1 : t;
  const inputs = { qkv, maskBias };
  if (fusedAvailable(ATTENTION_KERNEL, inputs)) {
    return runNamedKernel(ATTENTION_KERNEL, inputs, { batch: b, seq: t, heads: n, firstOnly });
  }
  return tf.tidy(() => {
    const parts = tf.reshape(qkv, [b, t, 3, n, d]);
    let q = tf.slice(parts, [0, 0, 0, 0, 0], [b, tq, 1, n, d]);
    q = tf.transpose(tf.reshape(q, [b, tq, n, d]), [0, 2, 1, 3]); // [B, N, Tq, D]
    const k = tf.transpose(
      tf.reshape(tf.slice(parts, [0, 0, 1, 0, 0], [b, t, 1, n, d]), [
        b,
        t,
        n,
        d,
      ]),
      [0, 2, 3, 1],
    ); // [B, N, D, T]
    const v = tf.transpose(
      tf.reshape(tf.slice(parts, [0, 0, 2, 0, 0], [b, t, 1, n, d]), [
        b,
        t,
        n,
        d,
      ]),
      [0, 2, 1, 3],
    ); // [B, N, T, D]
    let scores = tf.mul(tf.matMul(q, k), 1 / Math.sqrt(d));
    if (maskBias !== null) scores = tf.add(scores, maskBias);
    const context = tf.matMul(tf.softmax(scores), v); // [B, N, Tq, D]
    return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [b * tq, h]) as tf.Tensor2D;
  });
}
