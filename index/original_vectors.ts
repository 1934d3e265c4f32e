/**
 * The float32 originals of a quantized (float16 or int8) {@link DenseIndex}, kept to re-rank the
 * candidates a search finds in the quantized vectors (`rescore.ts`).
 *
 * While an index is built they are held in memory; saved, they are `originals.npy`, a C-order
 * `(n, d)` `'<f4'` matrix beside the quantized `vectors.npy`. A loaded index keeps only an open
 * reader on that file and reads the rows a search asks for, by position (sorted, adjacent rows
 * in one read, through a buffer of bounded size): the file is never read whole nor mapped. Rows
 * added after loading, and rows replaced by `upsert`, live in memory until the index is saved.
 * @module
 */
import { type ByteReader, LITTLE_ENDIAN_HOST } from "../io/byte_reader.ts";
import type { FileSource } from "../io/file_source.ts";
import { parseNpyHeader } from "./npy.ts";
import type { VectorStorage } from "./vector_store.ts";

/** Bytes read at most in one positioned read (and held by one search's buffer). */
const READ_BYTES = 1 << 20;

/**
 * Rows apart that one read still joins: reading up to this many rows between two wanted ones
 * costs less than a second read.
 */
const JOIN_GAP_ROWS = 1;

/** The float32 rows of an index, in memory or in an `.npy` file read by positions. */
export class OriginalVectors {
  /** Values per row. */
  readonly dim: number;
  /** Where the file rows come from (null: all rows are in memory). */
  readonly #file: { reader: ByteReader; dataOffset: number; rows: number } | null;
  /** Rows after the file's, row-major, growing by appends. */
  #tail: Float32Array;
  #tailRows = 0;
  /** File rows replaced since loading. */
  #replaced = new Map<number, Float32Array>();
  /** Reads on the shared file handle go one after another (a read is a seek and a read). */
  #reading: Promise<unknown> = Promise.resolve();

  private constructor(
    dim: number,
    file: { reader: ByteReader; dataOffset: number; rows: number } | null,
  ) {
    this.dim = dim;
    this.#file = file;
    this.#tail = new Float32Array(dim * 16);
  }

  /**
   * Originals held in memory (an index being built).
   * @param dim values per row
   * @param storage the index's storage type: float16 or int8 (float32 vectors are the originals)
   * @returns an empty store
   */
  static inMemory(dim: number, storage: VectorStorage): OriginalVectors {
    if (storage === "float32") {
      throw new RangeError(
        "Cannot build DenseIndex: keepOriginals is for float16 or int8 storage (float32 vectors " +
          "are the originals)",
      );
    }
    return new OriginalVectors(dim, null);
  }

  /**
   * Opens the originals file of an index folder, checking its header and size against the
   * index's row count and dimension; reads nothing else.
   * @param source the index folder
   * @param name the file's name in it
   * @param count rows `index.json` gives
   * @param dim dimension `index.json` gives
   * @returns the originals (close them)
   */
  static async open(
    source: FileSource,
    name: string,
    count: number,
    dim: number,
  ): Promise<OriginalVectors> {
    const where = source.description;
    if (source.openReader === undefined) {
      throw new TypeError(
        `Cannot load DenseIndex from ${where}: its float32 originals (${name}) are read by ` +
          `positions, which this file source cannot do (it has no openReader)`,
      );
    }
    const reader = await source.openReader(name);
    if (reader === null) {
      throw new Deno.errors.NotFound(
        `Cannot load DenseIndex from ${where}: ${name} (the float32 originals index.json names) ` +
          `is missing`,
      );
    }
    try {
      const path = `${where}/${name}`;
      if (reader.size < 10) {
        throw new RangeError(
          `Cannot load DenseIndex from ${where}: ${name} has ${reader.size} bytes, too few for ` +
            `an .npy header (truncated)`,
        );
      }
      const start = await reader.read(0, 10);
      const headerLength = new DataView(start.buffer, start.byteOffset, 10).getUint16(8, true);
      const head = await reader.read(0, Math.min(reader.size, 10 + headerLength));
      const header = parseNpyHeader(head, path, reader.size, ["<f4"]);
      if (header.rows !== count || header.cols !== dim) {
        throw new RangeError(
          `Cannot load DenseIndex from ${where}: ${name} (the float32 originals) has shape ` +
            `(${header.rows}, ${header.cols}) but index.json says (${count}, ${dim})`,
        );
      }
      return new OriginalVectors(dim, { reader, dataOffset: header.dataOffset, rows: count });
    } catch (error) {
      reader.close();
      throw error;
    }
  }

