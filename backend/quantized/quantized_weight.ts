/**
 * A weight matrix held in a layout of its own instead of a float32 tensor: int8 with one float32
 * scale per row (symmetric, `value = q * scale`), or IEEE float16. Rows are output channels for a
 * dense layer (PyTorch's `[out, in]` layout) and entries for an embedding table, so a per-row
 * scale is a per-output-channel scale for one and a per-entry scale for the other.
 *
 * The values live in plain typed arrays owned by the weight (no tfjs tensor, no float32 copy);
 * each backend's kernel reads them through {@linkcode dequantizeRows}, a block of rows at a time,
 * and {@linkcode dequantize} is the one way to read the whole matrix back as float32. A backend
 * whose kernels run on a device (webgpu) uploads the quantized values once and keeps that copy
 * on the weight ({@linkcode QuantizedWeight.deviceCopy}) until the weight is released.
 * @module
 */
import { float16Table } from "../float16_bits.ts";
import { int8Storage, kernelMemory } from "./kernel_memory.ts";

/** How a {@linkcode QuantizedWeight} stores its values. */
export type QuantizedLayout = "int8" | "float16";

/** The layouts, for validating user input. */
export const QUANTIZED_LAYOUTS: readonly QuantizedLayout[] = ["int8", "float16"];

/** What a backend keeps of a quantized weight in a device's memory (GPU buffers). */
export interface DeviceCopy {
  /** Frees the device memory (called once). */
  release(): void;
}

/** Whether every scale is finite and >= 0 (a plain loop: `every`'s callback boxed each float). */
function validScales(scales: Float32Array): boolean {
  for (let i = 0; i < scales.length; i++) {
    const s = scales[i]!;
    if (!(s >= 0 && s < Infinity)) return false;
  }
  return true;
}

/** A 2-D weight stored as int8 with per-row scales, or as float16. */
export class QuantizedWeight {
  /** The layout of {@linkcode QuantizedWeight.data}. */
  readonly layout: QuantizedLayout;
  /** [rows, cols]: rows are output channels (dense) or entries (embedding table). */
  readonly shape: readonly [number, number];
  #data: Int8Array | Uint16Array;
  /** One scale per row for int8; null for float16. */
  readonly scales: Float32Array | null;
  /** Device copies, by the backend instance that made them. */
  readonly #copies = new Map<object, DeviceCopy>();
  /** What kernels keep of this weight beside it (freed on {@linkcode QuantizedWeight.dispose}). */
  readonly #kept: Array<() => void> = [];
  #disposed = false;

