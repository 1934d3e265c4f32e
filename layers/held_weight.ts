/**
 * Weights a layer holds in a layout of their own ({@linkcode QuantizedWeight}: int8 with per-row
 * scales, or float16) in place of the float32 values of its `tfl.LayerVariable`.
 *
 * The variable stays (its name and shape are how checkpoints bind to it) but holds no values: a
 * one-element placeholder stands in for its data, and the quantized matrix is held beside it.
 * Layers read their weights through {@linkcode readDense} / {@linkcode gatherEmbeddingRows}, which
 * hand the quantized form to the named ops; {@linkcode plainWeight} reads any weight back as a
 * float32 tensor in the variable's own layout.
 * @module
 */
import { tf, type tfl } from "../backend/tf.ts";
import { quantizedLinear } from "../backend/ops/quantized_linear.ts";
import "../backend/quantized/cpu_quantized_linear.ts";
import "../backend/quantized/webgpu_quantized_linear.ts";
import {
  dequantize,
  dequantizeRows,
  type QuantizedWeight,
} from "../backend/quantized/quantized_weight.ts";

/** A quantized weight and how it relates to its variable's layout. */
export interface HeldWeight {
  /** The values. */
  weight: QuantizedWeight;
  /**
   * Whether the quantized matrix is the transpose of the variable: dense kernels are stored
   * [in, out] as variables and [out, in] quantized (rows are output channels).
   */
  transposed: boolean;
}

const held = new WeakMap<tfl.LayerVariable, HeldWeight>();

/** A dense kernel as a layer reads it: float32 [in, out], or quantized [out, in]. */
export type DenseWeight = tf.Tensor | QuantizedWeight;

/**
 * A tensor of `shape` whose data is one float32 value: what a variable holds while its real
 * values live elsewhere (never read).
 * @param shape the variable's shape
 * @returns a tensor the caller owns
 */
export function placeholderTensor(shape: readonly number[]): tf.Tensor {
  const backend = tf.backend();
  const dataId = backend.write(new Float32Array(1), [1], "float32");
  return tf.engine().makeTensorFromDataId(dataId, [...shape], "float32", backend);
}

/**
 * Makes `variable` hold `weight` instead of float32 values (its previous values are freed).
 * @param variable the layer's weight
 * @param weight the quantized values
 * @param transposed whether `weight` is the transpose of the variable ([out, in] for [in, out])
 * @throws TypeError when the shapes do not correspond
 */
export function holdQuantized(
  variable: tfl.LayerVariable,
  weight: QuantizedWeight,
  transposed: boolean,
): void {
  const shape = variable.shape as number[];
  const want = transposed ? [...shape].reverse() : shape;
  if (shape.length !== 2 || weight.shape[0] !== want[0] || weight.shape[1] !== want[1]) {
    throw new TypeError(
      `Cannot hold a [${weight.shape}] quantized weight in ${variable.name}: it is [${shape}]` +
        (transposed ? ", so the quantized matrix must be its transpose" : ""),
    );
  }
  const before = held.get(variable);
  if (before === undefined) {
    const placeholder = placeholderTensor(shape);
    variable.write(placeholder);
    placeholder.dispose();
  } else if (before.weight !== weight) {
    before.weight.releaseDeviceCopies();
  }
  held.set(variable, { weight, transposed });
}

/**
 * Frees layer weights: each variable's tensor, and the device copies (GPU buffers) of the
 * quantized values it holds. What a model's `dispose()` calls.
 * @param variables the weights
 */
export function disposeWeights(variables: Iterable<tfl.LayerVariable>): void {
  for (const variable of variables) {
    held.get(variable)?.weight.releaseDeviceCopies();
    variable.dispose();
  }
}

/**
 * The quantized form `variable` holds, if any.
 * @param variable a layer's weight
 * @returns the held weight, or undefined for a plain float32 variable
 */
export function heldQuantized(variable: tfl.LayerVariable): HeldWeight | undefined {
  return held.get(variable);
}

/**
 * A dense kernel for {@linkcode linearWith}: its quantized form, or its float32 tensor.
 * @param variable the kernel, [in, out]
 * @returns what the named ops take
 */
export function readDense(variable: tfl.LayerVariable): DenseWeight {
  return held.get(variable)?.weight ?? variable.read();
}

/**
 * `x @ W + bias` for a kernel read with {@linkcode readDense}.
 * @param x float32 [N, in]
 * @param kernel [in, out] float32, or quantized [out, in]
 * @param bias float32 [out]
 * @returns [N, out]
 */
export function linearWith(x: tf.Tensor2D, kernel: DenseWeight, bias: tf.Tensor): tf.Tensor2D {
  if (kernel instanceof tf.Tensor) {
    return tf.fused.matMul({ a: x, b: kernel as tf.Tensor2D, bias }) as tf.Tensor2D;
  }
  return quantizedLinear(x, kernel, bias);
}

/**
 * Rows `ids` of a quantized embedding table ([entries, width]), dequantizing only those rows.
 * @param weight the table
 * @param ids row numbers
 * @returns float32 [ids.length, width]
 * @throws RangeError when an id is outside the table
 */
export function gatherQuantizedRows(
  weight: QuantizedWeight,
  ids: ArrayLike<number>,
): tf.Tensor2D {
  const [rows, width] = weight.shape;
  const out = new Float32Array(ids.length * width);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!(Number.isInteger(id) && id >= 0 && id < rows)) {
      throw new RangeError(`Cannot gather row ${id}: the table has ${rows} rows`);
    }
    dequantizeRows(weight, id, id + 1, out, i * width);
  }
  return tf.tensor2d(out, [ids.length, width], "float32");
}

/**
 * Any weight as a float32 tensor in its variable's layout: the variable's own tensor, or the
 * quantized values dequantized (and transposed back for dense kernels). The caller owns it.
 * @param variable a layer's weight
 * @returns a new tensor
 */
export function plainWeight(variable: tfl.LayerVariable): tf.Tensor {
  const h = held.get(variable);
  if (h === undefined) return tf.clone(variable.read());
  const [rows, cols] = h.weight.shape;
  return tf.tidy(() => {
    const matrix = tf.tensor2d(dequantize(h.weight), [rows, cols]);
    return h.transposed ? tf.transpose(matrix) : matrix;
  });
}
