/**
 * The quantized linear op on every backend against a float64 product of the dequantized
 * matrix: the kernels (cpu's blocked JavaScript; wasm's integer product for int8, whose x is
 * quantized per row first, and its relaxed-SIMD product that dequantizes float16 while packing,
 * short inputs included) and the composite form other backends run.
 */
import { equal, ok, throws } from "node:assert/strict";
import { tf } from "../../../backend/tf.ts";
import { setBackend } from "../../../backend/set_backend.ts";
import { QUANTIZED_LINEAR_KERNEL, quantizedLinear } from "../../../backend/ops/quantized_linear.ts";
import "../../../backend/quantized/cpu_quantized_linear.ts";
import {
  dequantize,
  type QuantizedLayout,
  type QuantizedWeight,
  quantizeRows,
} from "../../../backend/quantized/quantized_weight.ts";
import { int8Kernel } from "../../../backend/wasm_kernels/int8_product.ts";
import { testBackends } from "../backends.ts";
import { seeded } from "../../seeded.ts";
import { quantizedActivations } from "../wasm_kernels/int8_reference.ts";

/** x @ Wᵀ + bias in float64 from the dequantized W. */
function reference(x: ArrayLike<number>, w: QuantizedWeight, bias: Float32Array): Float64Array {
  const [n, k] = w.shape, m = x.length / k, plain = dequantize(w);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = bias[j]!;
      for (let c = 0; c < k; c++) sum += x[i * k + c]! * plain[j * k + c]!;
      out[i * n + j] = sum;
    }
  }
  return out;
}

// [M, K, N]: a question's rows, odd sizes, a width the wasm kernel's tiles do not divide, and
// a product large enough for several k blocks and row blocks.
const SIZES: [number, number, number][] = [[1, 40, 8], [5, 33, 37], [32, 300, 24], [130, 520, 264]];
const LAYOUTS: QuantizedLayout[] = ["int8", "float16"];

for (const backend of testBackends()) {
  Deno.test(`quantizedLinear on ${backend} equals the dequantized product`, async () => {
    await setBackend(backend);
    try {
      if (backend === "wasm") {
        // the relaxed-SIMD kernel reads the quantized values (Deno has relaxed SIMD)
        ok(tf.getKernel(QUANTIZED_LINEAR_KERNEL, "wasm") !== undefined);
      }
      for (const layout of LAYOUTS) {
        // webgpu (if listed) runs on a slow software adapter here: the small sizes only.
        for (const [m, k, n] of backend === "webgpu" ? SIZES.slice(0, 2) : SIZES) {
          const w = quantizeRows(seeded(n * k, m + k + n, 0.5), [n, k], layout);
          const xs = seeded(m * k, 7 * m + k), bs = seeded(n, 11 + n, 0.1);
          const before = tf.memory().numTensors;
          const x = tf.tensor2d(xs, [m, k]), bias = tf.tensor1d(bs);
          const y = quantizedLinear(x, w, bias);
          equal(tf.memory().numTensors, before + 3, "one new tensor, nothing leaked");
          // wasm's integer kernel multiplies x's rows as quantized (8-bit codes, scale, zero point)
          const integer = backend === "wasm" && layout === "int8" && int8Kernel() !== undefined;
          const got = await y.data();
          const want = reference(integer ? quantizedActivations(xs, m, k) : xs, w, bs);
          tf.dispose([x, bias, y]);
          for (let i = 0; i < want.length; i++) {
            ok(
              Math.abs(got[i]! - want[i]!) <= 1e-4 * (1 + Math.abs(want[i]!)),
              `${layout} [${m}, ${k}, ${n}] at ${i}: ${got[i]} vs ${want[i]}`,
            );
          }
        }
      }
    } finally {
      await setBackend("cpu");
    }
  });
}

Deno.test("quantizedLinear: gradients flow to x (the composite form runs under a tape)", () => {
  const w = quantizeRows(seeded(6 * 4, 1), [6, 4], "int8");
  const x = tf.tensor2d(seeded(2 * 4, 2), [2, 4]);
  const grad = tf.grad((t: tf.Tensor) => tf.sum(quantizedLinear(t as tf.Tensor2D, w, null)))(x);
  // d/dx sum(x Wᵀ) = column sums of W, for every row
  const plain = dequantize(w), got = grad.dataSync();
  for (let c = 0; c < 4; c++) {
    let sum = 0;
    for (let j = 0; j < 6; j++) sum += plain[j * 4 + c]!;
    ok(Math.abs(got[c]! - sum) < 1e-5 && Math.abs(got[4 + c]! - sum) < 1e-5);
  }
  tf.dispose([x, grad]);
});

Deno.test("quantizedLinear refuses shapes that do not fit the weight", () => {
  const w = quantizeRows(seeded(8 * 4, 1), [8, 4], "int8");
  const x = tf.zeros([2, 5]) as tf.Tensor2D, bias = tf.zeros([3]);
  throws(() => quantizedLinear(x, w, null), /\[M, 4\].*received x \[2,5\]/);
  const x4 = tf.zeros([2, 4]) as tf.Tensor2D;
  throws(() => quantizedLinear(x4, w, bias), /bias \[8\].*bias \[3\]/);
  tf.dispose([x, bias, x4]);
});
