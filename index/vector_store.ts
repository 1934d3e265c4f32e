/**
 * The rows of a {@link DenseIndex} in one of three storage types, growing by appends:
 *
 * - `float32`: the vectors as given (4 bytes per value).
 * - `float16`: IEEE half precision, rounded to nearest even (2 bytes per value).
 * - `int8`: one byte per value, a code into 256 levels, with a float32 scale per row and a
 *   float32 offset and spread per dimension (`int8_codebook.ts`: 1 byte per value plus 4 per row).
 *   Indexes written before (layout version 1) hold `int8 * scale` with `scale = max |x| / 127` of
 *   the row, the quantized weights' own scheme (`quantizeRows`); they load, search and grow as
 *   they were written (`legacyInt8`).
 *
 * float16 is the quantized weights' conversion (`quantizeRows`): one scheme in the package.
 *
 * Search is exact over the stored values: a block of rows is decoded to float32 levels and
 * multiplied with the queries (for int8, the queries times the spreads; the row scales and the
 * offsets' share of each score are applied to the products).
 * @module
 */
import { quantizeRows } from "../backend/quantized/quantized_weight.ts";
import { float16Table } from "../backend/float16_bits.ts";
import type { LevelDecoder } from "./level_decoder.ts";
import {
  encodeRows,
  fitDimensions,
  gaussianCodebook,
  type Int8Parameters,
} from "./int8_codebook.ts";

export type { Int8Parameters };

/** How index vectors are stored: as given, half precision, or 8-bit integers with row scales. */
export type VectorStorage = "float32" | "float16" | "int8";

/** The storage types, in the order the CLI lists them. */
export const VECTOR_STORAGES: readonly VectorStorage[] = ["float32", "float16", "int8"];

type Values = Float32Array | Uint16Array | Uint8Array | Int8Array;

/** Options of a {@link VectorStore}. */
export interface VectorStoreOptions {
  /** int8 only: the version 1 layout (`int8 * scale`, `scale = max |x| / 127`). */
  legacyInt8?: boolean;
}

/** An appendable row-major matrix of `dim` columns in one storage type. */
export class VectorStore {
  /** The storage type. */
  readonly storage: VectorStorage;
  /** Values per row. */
  readonly dim: number;
  /** int8 only: the version 1 layout (`int8 * scale`), as indexes written before hold it. */
  readonly legacyInt8: boolean;
  #values: Values;
  #scales: Float32Array;
  #int8: Int8Parameters | null = null;
  #rows = 0;

  /**
   * @param storage the storage type
   * @param dim values per row
   * @param options the int8 layout
   */
  constructor(storage: VectorStorage, dim: number, options: VectorStoreOptions = {}) {
    if (!VECTOR_STORAGES.includes(storage)) {
      throw new RangeError(
        `Cannot build DenseIndex: storage must be one of ${VECTOR_STORAGES.join(", ")}: ` +
          `received ${JSON.stringify(storage)}`,
      );
    }
    this.storage = storage;
    this.dim = dim;
    this.legacyInt8 = storage === "int8" && options.legacyInt8 === true;
    this.#values = allocate(storage, dim * 16, this.legacyInt8);
    this.#scales = new Float32Array(storage === "int8" ? 16 : 0);
  }

  /**
   * A store over values read from files (used in place, no copy).
   * @param storage the storage type of `values`
   * @param dim values per row
   * @param values `rows * dim` stored values (int8: signed values for the version 1 layout, else
   *   codes)
   * @param int8 for int8: one scale per row and the codebook parameters (null: version 1 layout)
   * @returns the store
   */
  static fromValues(
    storage: VectorStorage,
    dim: number,
    values: Values,
    int8?: { scales: Float32Array; parameters: Int8Parameters | null },
  ): VectorStore {
    const legacyInt8 = storage === "int8" && int8?.parameters === null;
    const store = new VectorStore(storage, dim, { legacyInt8 });
    const rows = values.length / dim;
    if (values.length > 0) store.#values = values;
    if (storage === "int8") {
      if (rows > 0) store.#scales = int8!.scales;
      store.#int8 = int8?.parameters ?? null;
    }
    store.#rows = rows;
    return store;
  }

  /** Number of rows. */
  get rows(): number {
    return this.#rows;
  }

  /** The stored values of all rows, row-major (a view; do not modify): int8 codes as bytes. */
  get values(): Values {
    return this.#values.subarray(0, this.#rows * this.dim);
  }

