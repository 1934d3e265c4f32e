/**
 * The quantized linear kernel of the "blas" backend: the whole quantized matrix is dequantized
 * into one scratch array that every call reuses (sized for the largest layer seen: 9.4 MB for
 * BERT-base's [3072, 768]), then multiplied natively (`cblas_sgemm`: oneDNN, when loaded, takes
 * only weights packed for it, and a scratch array is never one). Memory stays at the quantized
 * weights plus one layer in float32; nothing per call but the output.
 * @module
 */
import type { tf } from "../tf.ts";
import type { BlasLibrary } from "../blas/library.ts";
import { dequantizeRows, type QuantizedWeight } from "./quantized_weight.ts";

/** The slice of the blas backend (a `MathBackendCPU`) this kernel uses. */
interface CpuLikeBackend {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: Float32Array): tf.TensorInfo;
}

/**
 * The kernel for `lib`: `x @ Wᵀ + bias` with W dequantized into the shared scratch array.
 * @param lib the opened BLAS library
 * @returns the kernel function
 */
export function blasQuantizedLinear(lib: BlasLibrary): tf.KernelFunc {
  let scratch = new Float32Array(0);
  return ({ inputs, backend, attrs }) => {
    const { x, bias } = inputs as { x: tf.TensorInfo; bias?: tf.TensorInfo };
    const weight = (attrs as unknown as { weight: QuantizedWeight }).weight;
    const cpu = backend as unknown as CpuLikeBackend;
    const [n, k] = weight.shape;
    const m = x.shape[0]!;
    const xs = cpu.readSync(x.dataId) as Float32Array;
    const bs = bias === undefined ? null : cpu.readSync(bias.dataId) as Float32Array;
    const out = new Float32Array(m * n);
    if (m > 0 && n > 0 && k > 0) {
      // Grown, never shrunk: one layer's float32 values at most, reused by every call.
      if (scratch.length < n * k) scratch = new Float32Array(n * k);
      const w = scratch.subarray(0, n * k); // [N, K]
      dequantizeRows(weight, 0, n, w);
      lib.sgemm(false, true, m, n, k, 1, xs, k, w, k, 0, out, n);
    }
    if (bs !== null) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) out[i * n + j]! += bs[j]!;
      }
    }
    return cpu.makeTensorInfo([m, n], "float32", out);
  };
}
