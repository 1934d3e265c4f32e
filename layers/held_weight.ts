/**
 * Weights a layer holds in a layout of their own in place of the float32 values of its
 * `tfl.LayerVariable`: a {@linkcode QuantizedWeight} (int8 with per-row scales, or float16), or a
 * dense kernel the active backend packed into its own layout ({@linkcode PackedWeight}: oneDNN's
 * blocks on "blas"), which the layer holds from the kernel's first use on that backend.
 *
 * The variable stays (its name and shape are how checkpoints bind to it) but holds no values: a
 * one-element placeholder stands in for its data, and the weight is held beside it. Layers read
 * their weights through {@linkcode readDense} / {@linkcode gatherQuantizedRows}, which hand the
 * held form to the named ops; {@linkcode plainWeight} reads any weight back as a float32 tensor
 * in the variable's own layout. A packed kernel goes back into its variable, plain, when the
 * backend that packed it no longer runs it (another backend, a gradient tape, packing off).
 * @module
 */
import { tf, type tfl } from "../backend/tf.ts";
import { quantizedLinear } from "../backend/ops/quantized_linear.ts";
import { linear, type LinearKernel } from "../backend/ops/fused_ops.ts";
import {
  type PackedWeight,
  packWeight,
  readsPacked,
  unpackedTensor,
} from "../backend/ops/packed_weight.ts";
import "../backend/quantized/cpu_quantized_linear.ts";
import "../backend/quantized/webgpu_quantized_linear.ts";
import {
  dequantize,
  dequantizeRows,
  QuantizedWeight,
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
/** How many variables hold each quantized weight (one may be shared): disposed at zero. */
const holders = new WeakMap<QuantizedWeight, number>();
const packed = new WeakMap<tfl.LayerVariable, PackedWeight>();
/** Variables a tfjs LayersModel shares: tfjs reads their tensors, so they stay plain. */
const keptPlain = new WeakSet<tfl.LayerVariable>();

/** A dense kernel as a layer reads it: float32 [in, out], packed [in, out], or quantized [out, in]. */
export type DenseWeight = LinearKernel | QuantizedWeight;

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
  // Unless it holds another form already, the variable still holds its float32 values.
  const plain = !held.has(variable) && !packed.has(variable);
  if (held.get(variable)?.weight !== weight) dropHeld(variable);
  if (plain) writePlaceholder(variable);
  if (held.get(variable)?.weight !== weight) holders.set(weight, (holders.get(weight) ?? 0) + 1);
  held.set(variable, { weight, transposed });
}

/**
 * Frees layer weights: each variable's tensor, a packed kernel's values, and the quantized
 * weight it holds (its values, in kernel memory at once, and its device copies), unless another
 * variable holds it too. What a model's `dispose()` calls.
 * @param variables the weights
 */
