/**
 * Quantized models saved quantized: int8 matrices as safetensors `I8` tensors under their PyTorch
 * names with a float32 `<name>_scale` tensor (one scale per row), float16 ones as `F16`, and the
 * dtype in the file's metadata (`dpr_dtype`), so such a file loads quantized by default and to the
 * same values bit for bit.
 * @module
 */
import type { tfl } from "../backend/tf.ts";
import {
  dequantize,
  QuantizedWeight,
  quantizeRows,
} from "../backend/quantized/quantized_weight.ts";
import { int8Storage } from "../backend/quantized/kernel_memory.ts";
import type { EncodedTensor } from "../io/safetensors_write.ts";
import type { RawTensor } from "../io/state_dict.ts";
import type { TensorSource } from "../io/tensor_source.ts";
import { LITTLE_ENDIAN_HOST } from "../io/byte_reader.ts";
import { heldQuantized, holdQuantized } from "../layers/held_weight.ts";
import type { WeightBinding, WeightDtype } from "./weight_binding.ts";

/** Suffix of the scale tensor of an int8 tensor: `x.weight` -> `x.weight_scale`. */
export const SCALE_SUFFIX = "_scale";

/** The metadata key that records how a saved model's weights are stored. */
export const DTYPE_METADATA_KEY = "dpr_dtype";

/** The shape a binding has in the checkpoint (PyTorch layout, one slice of a fused weight). */
type ShapeOf = (binding: WeightBinding) => number[];

/**
 * A model's weights for saving as they are held: quantized ones as `I8` (+ scales) or `F16`
 * tensors in PyTorch's layout, the others as float32 from `plain`.
 * @param bindings the model's rename table
 * @param shapeOf the checkpoint shape of a binding
 * @param plain the float32 tensor of a binding that is not quantized
 * @returns tensors in binding order, and the dtype for the metadata
 */
export function exportHeld(
  bindings: WeightBinding[],
  shapeOf: ShapeOf,
  plain: (binding: WeightBinding) => RawTensor,
): { tensors: Map<string, RawTensor | EncodedTensor>; dtype: WeightDtype } {
  const tensors = new Map<string, RawTensor | EncodedTensor>();
  let dtype: WeightDtype = "float32";
  for (const binding of bindings) {
    const held = heldQuantized(binding.variable);
    if (held === undefined) {
      tensors.set(binding.key, plain(binding));
      continue;
    }
    const { weight } = held;
    dtype = weight.layout;
    const shape = shapeOf(binding);
    const rows = shape[0]!, cols = shape[1]!;
    const first = (binding.part?.index ?? 0) * rows;
    const data = weight.data.slice(first * cols, (first + rows) * cols);
    if (weight.layout === "float16") {
      tensors.set(binding.key, { shape, data: data as Uint16Array, dtype: "F16" });
    } else {
      tensors.set(binding.key, { shape, data: data as Int8Array, dtype: "I8" });
      tensors.set(`${binding.key}${SCALE_SUFFIX}`, {
        shape: [rows],
        data: weight.scales!.slice(first, first + rows),
      });
    }
  }
  return { tensors, dtype };
}

/**
 * The dtype a saved file asks to load with (its `dpr_dtype` metadata), if any.
 * @param tensors the checkpoint
 * @returns "int8", "float16" or undefined
 */
export function storedDtype(tensors: TensorSource): "int8" | "float16" | undefined {
  const value = tensors.metadata?.[DTYPE_METADATA_KEY];
  return value === "int8" || value === "float16" ? value : undefined;
}

/**
 * The scale tensors of a checkpoint's int8 tensors (names the loader expects besides the bound
 * ones).
 */
export function scaleKeys(tensors: TensorSource): Set<string> {
  const out = new Set<string>();
  for (const [name, dtype] of tensors.dtypes ?? []) {
    if (dtype === "I8") out.add(`${name}${SCALE_SUFFIX}`);
  }
  return out;
}

/**
 * Checks that every int8 tensor is one that may be quantized and has a scale tensor of one
 * float32 per row.
 * @throws TypeError naming the tensor whose scale is missing or inconsistent
 */
export function checkStored(
  owner: string,
  bindings: WeightBinding[],
  tensors: TensorSource,
  quantizable: (binding: WeightBinding) => boolean,
  shapeOf: ShapeOf,
): void {
  for (const binding of bindings) {
    if (tensors.dtypes?.get(binding.key) !== "I8") continue;
    const scale = `${binding.key}${SCALE_SUFFIX}`;
    if (!quantizable(binding)) {
      throw new TypeError(
        `Cannot load ${owner}: ${binding.key} is stored as int8, but only dense matrices and the ` +
          `word-embedding table may be`,
      );
    }
    const rows = shapeOf(binding)[0]!;
    const shape = tensors.shapes.get(scale);
    if (shape === undefined) {
      throw new TypeError(
        `Cannot load ${owner} from ${tensors.description}: ${binding.key} is int8 but its ` +
          `scale tensor ${scale} is missing`,
      );
    }
    const dtype = tensors.dtypes?.get(scale);
    if (shape.length !== 1 || shape[0] !== rows || dtype !== "F32") {
      throw new TypeError(
        `Cannot load ${owner} from ${tensors.description}: scale tensor ${scale} must be F32 ` +
          `[${rows}] (one per row of ${binding.key}): received ${dtype} [${shape}]`,
      );
    }
  }
}

