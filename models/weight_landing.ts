/**
 * A variable's float32 value written from its checkpoint tensors straight into the storage it
 * keeps ({@linkcode tensorFill}): each tensor is transposed (PyTorch Linear weights are
 * [out, in], ours [in, out]) and put into its slice of the variable (query, key and value share
 * one fused kernel) as it is copied, a block of rows at a time where the source reads by rows.
 * So loading adds a weight's bytes once: no temporary tensor, transposed copy or concatenation
 * of the weight's size exists on any backend (on wasm such a copy would stay resident, since its
 * heap never shrinks).
 * @module
 */
import type { tfl } from "../backend/tf.ts";
import { type TensorFill, tensorFill } from "../backend/tensor_fill.ts";
import type { TensorSource } from "../io/tensor_source.ts";
import { transposeInto } from "../io/transpose.ts";
import type { WeightBinding } from "./weight_binding.ts";
import { writePlain } from "../layers/held_weight.ts";

/** Values read at once when a tensor is read by rows (4 MB of float32). */
const ROW_BLOCK_ELEMENTS = 1 << 20;

/** The PyTorch shape of a binding's tensor (see `hf_weight_map.ts`). */
export type ExpectedShape = (binding: WeightBinding) => number[];

/**
 * Writes `variable`'s value from its checkpoint tensors already in memory.
 * @param variable the weight (its previous value, a placeholder or not, is freed)
 * @param group its bindings, in slice order
 * @param pieces each binding's values, in PyTorch's layout
 * @param expectedShape each binding's PyTorch shape
 * @throws RangeError when the storage cannot be allocated
 */
export function landPieces(
  variable: tfl.LayerVariable,
  group: readonly WeightBinding[],
  pieces: readonly Float32Array[],
  expectedShape: ExpectedShape,
): void {
  const fill = tensorFill(variable.shape as number[]);
  try {
    group.forEach((binding, i) => {
      place(fill, group, i, expectedShape(binding), pieces[i]!, 0);
    });
  } catch (error) {
    fill.dispose();
    throw error;
  }
  finishInto(variable, fill);
}

/**
 * Writes `variable`'s value from a checkpoint read one tensor at a time: matrices a block of
 * rows at a time where the source can (`readRows`), other tensors whole.
 * @param variable the weight (its previous value, a placeholder or not, is freed)
 * @param group its bindings, in slice order
 * @param tensors the checkpoint
 * @param expectedShape each binding's PyTorch shape
 * @throws RangeError when the storage cannot be allocated or a read fails
 */
export async function streamPieces(
  variable: tfl.LayerVariable,
  group: readonly WeightBinding[],
  tensors: TensorSource,
  expectedShape: ExpectedShape,
): Promise<void> {
  const fill = tensorFill(variable.shape as number[]);
  try {
    for (const [i, binding] of group.entries()) {
      const shape = expectedShape(binding);
      if (shape.length !== 2 || tensors.readRows === undefined) {
        place(fill, group, i, shape, await tensors.read(binding.key), 0);
        continue;
      }
      const [rows, cols] = shape as [number, number];
      const step = Math.max(1, Math.floor(ROW_BLOCK_ELEMENTS / Math.max(1, cols)));
      for (let start = 0; start < rows; start += step) {
        const values = await tensors.readRows(binding.key, start, Math.min(rows, start + step));
        place(fill, group, i, shape, values, start); // the view is taken after the await
      }
    }
  } catch (error) {
    fill.dispose();
    throw error;
  }
  finishInto(variable, fill);
}

/** Writes the filled value into `variable`, dropping any form held beside it (packed, quantized). */
function finishInto(variable: tfl.LayerVariable, fill: TensorFill): void {
  const value = fill.finish();
  try {
    writePlain(variable, value);
  } finally {
    value.dispose();
  }
}

/**
 * Copies rows `first..` of binding `index`'s tensor (PyTorch layout `shape`; `values` holds
 * whole rows of its first axis) into its place in the variable: transposed for a Linear weight,
 * at its slice of the last axis for a fused one.
 */
function place(
  fill: TensorFill,
  group: readonly WeightBinding[],
  index: number,
  shape: readonly number[],
  values: Float32Array,
  first: number,
): void {
  const binding = group[index]!;
  const total = fill.shape.length === 0 ? 1 : fill.shape[fill.shape.length - 1]!; // L
  const count = binding.part?.count ?? 1;
  const width = total / count; // this binding's slice of the last axis
  const offset = (binding.part?.index ?? 0) * width;
  const dst = fill.view();
  if (binding.transpose) {
    // [width, inner] rows first.. -> columns offset + first.. of the variable [inner, L], a tile
    // at a time (a column at a time would miss the cache on every read)
    const inner = shape[1]!;
    transposeInto(values, values.length / inner, inner, dst, total, offset + first);
    return;
  }
  // [..., width] as rows of `width` -> rows of L, at column offset
  if (width === total) {
    dst.set(values, first * total);
    return;
  }
  const rows = values.length / width;
  for (let i = 0; i < rows; i++) {
    dst.set(values.subarray(i * width, (i + 1) * width), (first + i) * total + offset);
  }
}
