/**
 * The blas quantized linear kernel, run in a child process by blas_quantized_linear_test.ts (so
 * that the test runner never starts oneDNN's OpenMP threads, and each child picks its library).
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { tf } from "../../../backend/tf.ts";
import { registerBlasBackend } from "../../../backend/blas/register.ts";
import { QUANTIZED_LINEAR_KERNEL, quantizedLinear } from "../../../backend/ops/quantized_linear.ts";
import { quantizedLinearValues } from "../../../backend/quantized/cpu_quantized_linear.ts";
import { type QuantizedLayout, quantizeRows } from "../../../backend/quantized/quantized_weight.ts";
import { seeded } from "../../seeded.ts";

// [M, K, N]: one row, K of 1, odd sizes, a product larger than the first one (the scratch array
// grows), then a smaller one (it is reused).
const SIZES: [number, number, number][] = [
  [1, 40, 8],
  [3, 1, 2],
  [5, 33, 37],
  [70, 130, 200],
  [16, 64, 48],
];
const LAYOUTS: QuantizedLayout[] = ["int8", "float16"];

/**
 * The kernel against the cpu kernel (the same quantized values), with and without a bias.
 * @param oneDnn "on" to register the backend with oneDNN loaded, "off" for OpenBLAS alone
 */
export async function productsMatchCpu(oneDnn: string): Promise<void> {
  await registerBlasBackend({ oneDnn: oneDnn === "on" });
  await tf.setBackend("blas");
  ok(tf.getKernel(QUANTIZED_LINEAR_KERNEL, "blas") !== undefined, "the kernel is registered");
  for (const layout of LAYOUTS) {
    for (const [m, k, n] of SIZES) {
      for (const withBias of [true, false]) {
        const w = quantizeRows(seeded(n * k, m + k + n, 0.5), [n, k], layout);
        const xs = seeded(m * k, 7 * m + k), bs = seeded(n, 11 + n, 0.1);
        const want = quantizedLinearValues(xs, w, withBias ? bs : undefined);
        const before = tf.memory().numTensors;
        const x = tf.tensor2d(xs, [m, k]), bias = withBias ? tf.tensor1d(bs) : null;
        const y = quantizedLinear(x, w, bias);
        const got = y.dataSync();
        tf.dispose([x, y, bias ?? []]);
        equal(tf.memory().numTensors, before, "nothing leaked");
        const at = `${layout} [${m}, ${k}, ${n}] bias ${withBias}`;
        equal(got.length, m * n, at);
        for (let i = 0; i < want.length; i++) {
          ok(
            Math.abs(got[i]! - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!)),
            `${at} at ${i}: ${got[i]} vs ${want[i]}`,
          );
        }
      }
    }
  }
}