/**
 * Whether a variable's tensors are stored quantized in a way to keep: int8, or float16 when
 * float16 is asked for.
 */
export function isStoredQuantized(
  group: WeightBinding[],
  tensors: TensorSource,
  dtype: WeightDtype,
): boolean {
  const stored = group.map((b) => tensors.dtypes?.get(b.key));
  if (tensors.readRaw === undefined) return false;
  return stored.some((d) => d === "I8") ||
    (dtype === "float16" && stored.every((d) => d === "F16"));
}

/**
 * Loads a variable from tensors stored quantized: kept bit for bit when `dtype` is their layout,
 * else dequantized (float32) or requantized.
 * @returns the float32 pieces to write when `dtype` is float32, else undefined (held quantized)
 * @throws TypeError naming the tensor whose scales are not finite and non-negative
 */
export async function loadStored(
  variable: tfl.LayerVariable,
  group: WeightBinding[],
  tensors: TensorSource,
  dtype: WeightDtype,
  shapeOf: ShapeOf,
): Promise<Float32Array[] | undefined> {
  const shapes = group.map(shapeOf);
  const cols = shapes[0]![1]!;
  const rows = shapes.reduce((sum, shape) => sum + shape[0]!, 0);
  const int8 = group.some((b) => tensors.dtypes?.get(b.key) === "I8");
  const scales = int8 ? new Float32Array(rows) : null;
  // The stored bytes are the values (int8, or little-endian float16 bits on a little-endian
  // host), copied as bytes: int8 into the kernels' storage; float16 kept in the buffer it was
  // read into when the weight is one piece in a buffer of its own.
  let bytes: Uint8Array | undefined;
  const storage = int8 ? int8Storage(rows * cols) : undefined;
  if (storage !== undefined) {
    bytes = new Uint8Array(storage.buffer, storage.byteOffset, rows * cols);
  }
  const itemBytes = int8 ? 1 : 2;
  let offset = 0;
  for (const [i, binding] of group.entries()) {
    const pieceRows = shapes[i]![0]!;
    const stored = tensors.dtypes?.get(binding.key);
    if (int8 !== (stored === "I8")) {
      throw new TypeError(
        `Cannot load ${binding.key}: the slices of one weight must share a dtype: received ` +
          `${stored} beside ${int8 ? "I8" : "F16"}`,
      );
    }
    const at = offset * cols * itemBytes, size = pieceRows * cols * itemBytes;
    if (bytes !== undefined && tensors.readRawInto !== undefined) {
      // Straight into the kernels' storage: no buffer per tensor left for the collector.
      await tensors.readRawInto(binding.key, bytes.subarray(at, at + size));
    } else {
      const raw = await tensors.readRaw!(binding.key);
      const own = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength;
      if (!int8 && group.length === 1 && own) bytes = raw;
      else {
        bytes ??= new Uint8Array(rows * cols * itemBytes);
        bytes.set(raw, at);
      }
    }
    if (int8) scales!.set(await tensors.read(`${binding.key}${SCALE_SUFFIX}`), offset);
    offset += pieceRows;
  }
  const data = storage ?? halves(bytes!);
  const name = `${group[0]!.key}${int8 ? SCALE_SUFFIX : ""}`;
  const weight = new QuantizedWeight(int8 ? "int8" : "float16", [rows, cols], data, scales, name);
  if (dtype === weight.layout) {
    holdQuantized(variable, weight, group[0]!.transpose);
    return undefined;
  }
  const values = dequantize(weight);
  if (dtype !== "float32") {
    holdQuantized(
      variable,
      quantizeRows(values, [rows, cols], dtype, { forKernels: true }),
      group[0]!.transpose,
    );
    return undefined;
  }
  const pieces: Float32Array[] = [];
  offset = 0;
  for (const shape of shapes) {
    pieces.push(values.subarray(offset * cols, (offset + shape[0]!) * cols));
    offset += shape[0]!;
  }
  return pieces;
}

/** Little-endian float16 bits as a Uint16Array: a view where the host and alignment allow. */
function halves(bytes: Uint8Array): Uint16Array {
  const count = bytes.length / 2;
  if (LITTLE_ENDIAN_HOST && bytes.byteOffset % 2 === 0) {
    return new Uint16Array(bytes.buffer, bytes.byteOffset, count);
  }
  const out = new Uint16Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, true);
  return out;
}
