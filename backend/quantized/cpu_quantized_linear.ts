/**
 * The quantized linear kernel of tfjs's "cpu" backend (and of "blas", which stores tensors the
 * same way): W's rows are dequantized a block at a time into a small scratch array that stays in
 * cache, and each output is a dot product of a row of x with a row of the block.
 * @module
 */
import type { tf } from "../tf.ts";
import { registerQuantizedLinear } from "../ops/quantized_linear.ts";
import { dequantizeRows, type QuantizedWeight } from "./quantized_weight.ts";

/** Rows of W dequantized at a time (64 rows of 768 float32: 192 KiB). */
const ROWS_PER_BLOCK = 64;

interface CpuLikeBackend {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/**
 * `x @ Wᵀ + bias` on plain arrays.
 * @param x [M, K] row-major
 * @param weight [N, K]
 * @param bias [N] or undefined
 * @returns [M, N] row-major
 */
export function quantizedLinearValues(
  x: Float32Array,
  weight: QuantizedWeight,
  bias: Float32Array | undefined,
): Float32Array {
  const [n, k] = weight.shape;
  const m = x.length / k;
  const out = new Float32Array(m * n);
  const block = new Float32Array(ROWS_PER_BLOCK * k);
  for (let start = 0; start < n; start += ROWS_PER_BLOCK) {
    const end = Math.min(n, start + ROWS_PER_BLOCK);
    dequantizeRows(weight, start, end, block);
    for (let i = 0; i < m; i++) {
      const xi = i * k;
      for (let j = start; j < end; j++) {
        const wj = (j - start) * k;
        let sum = 0;
        for (let c = 0; c < k; c++) sum += x[xi + c]! * block[wj + c]!;
        out[i * n + j] = sum + (bias?.[j] ?? 0);
      }
    }
  }
  return out;
}

/** The kernel function registered for "cpu" (and "blas"). */
export const cpuQuantizedLinear: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, bias } = inputs as { x: tf.TensorInfo; bias?: tf.TensorInfo };
  const weight = (attrs as unknown as { weight: QuantizedWeight }).weight;
  const cpu = backend as unknown as CpuLikeBackend;
  const xs = cpu.readSync(x.dataId) as Float32Array;
  const bs = bias === undefined ? undefined : cpu.readSync(bias.dataId) as Float32Array;
  const out = quantizedLinearValues(xs, weight, bs);
  return cpu.makeTensorInfo([x.shape[0]!, weight.shape[0]], "float32", out);
};

registerQuantizedLinear("cpu", cpuQuantizedLinear);
