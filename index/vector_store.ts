/**
 * The rows of a {@link DenseIndex} in one of three storage types, growing by appends:
 *
 * - `float32`: the vectors as given (4 bytes per value).
 * - `float16`: IEEE half precision, rounded to nearest even (2 bytes per value).
 * - `int8`: symmetric 8-bit integers with one float32 scale per row, `value = int8 * scale`,
 *   `scale = max |x| / 127` of that row (1 byte per value plus 4 per row). A scale per row, not per
 *   dimension, so that rows are quantized on their own: an index grows by `add` and merges by
 *   concatenation without ever quantizing a row twice or needing the whole collection first.
 *
 * Both conversions are the quantized weights' own (`quantizeRows`): one scheme in the package.
 *
 * Search is exact over the stored values: a block of rows is decoded to float32 (exactly: every
 * half and every `int8 * scale` is a float32) and multiplied with the queries.
 * @module
 */
import { quantizeRows } from "../backend/quantized/quantized_weight.ts";
import { float16Table } from "../backend/float16_bits.ts";

/** How index vectors are stored: as given, half precision, or 8-bit integers with row scales. */
export type VectorStorage = "float32" | "float16" | "int8";

/** The storage types, in the order the CLI lists them. */
export const VECTOR_STORAGES: readonly VectorStorage[] = ["float32", "float16", "int8"];

type Values = Float32Array | Uint16Array | Int8Array;

/** An appendable row-major matrix of `dim` columns in one storage type. */
export class VectorStore {
  /** The storage type. */
  readonly storage: VectorStorage;
  /** Values per row. */
  readonly dim: number;
  #values: Values;
  #scales: Float32Array;
  #rows = 0;

  /**
   * @param storage the storage type
   * @param dim values per row
   */
  constructor(storage: VectorStorage, dim: number) {
    if (!VECTOR_STORAGES.includes(storage)) {
      throw new RangeError(
        `Cannot build DenseIndex: storage must be one of ${VECTOR_STORAGES.join(", ")}: ` +
          `received ${JSON.stringify(storage)}`,
      );
    }
    this.storage = storage;
    this.dim = dim;
    this.#values = allocate(storage, dim * 16);
    this.#scales = new Float32Array(storage === "int8" ? 16 : 0);
  }

  /**
   * A store over values read from files (used in place, no copy).
   * @param storage the storage type of `values`
   * @param dim values per row
   * @param values `rows * dim` stored values
   * @param scales one scale per row for int8, else ignored
   * @returns the store
   */
  static fromValues(
    storage: VectorStorage,
    dim: number,
    values: Values,
    scales?: Float32Array,
  ): VectorStore {
    const store = new VectorStore(storage, dim);
    const rows = values.length / dim;
    if (values.length > 0) store.#values = values;
    if (storage === "int8" && rows > 0) store.#scales = scales!;
    store.#rows = rows;
    return store;
  }

  /** Number of rows. */
  get rows(): number {
    return this.#rows;
  }

  /** The stored values of all rows, row-major (a view; do not modify). */
  get values(): Values {
    return this.#values.subarray(0, this.#rows * this.dim);
  }

  /** The int8 row scales (a view), or null for the other storage types. */
  get scales(): Float32Array | null {
    return this.storage === "int8" ? this.#scales.subarray(0, this.#rows) : null;
  }

  /** Bytes the stored rows take (values and scales), not counting spare capacity. */
  get byteLength(): number {
    return this.values.byteLength + (this.scales?.byteLength ?? 0);
  }

  /**
   * Appends rows, converting them to the storage type.
   * @param rows `n * dim` float32 values, row-major
   */
  append(rows: Float32Array): void {
    const n = rows.length / this.dim;
    this.#reserve(this.#rows + n);
    const base = this.#rows * this.dim;
    if (this.storage === "float32") {
      (this.#values as Float32Array).set(rows, base);
    } else {
      const q = quantizeRows(rows, [n, this.dim], this.storage);
      (this.#values as Int8Array | Uint16Array).set(q.data as never, base);
      if (q.scales !== null) this.#scales.set(q.scales, this.#rows);
    }
    this.#rows += n;
  }

  /**
   * Replaces row `row` (converted to the storage type).
   * @param row an existing row
   * @param values `dim` float32 values
   */
  setRow(row: number, values: Float32Array): void {
    const store = new VectorStore(this.storage, this.dim);
    store.append(values);
    this.#values.set(store.values as never, row * this.dim);
    if (this.storage === "int8") this.#scales[row] = store.scales![0]!;
  }

  #reserve(rows: number): void {
    const capacity = this.#values.length / this.dim;
    if (rows <= capacity) return;
    // Double for appends, but never allocate more than one doubling past what is needed.
    const next = Math.max(rows, Math.min(2 * capacity, 2 * rows));
    const values = allocate(this.storage, next * this.dim);
    values.set(this.values as never);
    this.#values = values;
    if (this.storage === "int8") {
      const scales = new Float32Array(next);
      scales.set(this.#scales.subarray(0, this.#rows));
      this.#scales = scales;
    }
  }

  /**
   * Rows `start .. start + count` as float32: a view for float32 storage, else decoded into a new
   * array (exact: the stored values are all float32 numbers).
   * @param start first row
   * @param count number of rows
   * @returns `count * dim` values, row-major
   */
  decode(start: number, count: number): Float32Array {
    const { values, scales } = this.block(start, count, new Float32Array(count * this.dim));
    if (scales !== null) {
      for (let r = 0; r < count; r++) {
        const scale = scales[r]!, base = r * this.dim;
        for (let j = 0; j < this.dim; j++) values[base + j] = values[base + j]! * scale;
      }
    }
    return values;
  }

  /**
   * Rows `start .. start + count` for a search: float32 values (a view for float32 storage, else
   * written into `scratch`) and, for int8, the rows' scales, which the caller applies to each
   * row's products (so the block holds the integers themselves: one conversion, no multiply).
   * @param start first row
   * @param count number of rows
   * @param scratch room for `count * dim` values, used for float16 and int8
   * @returns the values and the scales (null unless int8)
   */
  block(
    start: number,
    count: number,
    scratch: Float32Array,
  ): { values: Float32Array; scales: Float32Array | null } {
    const from = start * this.dim, to = (start + count) * this.dim;
    if (this.storage === "float32") {
      return { values: (this.#values as Float32Array).subarray(from, to), scales: null };
    }
    const out = scratch.subarray(0, to - from);
    // Table lookups: the fastest conversions in JavaScript (about 3x a half's bit arithmetic,
    // 2x an int8 read converted as a number).
    if (this.storage === "float16") {
      const table = float16Table(), words = this.#values as Uint16Array;
      for (let i = 0; i < out.length; i++) out[i] = table[words[from + i]!]!;
      return { values: out, scales: null };
    }
    const q = this.#values as Int8Array;
    const bytes = new Uint8Array(q.buffer, q.byteOffset + from, to - from);
    for (let i = 0; i < out.length; i++) out[i] = INT8_OF_BYTE[bytes[i]!]!;
    return { values: out, scales: this.#scales.subarray(start, start + count) };
  }
}

/** The int8 value of each byte, as float32. */
const INT8_OF_BYTE = Float32Array.from({ length: 256 }, (_, b) => (b < 128 ? b : b - 256));

function allocate(storage: VectorStorage, length: number): Values {
  if (storage === "float32") return new Float32Array(length);
  if (storage === "float16") return new Uint16Array(length);
  return new Int8Array(length);
}