  /** The int8 row scales (a view), or null for the other storage types. */
  get scales(): Float32Array | null {
    return this.storage === "int8" ? this.#scales.subarray(0, this.#rows) : null;
  }

  /**
   * The codebook, offsets and spreads of int8 storage (fixed by the first rows added; an empty
   * store gets the codebook with offsets 0 and spreads 1), or null for the version 1 layout and
   * the other storage types.
   */
  get int8Parameters(): Int8Parameters | null {
    if (this.storage !== "int8" || this.legacyInt8) return null;
    return this.#int8 ??= fitParameters(new Float32Array(0), this.dim);
  }

  /** Bytes the stored rows take (values, scales, and int8's codebook, offsets and spreads). */
  get byteLength(): number {
    const p = this.storage === "int8" && !this.legacyInt8 ? this.int8Parameters! : null;
    const shared = p === null
      ? 0
      : p.codebook.byteLength + p.offset.byteLength + p.spread.byteLength;
    return this.values.byteLength + (this.scales?.byteLength ?? 0) + shared;
  }

  /**
   * Appends rows, converting them to the storage type.
   * @param rows `n * dim` float32 values, row-major
   */
  append(rows: Float32Array): void {
    const n = rows.length / this.dim;
    this.#reserve(this.#rows + n);
    this.#write(this.#rows, rows);
    this.#rows += n;
  }

  /**
   * Replaces row `row` (converted to the storage type).
   * @param row an existing row
   * @param values `dim` float32 values
   */
  setRow(row: number, values: Float32Array): void {
    this.#write(row, values);
  }

