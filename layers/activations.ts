/**
 * The activation functions a BERT `hidden_act` may name, as tfjs ops, each the same formula as
 * transformers' `ACT2FN` entry.
 * @module
 */
import { tf } from "../backend/tf.ts";
import { geluErf as fusedGeluErf } from "../backend/ops/fused_ops.ts";

/** An elementwise activation: takes and returns a float32 tensor of the same shape. */
export type Activation = (x: tf.Tensor) => tf.Tensor;

const SQRT_HALF = Math.SQRT1_2;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * `gelu`: the exact form `0.5 x (1 + erf(x / sqrt 2))` (PyTorch's default `GELU`). One fused
 * kernel where the active backend registers it (float32, outside gradient recording), the
 * composite ops elsewhere.
 */
export function geluErf(x: tf.Tensor): tf.Tensor {
  if (x.dtype === "float32") return fusedGeluErf(x);
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(tf.erf(tf.mul(x, SQRT_HALF)), 1)));
}

/** `gelu_new`: the tanh approximation `0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`. */
export function geluNew(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), SQRT_2_OVER_PI);
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** `gelu_fast`: `0.5 x (1 + tanh(x * 0.7978845608 * (1 + 0.044715 x^2)))`. */
export function geluFast(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const inner = tf.mul(tf.mul(x, 0.7978845608), tf.add(tf.mul(tf.square(x), 0.044715), 1));
    return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
  });
}

/** `silu` / `swish`: `x * sigmoid(x)`. */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

/** `quick_gelu`: `x * sigmoid(1.702 x)`. */
export function quickGelu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(tf.mul(x, 1.702))));
}

/** `mish`: `x * tanh(softplus(x))`. */
export function mish(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.tanh(tf.softplus(x))));
}

/** `laplace`: `0.5 (1 + erf((x - mu) / (sigma sqrt 2)))` with transformers' mu and sigma. */
export function laplace(x: tf.Tensor): tf.Tensor {
  const mu = 0.707107, sigma = 0.282095;
  return tf.tidy(() => tf.mul(tf.add(tf.erf(tf.div(tf.sub(x, mu), sigma * Math.SQRT2)), 1), 0.5));
}

/**
 * The supported `hidden_act` names and their functions: transformers' `ACT2FN` table.
 * `gelu_python` is the same erf form as `gelu`; `gelu_pytorch_tanh` and `gelu_accurate` compute
 * the tanh approximation of `gelu_new`.
 */
export const ACTIVATIONS: Readonly<Record<string, Activation>> = Object.freeze({
  gelu: geluErf,
  gelu_python: geluErf,
  gelu_new: geluNew,
  gelu_pytorch_tanh: geluNew,
  gelu_accurate: geluNew,
  gelu_fast: geluFast,
  gelu_10: (x: tf.Tensor): tf.Tensor => tf.tidy(() => tf.clipByValue(geluErf(x), -10, 10)),
  quick_gelu: quickGelu,
  relu: (x: tf.Tensor): tf.Tensor => tf.relu(x),
  relu2: (x: tf.Tensor): tf.Tensor => tf.tidy(() => tf.square(tf.relu(x))),
  relu6: (x: tf.Tensor): tf.Tensor => tf.relu6(x),
  leaky_relu: (x: tf.Tensor): tf.Tensor => tf.leakyRelu(x, 0.01),
  silu,
  swish: silu,
  mish,
  tanh: (x: tf.Tensor): tf.Tensor => tf.tanh(x),
  sigmoid: (x: tf.Tensor): tf.Tensor => tf.sigmoid(x),
  linear: (x: tf.Tensor): tf.Tensor => tf.clone(x),
  laplace,
});

/**
 * The activation named `name`.
 * @param name a `hidden_act` value such as `"gelu"`
 * @returns the function
 * @throws RangeError naming the supported activations when `name` is not one of them
 */
export function getActivation(name: string): Activation {
  const fn = Object.hasOwn(ACTIVATIONS, name) ? ACTIVATIONS[name] : undefined;
  if (fn === undefined) {
    throw new RangeError(
      `Unsupported activation: hidden_act must be one of ${
        Object.keys(ACTIVATIONS).join(", ")
      }: received ${JSON.stringify(name)}`,
    );
  }
  return fn;
}
