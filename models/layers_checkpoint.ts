/**
 * Loading a converted layers-model folder straight into the layers: its weights already have the
 * layers' own layouts (a Linear kernel [in, out], query/key/value fused side by side), so each is
 * written as it is read, with no round trip through PyTorch names. `model.json`'s bindings
 * (checkpoint key -> layers weight, written at conversion) are matched with the model's own
 * rename table to find which stored weight fills which variable.
 * @module
 */
import type { tfl } from "../backend/tf.ts";
import {
  emptyQuantized,
  type QuantizedWeight,
  quantizeRows,
  quantizeRowsInto,
} from "../backend/quantized/quantized_weight.ts";
import type { LayoutBinding } from "../io/layers_layout.ts";
import type { TensorSource } from "../io/tensor_source.ts";
import { CHUNK_ELEMENTS, groupBindings, type WeightBinding } from "./weight_binding.ts";

/** One variable of the model and the stored layers weight that holds its whole value. */
export interface LayersStep {
  /** The model's variable. */
  variable: tfl.LayerVariable;
  /** Its bindings (the checkpoint keys it holds), in slice order. */
  group: WeightBinding[];
  /** The stored weight's name in the folder. */
  weight: string;
}

function samePart(a: LayoutBinding["part"], b: WeightBinding["part"]): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.index === b.index && a.count === b.count;
}

/**
 * Matches a folder's layers weights to a model's variables: each variable must be held whole by
 * one stored weight of its shape whose bindings are exactly the variable's (same keys, same
 * transposes and slices), and every stored weight must fill a variable.
 * @param bindings the model's rename table
 * @param tensors the folder's weights, with `layersBindings`
 * @returns one step per variable, or `null` when the folder's layout differs from the model's
 *   (it is then read under PyTorch names, which also names every missing or unexpected key)
 */
export function planLayersLoad(
  bindings: readonly WeightBinding[],
  tensors: TensorSource,
): LayersStep[] | null {
  const stored = new Map((tensors.layersBindings ?? []).map((b) => [b.key, b] as const));
  const keysPerWeight = new Map<string, number>();
  for (const b of stored.values()) {
    keysPerWeight.set(b.weight, (keysPerWeight.get(b.weight) ?? 0) + 1);
  }
  const steps: LayersStep[] = [];
  const used = new Set<string>();
  for (const [variable, group] of groupBindings(bindings)) {
    const first = stored.get(group[0]!.key);
    if (first === undefined) return null;
    const weight = first.weight;
    const fits = group.every((b) => {
      const s = stored.get(b.key);
      return s !== undefined && s.weight === weight && s.transpose === b.transpose &&
        samePart(s.part, b.part);
    });
    const shape = tensors.shapes.get(weight);
    if (
      !fits || keysPerWeight.get(weight) !== group.length || used.has(weight) ||
      shape === undefined || shape.length !== variable.shape.length ||
      shape.some((d, i) => d !== variable.shape[i])
    ) {
      return null;
    }
    used.add(weight);
    steps.push({ variable, group, weight });
  }
  if (used.size !== tensors.shapes.size || stored.size !== bindings.length) return null;
  return steps;
}

/** A float32 buffer reused from one weight to the next (grown to the largest). */
export interface Scratch {
  /** The buffer. */
  values: Float32Array;
  /** A block's float16 bits, reused the same way (made on first use). */
  halves?: Uint16Array;
}

/**
 * Reads a stored layers weight quantized per output channel, in the layout quantized weights
 * are held in (PyTorch's: one row per output channel, fused slices stacked). A Linear kernel
 * [in, out] is read a block of rows at a time and transposed into `scratch` (no garbage the size
 * of a matrix per weight), or for float16 straight into the final storage (no float32 copy of
 * the matrix at all); an embedding table [entries, width] already has a row per entry and is
 * quantized a block of rows at a time as it is read.
 * @param step the variable and its stored weight
 * @param tensors the folder's weights
 * @param dtype the quantized layout
 * @param scratch reused between calls
 * @returns the quantized weight
 */
export async function readLayersQuantized(
  step: LayersStep,
  tensors: TensorSource,
  dtype: "int8" | "float16",
  scratch: Scratch,
): Promise<QuantizedWeight> {
  const [rows, cols] = step.variable.shape as [number, number];
  const block = Math.max(1, Math.floor(CHUNK_ELEMENTS / cols));
  const readBlock = async (start: number, end: number): Promise<Float32Array> =>
    tensors.readRows !== undefined
      ? await tensors.readRows(step.weight, start, end)
      : (await tensors.read(step.weight)).subarray(start * cols, end * cols);
  if (step.group[0]!.transpose && dtype === "float16") {
    // [in, out] -> [out, in] straight into the final float16 storage: each block of input rows
    // is rounded to float16 in a reused buffer (as quantizeRowsInto rounds), then its bits are
    // transposed; no float32 matrix the size of the weight is held.
    const weight = emptyQuantized([cols, rows], dtype, { forKernels: true });
    const data = weight.data as Uint16Array;
    for (let start = 0; start < rows; start += block) {
      const end = Math.min(rows, start + block);
      const values = await readBlock(start, end);
      if ((scratch.halves?.length ?? 0) < values.length) {
        scratch.halves = new Uint16Array(values.length);
      }
      const halves = scratch.halves!;
      new Float16Array(halves.buffer, 0, values.length).set(values);
      for (let r = start; r < end; r++) {
        const base = (r - start) * cols;
        for (let c = 0; c < cols; c++) data[c * rows + r] = halves[base + c]!;
      }
    }
    return weight;
  }
  if (step.group[0]!.transpose) {
    // [in, out] -> [out, in], a block of input rows at a time
    if (scratch.values.length < rows * cols) scratch.values = new Float32Array(rows * cols);
    const transposed = scratch.values.subarray(0, rows * cols);
    for (let start = 0; start < rows; start += block) {
      const end = Math.min(rows, start + block);
      const values = await readBlock(start, end);
      for (let r = start; r < end; r++) {
        const base = (r - start) * cols;
        for (let c = 0; c < cols; c++) transposed[c * rows + r] = values[base + c]!;
      }
    }
    return quantizeRows(transposed, [cols, rows], dtype, { forKernels: true });
  }
  const weight = emptyQuantized([rows, cols], dtype, { forKernels: true });
  for (let start = 0; start < rows; start += block) {
    const end = Math.min(rows, start + block);
    quantizeRowsInto(weight, await readBlock(start, end), start);
  }
  return weight;
}
