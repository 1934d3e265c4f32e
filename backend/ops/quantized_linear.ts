/**
 * The named op every layer calls for a dense layer whose weight is a {@linkcode QuantizedWeight}:
 * `x @ Wᵀ + bias`. A backend that reads quantized values itself registers a tfjs kernel under
 * {@linkcode QUANTIZED_LINEAR_KERNEL} (with {@linkcode registerQuantizedLinear}); everywhere else,
 * and while gradients are recorded, the composite runs: blocks of W's rows are dequantized into
 * a small scratch tensor and multiplied one at a time, so no float32 copy of the whole matrix
 * ever exists.
 * @module
 */
import { tf } from "../tf.ts";
import { recordingGradients } from "./recording_gradients.ts";
import { runNamedKernel } from "./run_named_kernel.ts";
import { dequantizeRows, type QuantizedWeight } from "../quantized/quantized_weight.ts";

/** Kernel name of {@linkcode quantizedLinear}; the weight travels in the attribute `weight`. */
export const QUANTIZED_LINEAR_KERNEL = "DprQuantizedLinear";

/** Elements of W dequantized at once by the composite form (about 1 MB of float32). */
const COMPOSITE_BLOCK_ELEMENTS = 1 << 18;

/** Sizes of one product: rows of x, shared dimension, output columns. */
export interface LinearSizes {
  /** Rows of x. */
  m: number;
  /** Input features. */
  k: number;
  /** Output features (rows of W). */
  n: number;
}

/** Whether a backend's kernel takes a product of these sizes (default: every product). */
export type QuantizedLinearSupport = (sizes: LinearSizes, weight: QuantizedWeight) => boolean;

const support = new Map<string, QuantizedLinearSupport>();

/**
 * Registers `kernelFunc` as the quantized linear kernel of `backendName`. It receives inputs
 * `x` (float32 [M, K]) and optionally `bias` (float32 [N]), attribute `weight` (the
 * {@linkcode QuantizedWeight}, [N, K]), and returns float32 [M, N].
 * @param backendName e.g. "cpu"
 * @param kernelFunc the kernel
 * @param supports which products it takes (the others run the composite form)
 */
export function registerQuantizedLinear(
  backendName: string,
  kernelFunc: tf.KernelFunc,
  supports: QuantizedLinearSupport = () => true,
): void {
  unregisterQuantizedLinear(backendName);
  tf.registerKernel({ kernelName: QUANTIZED_LINEAR_KERNEL, backendName, kernelFunc });
  support.set(backendName, supports);
}

/**
 * Removes `backendName`'s quantized linear kernel (its products then run the composite form).
 * @param backendName e.g. "wasm"
 */
export function unregisterQuantizedLinear(backendName: string): void {
  if (tf.getKernel(QUANTIZED_LINEAR_KERNEL, backendName) !== undefined) {
    tf.unregisterKernel(QUANTIZED_LINEAR_KERNEL, backendName);
  }
  support.delete(backendName);
}

/**
 * `x @ Wᵀ + bias` for a quantized W ([out, in], rows are output channels).
 * @param x float32 [M, in]
 * @param weight the quantized matrix [out, in]
 * @param bias float32 [out], or null
 * @returns float32 [M, out]
 * @throws TypeError when the shapes do not fit
 */
export function quantizedLinear(
  x: tf.Tensor2D,
  weight: QuantizedWeight,
  bias: tf.Tensor | null,
): tf.Tensor2D {
  const [n, k] = weight.shape;
  if (
    x.rank !== 2 || x.shape[1] !== k ||
    (bias !== null && (bias.rank !== 1 || bias.shape[0] !== n))
  ) {
    throw new TypeError(
      `quantizedLinear: x must be [M, ${k}] and bias [${n}] for a [${n}, ${k}] weight: ` +
        `received x [${x.shape}], bias ${bias === null ? "none" : `[${bias.shape}]`}`,
    );
  }
  const backendName = tf.getBackend();
  const supports = support.get(backendName);
  if (
    supports !== undefined && !recordingGradients() && x.dtype === "float32" &&
    (bias === null || bias.dtype === "float32") && supports({ m: x.shape[0], k, n }, weight)
  ) {
    return runNamedKernel(QUANTIZED_LINEAR_KERNEL, { x, bias }, { weight });
  }
  return compositeQuantizedLinear(x, weight, bias);
}

/**
 * The composite form of {@linkcode quantizedLinear}: blocks of W's rows dequantized into a
 * scratch tensor and multiplied in turn (differentiable in x; any backend).
 */
function compositeQuantizedLinear(
  x: tf.Tensor2D,
  weight: QuantizedWeight,
  bias: tf.Tensor | null,
): tf.Tensor2D {
  const [n, k] = weight.shape;
  const rowsPerBlock = Math.max(1, Math.min(n, Math.floor(COMPOSITE_BLOCK_ELEMENTS / k)));
  return tf.tidy(() => {
    const pieces: tf.Tensor2D[] = [];
    for (let start = 0; start < n; start += rowsPerBlock) {
      const end = Math.min(n, start + rowsPerBlock);
      // A fresh array per block: some backends keep the array they are given until it is used.
      const scratch = new Float32Array((end - start) * k);
      dequantizeRows(weight, start, end, scratch);
      const block = tf.tensor2d(scratch, [end - start, k]);
      pieces.push(tf.matMul(x, block, false, true)); // [M, rows of the block]
      block.dispose();
    }
    const product = pieces.length === 1 ? pieces[0]! : tf.concat(pieces, 1); // [M, N]
    return (bias === null ? product : tf.add(product, bias)) as tf.Tensor2D;
  });
}