  /** Number of rows. */
  get rows(): number {
    return (this.#file?.rows ?? 0) + this.#tailRows;
  }

  /** Bytes held in memory (rows added or replaced since loading; all rows while building). */
  get memoryBytes(): number {
    return 4 * this.dim * (this.#tailRows + this.#replaced.size);
  }

  /** Whether the rows the index was loaded with are read from a file. */
  get onDisk(): boolean {
    return this.#file !== null;
  }

  /**
   * Appends rows.
   * @param rows `n * dim` values, row-major
   */
  append(rows: Float32Array): void {
    const needed = (this.#tailRows * this.dim) + rows.length;
    if (needed > this.#tail.length) {
      const grown = new Float32Array(Math.max(needed, Math.min(2 * this.#tail.length, 2 * needed)));
      grown.set(this.#tail.subarray(0, this.#tailRows * this.dim));
      this.#tail = grown;
    }
    this.#tail.set(rows, this.#tailRows * this.dim);
    this.#tailRows += rows.length / this.dim;
  }

  /**
   * Replaces row `row`.
   * @param row an existing row
   * @param values `dim` values
   */
  setRow(row: number, values: Float32Array): void {
    const fileRows = this.#file?.rows ?? 0;
    if (row < fileRows) this.#replaced.set(row, values.slice());
    else this.#tail.set(values, (row - fileRows) * this.dim);
  }

  /**
   * Calls `visit` with each of `rows` in turn, read from memory or from the file.
   * @param rows distinct rows in increasing order
   * @param visit gets the position in `rows` and the row's values (a view valid during the call)
   */
  forEachRow(rows: Int32Array, visit: (at: number, values: Float32Array) => void): Promise<void> {
    const run = this.#reading.then(() => this.#forEachRow(rows, visit));
    this.#reading = run.catch(() => {});
    return run;
  }

  async #forEachRow(
    rows: Int32Array,
    visit: (at: number, values: Float32Array) => void,
  ): Promise<void> {
    const dim = this.dim, rowBytes = 4 * dim, file = this.#file;
    const fileRows = file?.rows ?? 0;
    const perRead = Math.max(1, Math.floor(READ_BYTES / rowBytes));
    let buffer: Uint8Array | null = null;
    let at = 0;
    while (at < rows.length) {
      const row = rows[at]!;
      const replaced = this.#replaced.get(row);
      if (row >= fileRows || replaced !== undefined) {
        visit(
          at++,
          replaced ?? this.#tail.subarray((row - fileRows) * dim, (row - fileRows + 1) * dim),
        );
        continue;
      }
      // One read from `row` over the next wanted file rows that lie close enough.
      let end = at + 1;
      while (
        end < rows.length && rows[end]! < fileRows &&
        rows[end]! - rows[end - 1]! <= JOIN_GAP_ROWS + 1 &&
        rows[end]! - row < perRead
      ) end++;
      const span = rows[end - 1]! - row + 1;
      buffer ??= new Uint8Array(perRead * rowBytes);
      const bytes = buffer.subarray(0, span * rowBytes);
      await readRows(file!, row, rowBytes, bytes);
      const values = floatsOf(bytes);
      for (; at < end; at++) {
        const r = rows[at]!, own = this.#replaced.get(r);
        visit(at, own ?? values.subarray((r - row) * dim, (r - row + 1) * dim));
      }
    }
  }

  /**
   * All rows in order, a block at a time (for saving).
   * @returns blocks of whole rows (views valid until the next block)
   */
  async *blocks(): AsyncGenerator<Float32Array> {
    const dim = this.dim, file = this.#file;
    if (file !== null) {
      const perRead = Math.max(1, Math.floor(READ_BYTES / (4 * dim)));
      const buffer = new Uint8Array(perRead * 4 * dim);
      for (let start = 0; start < file.rows; start += perRead) {
        const count = Math.min(perRead, file.rows - start);
        const bytes = buffer.subarray(0, count * 4 * dim);
        const read = this.#reading.then(() => readRows(file, start, 4 * dim, bytes));
        this.#reading = read.catch(() => {});
        await read;
        const values = floatsOf(bytes);
        for (let r = start; r < start + count; r++) {
          const own = this.#replaced.get(r);
          if (own !== undefined) values.set(own, (r - start) * dim);
        }
        yield values;
      }
    }
    if (this.#tailRows > 0) yield this.#tail.subarray(0, this.#tailRows * dim);
  }

  /** Closes the file (nothing to do in memory). */
  close(): void {
    this.#file?.reader.close();
  }
}

/** Reads rows `first ..` of the file into `bytes` (whole rows of `rowBytes`). */
async function readRows(
  file: { reader: ByteReader; dataOffset: number },
  first: number,
  rowBytes: number,
  bytes: Uint8Array,
): Promise<void> {
  const offset = file.dataOffset + first * rowBytes;
  // A local file: synchronous reads (a few microseconds for a row in the page cache; an awaited
  // read costs ten times that).
  if (file.reader.readIntoSync !== undefined) file.reader.readIntoSync(offset, bytes);
  else if (file.reader.readInto !== undefined) await file.reader.readInto(offset, bytes);
  else bytes.set(await file.reader.read(offset, bytes.length));
}

/** The float32 values of little-endian bytes (a view on little-endian hosts). */
function floatsOf(bytes: Uint8Array): Float32Array {
  if (LITTLE_ENDIAN_HOST) {
    return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from(
    { length: bytes.byteLength / 4 },
    (_, i) => view.getFloat32(4 * i, true),
  );
}
