import { deepEqual, ok, throws } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { ACTIVATIONS, getActivation } from "../../layers/activations.ts";

// Reference values at x = -1.5, 0, 1 computed in float64 from the formulas in transformers'
// activations.py (erf gelu, tanh approximations, silu).
const X = [-1.5, 0, 1];
const EXPECTED: Record<string, number[]> = {
  gelu: [-0.1002108, 0, 0.84134475],
  gelu_new: [-0.10042843, 0, 0.84119199],
  gelu_fast: [-0.10042842, 0, 0.84119199],
  relu: [0, 0, 1],
  silu: [-0.27363829, 0, 0.73105858],
  swish: [-0.27363829, 0, 0.73105858],
  tanh: [-0.90514825, 0, 0.76159416],
};

Deno.test("activations match transformers' formulas", () => {
  for (const [name, want] of Object.entries(EXPECTED)) {
    const y = tf.tidy(() => getActivation(name)(tf.tensor1d(X)));
    const got = y.dataSync();
    y.dispose();
    want.forEach((w, i) => {
      const d = Math.abs(got[i]! - w);
      if (!(d < 2e-6)) throw new Error(`${name}(${X[i]}) = ${got[i]}, expected ${w}`);
    });
  }
});

Deno.test("getActivation names the unsupported activation", () => {
  throws(() => getActivation("gelu_unknown"), {
    name: "RangeError",
    message: /hidden_act must be one of .*: received "gelu_unknown"/,
  });
});

Deno.test("every transformers ACT2FN activation matches its float64 formula", async () => {
  const xs = [-12, -3, -1.5, -0.5, -0.01, 0, 0.01, 0.5, 1.5, 3, 12];
  // erf by Simpson's rule on 2/sqrt(pi) exp(-t^2): far below float32 precision.
  const erf = (v: number): number => {
    const n = 4000, h = v / n;
    let sum = 1 + Math.exp(-v * v);
    for (let i = 1; i < n; i++) sum += (i % 2 === 1 ? 4 : 2) * Math.exp(-((i * h) ** 2));
    return (2 / Math.sqrt(Math.PI)) * (h / 3) * sum;
  };
  const gelu = (v: number): number => 0.5 * v * (1 + erf(v / Math.SQRT2));
  const tanhGelu = (v: number): number =>
    0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));
  const reference: Record<string, (v: number) => number> = {
    gelu,
    gelu_python: gelu,
    gelu_new: tanhGelu,
    gelu_pytorch_tanh: tanhGelu,
    gelu_accurate: tanhGelu,
    gelu_fast: (v) => 0.5 * v * (1 + Math.tanh(v * 0.7978845608 * (1 + 0.044715 * v * v))),
    gelu_10: (v) => Math.min(10, Math.max(-10, gelu(v))),
    quick_gelu: (v) => v * sigmoid(1.702 * v),
    relu: (v) => Math.max(0, v),
    relu2: (v) => Math.max(0, v) ** 2,
    relu6: (v) => Math.min(6, Math.max(0, v)),
    leaky_relu: (v) => (v >= 0 ? v : 0.01 * v),
    silu: (v) => v * sigmoid(v),
    swish: (v) => v * sigmoid(v),
    mish: (v) => v * Math.tanh(Math.log1p(Math.exp(v))),
    tanh: Math.tanh,
    sigmoid,
    linear: (v) => v,
    laplace: (v) => 0.5 * (1 + erf((v - 0.707107) / (0.282095 * Math.SQRT2))),
  };
  deepEqual(Object.keys(ACTIVATIONS).sort(), Object.keys(reference).sort());
  for (const [name, fn] of Object.entries(reference)) {
    const x = tf.tensor1d(xs);
    const y = getActivation(name)(x);
    const got = await y.data();
    tf.dispose([x, y]);
    xs.forEach((v, i) => {
      const want = fn(v);
      ok(
        Math.abs(got[i]! - want) <= 1e-5 * Math.max(1, Math.abs(want)),
        `${name}(${v}) = ${got[i]}, want ${want}`,
      );
    });
  }
});