export function disposeWeights(variables: Iterable<tfl.LayerVariable>): void {
  for (const variable of variables) {
    const weight = held.get(variable)?.weight;
    dropHeld(variable);
    if (weight !== undefined && holders.get(weight) === undefined) weight.dispose();
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
 * The packed form `variable` holds, if any (a backend packed it on its first use there).
 * @param variable a layer's dense kernel
 * @returns the packed weight, or undefined
 */
export function heldPacked(variable: tfl.LayerVariable): PackedWeight | undefined {
  return packed.get(variable);
}

/**
 * A dense kernel for {@linkcode linearWith}: its quantized form, its packed form, or its float32
 * tensor. Given the rows of the input, a float32 kernel is offered to the active backend to
 * pack ({@linkcode packWeight}); packed, the layer holds it in place of the variable's values.
 * @param variable the kernel, [in, out]
 * @param rows rows of the input it is about to multiply
 * @returns what the named ops take
 */
export function readDense(variable: tfl.LayerVariable, rows?: number): DenseWeight {
  const quantized = held.get(variable);
  if (quantized !== undefined) return quantized.weight;
  const current = packed.get(variable);
  if (current !== undefined) {
    if (readsPacked(current)) return current;
    unpackInto(variable, current);
  }
  const plain = variable.read() as tf.Tensor2D;
  if (rows === undefined || keptPlain.has(variable)) return plain;
  const fresh = packWeight(plain, rows);
  if (fresh === undefined) return plain;
  writePlaceholder(variable);
  packed.set(variable, fresh);
  return fresh;
}

/** Puts the plain matrix of `weight` back into `variable` and drops the packed values. */
function unpackInto(variable: tfl.LayerVariable, weight: PackedWeight): void {
  const plain = unpackedTensor(weight);
  variable.write(plain);
  plain.dispose();
  weight.dispose();
  packed.delete(variable);
}

/** Makes `variable` hold a one-element placeholder (its values are held elsewhere). */
function writePlaceholder(variable: tfl.LayerVariable): void {
  const placeholder = placeholderTensor(variable.shape as number[]);
  variable.write(placeholder);
  placeholder.dispose();
}

/**
 * Keeps `variable` plain from now on (a packed kernel goes back into it): for weights a tfjs
 * LayersModel shares, since tfjs reads its variables' tensors directly (saving, `getWeights`).
 * @param variable a layer's weight
 */
export function keepPlain(variable: tfl.LayerVariable): void {
  keptPlain.add(variable);
  const current = packed.get(variable);
  if (current !== undefined) unpackInto(variable, current);
}

/**
 * Writes float32 `value` into `variable`, dropping any form held beside it (packed or quantized).
 * @param variable a layer's weight
 * @param value its new values, in the variable's shape (the caller keeps ownership)
 */
export function writePlain(variable: tfl.LayerVariable, value: tf.Tensor): void {
  dropHeld(variable);
  variable.write(value);
}

/** Drops what `variable` holds beside its tensor: a packed kernel, a quantized weight's copies. */
function dropHeld(variable: tfl.LayerVariable): void {
  packed.get(variable)?.dispose();
  packed.delete(variable);
  const weight = held.get(variable)?.weight;
  if (weight !== undefined) {
    weight.releaseDeviceCopies();
    const count = (holders.get(weight) ?? 1) - 1;
    if (count > 0) holders.set(weight, count);
    else holders.delete(weight);
  }
  held.delete(variable);
}

/**
 * Whether a kernel read with {@linkcode readDense} holds float32 values (plain or packed), which
 * the fused linear ops take, rather than quantized ones.
 * @param kernel a dense kernel
 * @returns true for a float32 tensor or a packed weight
 */
export function isFloatKernel(kernel: DenseWeight): kernel is LinearKernel {
  return !(kernel instanceof QuantizedWeight);
}

/**
 * `x @ W + bias` for a kernel read with {@linkcode readDense}.
 * @param x float32 [N, in]
 * @param kernel [in, out] float32 or packed, or quantized [out, in]
 * @param bias float32 [out]
 * @returns [N, out]
 */
export function linearWith(x: tf.Tensor2D, kernel: DenseWeight, bias: tf.Tensor): tf.Tensor2D {
  return isFloatKernel(kernel) ? linear(x, kernel, bias) : quantizedLinear(x, kernel, bias);
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
 * Any weight as a float32 tensor in its variable's layout: the variable's own tensor, a packed
 * kernel unpacked, or the quantized values dequantized (and transposed back for dense kernels):
 * the one way to read a weight back. The caller owns it.
 * @param variable a layer's weight
 * @returns a new tensor
 */
export function plainWeight(variable: tfl.LayerVariable): tf.Tensor {
  const current = packed.get(variable);
  if (current !== undefined) return unpackedTensor(current);
  const h = held.get(variable);
  if (h === undefined) return tf.clone(variable.read());
  const [rows, cols] = h.weight.shape;
  return tf.tidy(() => {
    const matrix = tf.tensor2d(dequantize(h.weight), [rows, cols]);
    return h.transposed ? tf.transpose(matrix) : matrix;
  });
}