  /** Converts whole rows into rows `first..` (which must have room). */
  #write(first: number, rows: Float32Array): void {
    const n = rows.length / this.dim, base = first * this.dim;
    if (this.storage === "float32") {
      (this.#values as Float32Array).set(rows, base);
    } else if (this.storage === "float16" || this.legacyInt8) {
      if (this.storage === "float16") checkHalfRange(rows, this.dim);
      const q = quantizeRows(rows, [n, this.dim], this.storage);
      (this.#values as Int8Array | Uint16Array).set(q.data as never, base);
      if (q.scales !== null) this.#scales.set(q.scales, first);
    } else {
      // The first rows of an index fix its offsets and spreads.
      this.#int8 ??= fitParameters(rows, this.dim);
      const codes = this.#values as Uint8Array;
      encodeRows(
        rows,
        this.dim,
        this.#int8,
        codes.subarray(base, base + rows.length),
        this.#scales.subarray(first, first + n),
      );
    }
  }

  #reserve(rows: number): void {
    const capacity = this.#values.length / this.dim;
    if (rows <= capacity) return;
    // Double for appends, but never allocate more than one doubling past what is needed.
    const next = Math.max(rows, Math.min(2 * capacity, 2 * rows));
    const values = allocate(this.storage, next * this.dim, this.legacyInt8);
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
   * array (exact: every step is a float32 operation, in the order the module doc gives, as numpy
   * does it).
   * @param start first row
   * @param count number of rows
   * @returns `count * dim` values, row-major
   */
  decode(start: number, count: number): Float32Array {
    const { values, scales } = this.block(start, count, new Float32Array(count * this.dim));
    if (scales === null) return values;
    const dim = this.dim, p = this.int8Parameters, f = Math.fround;
    for (let r = 0; r < count; r++) {
      const scale = scales[r]!, base = r * dim;
      if (p === null) {
        for (let j = 0; j < dim; j++) values[base + j] = values[base + j]! * scale;
      } else {
        const { offset, spread } = p;
        for (let j = 0; j < dim; j++) {
          values[base + j] = offset[j]! + f(spread[j]! * f(scale * values[base + j]!));
        }
      }
    }
    return values;
  }

  /**
   * The queries as a search multiplies them with {@link block}'s values, and the term to add to
   * each query's scores (null: none): for codebook int8, the queries times the spreads and each
   * query's product with the offsets; else the queries themselves.
   * @param queries `nq * dim` float32 values, row-major
   * @returns the queries to multiply and the per-query terms
   */
  queryTerms(queries: Float32Array): { queries: Float32Array; shifts: Float32Array | null } {
    const p = this.int8Parameters;
    if (p === null) return { queries, shifts: null };
    const dim = this.dim, nq = queries.length / dim;
    const scaled = new Float32Array(queries.length), shifts = new Float32Array(nq);
    for (let i = 0; i < nq; i++) {
      let shift = 0;
      for (let j = 0; j < dim; j++) {
        const q = queries[i * dim + j]!;
        scaled[i * dim + j] = q * p.spread[j]!;
        shift += q * p.offset[j]!;
      }
      shifts[i] = shift;
    }
    return { queries: scaled, shifts };
  }

  /**
   * Rows `start .. start + count` for a search: float32 values (a view for float32 storage, else
   * decoded by `decoder`, or without one written into `scratch`) and, for int8, the rows' scales,
   * which the caller applies to each row's products (so the block holds the levels themselves:
   * one lookup per value, no multiply).
   * @param start first row
   * @param count number of rows
   * @param scratch room for `count * dim` values, used for float16 and int8 without a decoder
   * @param decoder a WebAssembly decoder (its view is valid until its next use)
   * @returns the values and the scales (null unless int8)
   */
  block(
    start: number,
    count: number,
    scratch: Float32Array,
    decoder: LevelDecoder | null = null,
  ): { values: Float32Array; scales: Float32Array | null } {
    const from = start * this.dim, to = (start + count) * this.dim;
    if (this.storage === "float32") {
      return { values: (this.#values as Float32Array).subarray(from, to), scales: null };
    }
    const { codes, table, scales } = this.#coded(start, count);
    if (decoder !== null) return { values: decoder.decode(codes, table), scales };
    // Table lookups: the fastest conversions in JavaScript (about 3x a half's bit arithmetic,
    // 2x an int8 read converted as a number).
    const out = scratch.subarray(0, to - from);
    for (let i = 0; i < out.length; i++) out[i] = table[codes[i]!]!;
    return { values: out, scales };
  }

  /**
   * For one query: each row's product with it (int8: before its scale), straight from the stored
   * codes by `decoder`; null where that does not apply (float32 storage, no decoder, or `dim` not a
   * multiple of 8): then {@link block}.
   * @param start first row
   * @param count number of rows
   * @param query `dim` float32 values (as {@link queryTerms} gives them)
   * @param decoder a WebAssembly decoder (its view is valid until its next use)
   * @returns the products and the scales (null unless int8), or null
   */
  products(
    start: number,
    count: number,
    query: Float32Array,
    decoder: LevelDecoder | null,
  ): { scores: Float32Array; scales: Float32Array | null } | null {
    if (decoder === null || this.storage === "float32" || this.dim % 8 !== 0) return null;
    const { codes, table, scales } = this.#coded(start, count);
    return { scores: decoder.dot(codes, table, query), scales };
  }

  /** Rows `start .. start + count` of float16 or int8 storage: codes, levels, int8 scales. */
  #coded(start: number, count: number): {
    codes: Uint8Array | Uint16Array;
    table: Float32Array;
    scales: Float32Array | null;
  } {
    const from = start * this.dim, to = (start + count) * this.dim;
    const table = this.storage === "float16"
      ? float16Table()
      : this.legacyInt8
      ? INT8_OF_BYTE
      : this.int8Parameters!.codebook;
    const stored = this.#values;
    const codes = this.storage === "float16"
      ? (stored as Uint16Array).subarray(from, to)
      : new Uint8Array(stored.buffer, stored.byteOffset + from, to - from);
    const scales = this.storage === "int8" ? this.#scales.subarray(start, start + count) : null;
    return { codes, table, scales };
  }
}

/** The int8 value of each byte, as float32 (the version 1 layout's levels). */
const INT8_OF_BYTE = Float32Array.from({ length: 256 }, (_, b) => (b < 128 ? b : b - 256));

/** float16's largest value: anything from 65520 up rounds to infinity. */
const HALF_MAX = 65504;

/**
 * Throws a RangeError naming the first row with a value float16 cannot hold (it would be stored
 * as infinity).
 * @param rows `n * dim` float32 values, row-major
 * @param dim values per row
 */
export function checkHalfRange(rows: Float32Array, dim: number): void {
  const bad = rows.findIndex((x) => Math.abs(x) >= HALF_MAX + 16);
  if (bad >= 0) {
    throw new RangeError(
      `Cannot store vector ${Math.floor(bad / dim)} as float16: it holds ${rows[bad]}, beyond ` +
        `float16's largest value ${HALF_MAX}`,
    );
  }
}

function fitParameters(rows: Float32Array, dim: number): Int8Parameters {
  return { codebook: gaussianCodebook(), ...fitDimensions(rows, dim) };
}

function allocate(storage: VectorStorage, length: number, legacyInt8: boolean): Values {
  if (storage === "float32") return new Float32Array(length);
  if (storage === "float16") return new Uint16Array(length);
  return legacyInt8 ? new Int8Array(length) : new Uint8Array(length);
}
