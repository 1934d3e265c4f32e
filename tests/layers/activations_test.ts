import { equal, throws } from "node:assert/strict";
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
  equal(Object.keys(ACTIVATIONS).sort().join(), Object.keys(EXPECTED).sort().join());
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
  throws(() => getActivation("quick_gelu"), {
    name: "RangeError",
    message: /hidden_act must be one of .*: received "quick_gelu"/,
  });
});