  /**
   * Wraps already quantized values (what a quantized checkpoint holds).
   * @param layout "int8" or "float16"
   * @param shape [rows, cols]
   * @param data rows * cols values (Int8Array for int8, Uint16Array for float16)
   * @param scales rows scales for int8, null for float16
   * @param name names the weight in error messages
   * @throws TypeError when the arrays do not fit the layout and shape
   */
  constructor(
    layout: QuantizedLayout,
    shape: readonly [number, number],
    data: Int8Array | Uint16Array,
    scales: Float32Array | null,
    name = "a quantized weight",
  ) {
    const [rows, cols] = shape;
    if (!QUANTIZED_LAYOUTS.includes(layout)) {
      throw new TypeError(
        `Cannot build ${name}: layout must be one of ${QUANTIZED_LAYOUTS.join(", ")}: ` +
          `received ${JSON.stringify(layout)}`,
      );
    }
    if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows >= 0 && cols >= 0)) {
      throw new TypeError(`Cannot build ${name}: shape must be [rows, cols]: received [${shape}]`);
    }
    const wantData = layout === "int8" ? Int8Array : Uint16Array;
    if (!(data instanceof wantData) || data.length !== rows * cols) {
      throw new TypeError(
        `Cannot build ${name}: ${layout} data must be a ${wantData.name} of ${rows * cols} ` +
          `values for shape [${shape}]: received a ${data.constructor.name} of ${data.length}`,
      );
    }
    if (layout === "int8" && !(scales instanceof Float32Array && scales.length === rows)) {
      throw new TypeError(
        `Cannot build ${name}: int8 needs one float32 scale per row (${rows}): received ` +
          `${scales === null ? "none" : `${scales.constructor.name} of ${scales.length}`}`,
      );
    }
    if (layout === "int8" && !validScales(scales!)) {
      throw new TypeError(`Cannot build ${name}: its int8 scales must be finite and >= 0`);
    }
    this.layout = layout;
    this.shape = [rows, cols];
    this.#data = data;
    this.scales = layout === "int8" ? scales : null;
  }

  /**
   * Row-major values: int8 codes, or float16 bit patterns. A kernel may move them to memory it
   * reads ({@linkcode QuantizedWeight.moveTo}): read them here each time, never keep the array.
   */
  get data(): Int8Array | Uint16Array {
    return this.#data;
  }

  /**
   * Moves the values into `storage` (memory a kernel reads in place; the old array is dropped).
   * @param storage an array of the same type and length
   * @throws TypeError when it does not fit
   */
  moveTo(storage: Int8Array | Uint16Array): void {
    if (this.#disposed) {
      throw new TypeError(`Cannot move a [${this.shape}] ${this.layout} weight: it was disposed`);
    }
    if (storage.constructor !== this.#data.constructor || storage.length !== this.#data.length) {
      throw new TypeError(
        `Cannot move a [${this.shape}] ${this.layout} weight into a ${storage.constructor.name} ` +
          `of ${storage.length} values`,
      );
    }
    if (storage !== this.#data) storage.set(this.#data as never);
    this.#data = storage;
  }

  /** Bytes held: the values plus the scales. */
  get bytes(): number {
    return this.data.byteLength + (this.scales?.byteLength ?? 0);
  }

  /**
   * The copy of these values that `owner` (a backend instance) keeps in its device's memory,
   * made by `upload` on first use: a device kernel uploads the quantized values once, not per
   * call.
   * @param owner the backend instance the copy belongs to
   * @param upload makes the copy
   * @returns the copy
   */
  deviceCopy<T extends DeviceCopy>(owner: object, upload: () => T): T {
    let copy = this.#copies.get(owner);
    if (copy === undefined) {
      copy = upload();
      this.#copies.set(owner, copy);
    }
    return copy as T;
  }

  /** Device copies held (for tests and memory reports). */
  get deviceCopies(): number {
    return this.#copies.size;
  }

  /**
   * Frees every device copy (the weight stays usable: a device kernel uploads it again when it
   * next runs). Models call it when they are disposed.
   */
  releaseDeviceCopies(): void {
    const copies = [...this.#copies.values()];
    this.#copies.clear();
    for (const copy of copies) copy.release();
  }

  /**
   * Registers what a kernel keeps of this weight beside it (row sums in kernel memory), to be
   * freed when the weight is disposed.
   * @param release frees it (called once)
   */
  keep(release: () => void): void {
    if (this.#disposed) release();
    else this.#kept.push(release);
  }

  /** Whether {@linkcode QuantizedWeight.dispose} was called. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /**
   * Frees the values now: kernel memory goes back to its allocator at once (instead of when the
   * weight is collected), with the device copies and what kernels kept beside it. The weight
   * holds no values after (its data is empty); models call it when they are disposed.
   */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.releaseDeviceCopies();
    for (const release of this.#kept.splice(0)) release();
    const data = this.#data;
    this.#data = data instanceof Int8Array ? new Int8Array(0) : new Uint16Array(0);
    kernelMemory()?.release(data);
  }
}

/**
 * Quantizes a row-major float32 matrix.
 *
 * int8: symmetric, per row, `scale = max |row| / 127`, `q = round(x / scale)` (a row of zeros
 * gets scale 0). float16: round to nearest even.
 * @param values rows * cols values, row-major
 * @param shape [rows, cols]
 * @param layout the layout to store
 * @param options where the values are allocated
 * @returns the quantized weight
 * @throws TypeError when `values` does not hold rows * cols values
 */
export function quantizeRows(
  values: Float32Array,
  shape: readonly [number, number],
  layout: QuantizedLayout,
  options: QuantizedStorageOptions = {},
): QuantizedWeight {
  const [rows, cols] = shape;
  if (values.length !== rows * cols) {
    throw new TypeError(
      `Cannot quantize a [${shape}] matrix: received ${values.length} values`,
    );
  }
  const weight = emptyQuantized(shape, layout, options);
  quantizeRowsInto(weight, values, 0);
  return weight;
}

/** Where a new quantized weight's values are allocated. */
export interface QuantizedStorageOptions {
  /**
   * The weight is a model's, read by the backend's kernels: its int8 values go where the wasm
   * kernel reads them in place when that kernel is in use (`kernel_memory.ts`). Default false
   * (a plain array: temporary values such as index blocks).
   */
  forKernels?: boolean;
}

/**
 * A quantized weight of `shape` whose values are all zero, to be filled a block of rows at a time
 * with {@linkcode quantizeRowsInto} (a large table quantized as it is read).
 * @param shape [rows, cols]
 * @param layout the layout
 * @param options where the values are allocated
 * @returns the weight
 */
export function emptyQuantized(
  shape: readonly [number, number],
  layout: QuantizedLayout,
  options: QuantizedStorageOptions = {},
): QuantizedWeight {
  const [rows, cols] = shape;
  if (layout === "float16") {
    return new QuantizedWeight(layout, shape, new Uint16Array(rows * cols), null);
  }
  const data = options.forKernels === true ? int8Storage(rows * cols) : new Int8Array(rows * cols);
  return new QuantizedWeight(layout, shape, data, new Float32Array(rows));
}

/**
 * Quantizes whole rows into `weight` (as {@linkcode quantizeRows} does), starting at row
 * `firstRow`.
 * @param weight the destination
 * @param values a whole number of rows, row-major
 * @param firstRow the row `values` starts at
 * @throws RangeError for a non-finite value in an int8 row, or rows past the end
 */
export function quantizeRowsInto(
  weight: QuantizedWeight,
  values: Float32Array,
  firstRow: number,
): void {
  const [rows, cols] = weight.shape;
  const count = cols === 0 ? 0 : values.length / cols;
  if (!Number.isInteger(count) || firstRow < 0 || firstRow + count > rows) {
    throw new RangeError(
      `Cannot quantize ${values.length} values from row ${firstRow} into a [${weight.shape}] ` +
        `matrix: they must be whole rows inside it`,
    );
  }
  const offset = firstRow * cols;
  if (weight.layout === "float16") {
    // The built-in Float16Array converts natively, rounding to nearest even as halfBits does
    // (a loop of halfBits took about 100 ms a 4 MB block here).
    const data = weight.data as Uint16Array;
    new Float16Array(data.buffer, data.byteOffset + offset * 2, values.length).set(values);
    return;
  }
  const data = weight.data as Int8Array, scales = weight.scales!;
  for (let r = 0; r < count; r++) {
    const scale = quantizeRowInt8(values, r * cols, cols, data, offset + r * cols);
    if (Number.isNaN(scale)) {
      throw new RangeError(
        `Cannot quantize row ${firstRow + r} to int8: it holds a non-finite value`,
      );
    }
    scales[firstRow + r] = scale;
  }
}

/**
 * One row of {@linkcode quantizeRowsInto}'s int8 case: `cols` values of `values` from `from`
 * into `data` from `at`. A function of its own, called once per row, so that the engine
 * optimizes it after a few rows: a loop over a whole block inside one call runs in the
 * interpreter until it is replaced on the stack, and every float there is a fresh heap object
 * (about 34 MB of garbage loading a BERT-base checkpoint as int8).
 * @returns the row's scale, or NaN when the row holds a non-finite value (nothing written)
 */
function quantizeRowInt8(
  values: Float32Array,
  from: number,
  cols: number,
  data: Int8Array,
  at: number,
): number {
  let max = 0;
  for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(values[from + c]!));
  if (!Number.isFinite(max)) return NaN;
  const scale = Math.fround(max / 127);
  if (scale === 0) return scale;
  const inv = 1 / scale;
  for (let c = 0; c < cols; c++) data[at + c] = Math.round(values[from + c]! * inv);
  return scale;
}

/**
 * Dequantizes rows `start..end` of `weight` into `out` (row-major, `(end - start) * cols`
 * values from `offset`): what kernels call for a block of rows in scratch.
 * @param weight the quantized matrix
 * @param start first row
 * @param end one past the last row
 * @param out destination
 * @param offset first element of `out` written
 */
export function dequantizeRows(
  weight: QuantizedWeight,
  start: number,
  end: number,
  out: Float32Array,
  offset = 0,
): void {
  const cols = weight.shape[1];
  if (weight.layout === "float16") {
    const table = float16Table();
    const data = weight.data as Uint16Array;
    const n = (end - start) * cols, from = start * cols;
    for (let i = 0; i < n; i++) out[offset + i] = table[data[from + i]!]!;
    return;
  }
  const data = weight.data as Int8Array, scales = weight.scales!;
  for (let r = start; r < end; r++) {
    const scale = scales[r]!, from = r * cols, to = offset + (r - start) * cols;
    for (let c = 0; c < cols; c++) out[to + c] = data[from + c]! * scale;
  }
}

/**
 * The whole matrix as float32 (`rows * cols` values, row-major): the one way to read a quantized
 * weight back as a plain matrix (saving float32, moving to another backend, tests).
 * @param weight the quantized matrix
 * @returns a fresh array
 */
export function dequantize(weight: QuantizedWeight): Float32Array {
  const [rows, cols] = weight.shape;
  const out = new Float32Array(rows * cols);
  dequantizeRows(weight, 0, rows, out);
  return out;
}
