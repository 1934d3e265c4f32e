/**
 * Fused BERT building blocks as tfjs ops: one pass over memory on the "blas" backend instead of
 * the 4-8 kernels (each a full pass and a fresh tensor) of their composite forms. On any other
 * backend, and under a gradient tape, they run the composite form, so callers can use them
 * unconditionally. Each equals its composite to float32 rounding.
 * @module
 */
import { tf } from "../tf.ts";

/** Kernel names registered for the "blas" backend. */
export const GELU_KERNEL = "DprGeluErf";
/** Kernel name of {@link layerNormFused}. */
export const LAYER_NORM_KERNEL = "DprLayerNorm";
/** Kernel name of {@link maskedSoftmax}. */
export const MASKED_SOFTMAX_KERNEL = "DprScaledMaskedSoftmax";

function fusedAvailable(kernel: string, inputs: tf.Tensor[]): boolean {
  const state = (tf.engine() as unknown as { state: { gradientDepth: number } }).state;
  if (state.gradientDepth > 0) return false;
  if (tf.getKernel(kernel, tf.getBackend()) === undefined) return false;
  return inputs.every((t) => t.dtype === "float32");
}

/**
 * GELU, exact erf form: `0.5 x (1 + erf(x / sqrt 2))`.
 * @param x float32 tensor
 * @returns a tensor of the same shape
 */
export function geluErf(x: tf.Tensor): tf.Tensor {
  if (fusedAvailable(GELU_KERNEL, [x])) {
    return tf.engine().runKernel(GELU_KERNEL, { x }) as tf.Tensor;
  }
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1)));
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
  const inputs = residual === undefined ? [x, gamma, beta] : [x, gamma, beta, residual];
  if (shapesOk && fusedAvailable(LAYER_NORM_KERNEL, inputs)) {
    const named: tf.NamedTensorMap = residual === undefined
      ? { x, gamma, beta }
      : { x, gamma, beta, residual };
    return tf.engine().runKernel(
      LAYER_NORM_KERNEL,
      named,
      { eps } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
  }
  return tf.tidy(() => {
    const y = residual === undefined ? x : tf.add(x, residual);
    const centered = tf.sub(y, tf.mean(y, -1, true));
    const variance = tf.mean(tf.square(centered), -1, true);
    return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
  });
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
  const inputs = maskBias === null ? [scores] : [scores, maskBias];
  if (scores.rank === 4 && maskOk && fusedAvailable(MASKED_SOFTMAX_KERNEL, inputs)) {
    const named: tf.NamedTensorMap = maskBias === null ? { scores } : { scores, maskBias };
    return tf.engine().runKernel(
      MASKED_SOFTMAX_KERNEL,
      named,
      { scale } as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
  }
  return tf.tidy(() => {
    const scaled = tf.mul(scores, scale);
    return tf.softmax(maskBias === null ? scaled : tf.add(scaled, maskBias));
  });
}
