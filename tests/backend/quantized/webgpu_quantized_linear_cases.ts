/**
 * The webgpu quantized linear shader, run in a child process by webgpu_quantized_linear_test.ts
 * (WebGPU never runs in the test runner's process: see tests/backend/backends.ts).
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { tf } from "../../../backend/tf.ts";
import { setBackend } from "../../../backend/set_backend.ts";
import { QUANTIZED_LINEAR_KERNEL, quantizedLinear } from "../../../backend/ops/quantized_linear.ts";
import { quantizedLinearValues } from "../../../backend/quantized/cpu_quantized_linear.ts";
import "../../../backend/quantized/webgpu_quantized_linear.ts";
import {
  type QuantizedLayout,
  type QuantizedWeight,
  quantizeRows,
} from "../../../backend/quantized/quantized_weight.ts";
import { seeded } from "../../seeded.ts";

// [M, K, N]: one row, K of 1 and K not a multiple of 4 (nor of 2), a product spanning several
// 32 x 32 tiles in every dimension with ragged edges, and one whose K steps end exactly.
const SIZES: [number, number, number][] = [
  [1, 40, 8],
  [3, 1, 2],
  [5, 33, 37],
  [70, 71, 45],
  [33, 64, 96],
];
const LAYOUTS: QuantizedLayout[] = ["int8", "float16"];

/** GPU bytes the backend has in use (tfjs-backend-webgpu's buffer manager). */
function gpuBytes(): number {
  return (tf.memory() as { numBytesInGPU?: number }).numBytesInGPU ?? NaN;
}

/** The bytes a weight takes on the GPU: rows padded to 32-bit words, plus int8's scales. */
function packedBytes(w: QuantizedWeight): number {
  const [n, k] = w.shape;
  return w.layout === "int8" ? n * Math.ceil(k / 4) * 4 + n * 4 : n * Math.ceil(k / 2) * 4;
}

/**
 * The shader against the cpu kernel (float32 sums of the same quantized values) on every size and
 * layout, with and without a bias; the weight is uploaded once, at its quantized size, and
 * freed by `releaseDeviceCopies`.
 */
export async function productsMatchCpu(): Promise<void> {
  await setBackend("webgpu");
  ok(tf.getKernel(QUANTIZED_LINEAR_KERNEL, "webgpu") !== undefined, "the shader is registered");
  for (const layout of LAYOUTS) {
    for (const [m, k, n] of SIZES) {
      for (const withBias of [true, false]) {
        const w = quantizeRows(seeded(n * k, m + k + n, 0.5), [n, k], layout);
        const xs = seeded(m * k, 7 * m + k), bs = seeded(n, 11 + n, 0.1);
        const want = quantizedLinearValues(xs, w, withBias ? bs : undefined);
        const before = tf.memory().numTensors, bytesBefore = gpuBytes();
        const x = tf.tensor2d(xs, [m, k]), bias = withBias ? tf.tensor1d(bs) : null;
        for (let call = 0; call < 2; call++) {
          const y = quantizedLinear(x, w, bias);
          const got = await y.data();
          y.dispose();
          const at = `${layout} [${m}, ${k}, ${n}] bias ${withBias}, call ${call}`;
          equal(got.length, m * n, at);
          for (let i = 0; i < want.length; i++) {
            ok(
              Math.abs(got[i]! - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!)),
              `${at} at ${i}: ${got[i]} vs ${want[i]}`,
            );
          }
        }
        tf.dispose([x, bias ?? []]);
        equal(tf.memory().numTensors, before, "nothing leaked");
        equal(w.deviceCopies, 1, "uploaded once");
        equal(gpuBytes() - bytesBefore, packedBytes(w), "on the GPU at its quantized size");
        w.releaseDeviceCopies();
        equal(w.deviceCopies, 0);
        equal(gpuBytes(), bytesBefore, "freed");
      }
    }
  }
  await setBackend("cpu");
}
