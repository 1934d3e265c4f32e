/**
 * The float32 originals of a quantized (float16 or int8) {@link DenseIndex}, kept to re-rank the
 * candidates a search finds in the quantized vectors (`rescore.ts`).
 *
 * Saved, they are `originals.npy`, a C-order `(n, d)` `'<f4'` matrix beside the quantized
 * `vectors.npy`. A loaded index keeps only an open reader on that file and reads the rows a search
 * asks for, by position (sorted, nearby rows in one read, through a buffer of bounded size): the
 * file is never read whole nor mapped. Rows are numbered across segments, in order: files (the
 * loaded one, or the float32 `vectors.npy` of folders merged in, opened when read) and rows added
 * in memory (an index being built, or rows added after loading). Rows replaced by `upsert` live in
 * memory until the index is saved.
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

/** A float32 `.npy` file of rows. */
export interface OriginalsFile {
  /** The folder. */
  readonly source: FileSource;
  /** The file's name in it. */
  readonly name: string;
  /** Where the rows begin. */
  readonly dataOffset: number;
  /** Its rows. */
  readonly rows: number;
}

/** Rows `first .. first + rows` of the whole: in a file, or in memory. */
interface Segment {
  first: number;
  rows: number;
  /** The file (null: in memory). */
  file: OriginalsFile | null;
  /** The file's open reader: held from `open` until `close`, else opened while reading. */
  reader: ByteReader | null;
  /** In memory: room for at least `rows` rows. */
  values: Float32Array;
}

/** The float32 rows of an index, in memory or in `.npy` files read by positions. */
export class OriginalVectors {
  /** Values per row. */
  readonly dim: number;
  #segments: Segment[] = [];
  /** File rows replaced since loading. */
  #replaced = new Map<number, Float32Array>();
  /** Reads on a shared file handle go one after another (a read is a seek and a read). */
  #reading: Promise<unknown> = Promise.resolve();

  private constructor(dim: number) {
    this.dim = dim;
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
    return new OriginalVectors(dim);
  }

  /**
   * Opens the originals file of an index folder, checking its header and size against the
   * index's row count and dimension; reads nothing else, and holds the file open until `close`.
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
    const { file, reader } = await openRows(source, name, count, dim);
    const originals = new OriginalVectors(dim);
    originals.#segments.push({ first: 0, rows: count, file, reader, values: EMPTY });
    return originals;
  }

  /**
   * Checks a float32 `.npy` file of `rows` rows of `dim` values, for {@link appendFile}.
   * @param source the folder
   * @param name the file's name in it
   * @param rows the rows it must hold
   * @param dim the values per row
   * @returns the file
   */
  static async checkFile(
    source: FileSource,
    name: string,
    rows: number,
    dim: number,
  ): Promise<OriginalsFile> {
    const { file, reader } = await openRows(source, name, rows, dim);
    reader.close();
    return file;
  }

  /** Number of rows. */
  get rows(): number {
    const last = this.#segments.at(-1);
    return last === undefined ? 0 : last.first + last.rows;
  }

  /** Bytes of rows held in memory (rows added or replaced; all rows while building). */
  get memoryBytes(): number {
    const inMemory = this.#segments.reduce((sum, s) => sum + (s.file === null ? s.rows : 0), 0);
    return 4 * this.dim * (inMemory + this.#replaced.size);
  }

  /** Whether some rows are read from files. */
  get onDisk(): boolean {
    return this.#segments.some((s) => s.file !== null);
  }

  /**
   * Appends rows, in memory.
   * @param rows `n * dim` values, row-major
   */
  append(rows: Float32Array): void {
    let last = this.#segments.at(-1);
    if (last === undefined || last.file !== null) {
      last = { first: this.rows, rows: 0, file: null, reader: null, values: EMPTY };
      this.#segments.push(last);
    }
    const needed = last.rows * this.dim + rows.length;
    if (needed > last.values.length) {
      const room = Math.max(needed, Math.min(2 * last.values.length, 2 * needed), 16 * this.dim);
      const grown = new Float32Array(room);
      grown.set(last.values.subarray(0, last.rows * this.dim));
      last.values = grown;
    }
    last.values.set(rows, last.rows * this.dim);
    last.rows += rows.length / this.dim;
  }

  /**
   * Appends the rows of a file checked by {@link checkFile}; they are read from it when asked
   * for (the file must stay as it is).
   * @param file the file
   */
  appendFile(file: OriginalsFile): void {
    this.#segments.push({ first: this.rows, rows: file.rows, file, reader: null, values: EMPTY });
  }

  /**
   * Replaces row `row`.
   * @param row an existing row
   * @param values `dim` values
   */
  setRow(row: number, values: Float32Array): void {
    const segment = this.#segments.find((s) => row >= s.first && row < s.first + s.rows)!;
    if (segment.file !== null) this.#replaced.set(row, values.slice());
    else segment.values.set(values, (row - segment.first) * this.dim);
  }

  /**
   * Calls `visit` with each of `rows` in turn, read from memory or from the files.
   * @param rows distinct rows in increasing order
   * @param visit gets the position in `rows` and the row's values (a view valid during the call)
   */
  forEachRow(rows: Int32Array, visit: (at: number, values: Float32Array) => void): Promise<void> {
    return this.#exclusive(() => this.#forEachRow(rows, visit));
  }

  async #forEachRow(
    rows: Int32Array,
    visit: (at: number, values: Float32Array) => void,
  ): Promise<void> {
    const dim = this.dim, rowBytes = 4 * dim;
    const perRead = Math.max(1, Math.floor(READ_BYTES / rowBytes));
    let buffer: Uint8Array | null = null;
    let at = 0, s = 0;
    const opened: Segment[] = [];
    try {
      while (at < rows.length) {
        const row = rows[at]!;
        while (row >= this.#segments[s]!.first + this.#segments[s]!.rows) s++;
        const segment = this.#segments[s]!, end = segment.first + segment.rows;
        const local = row - segment.first;
        const replaced = this.#replaced.get(row);
        if (segment.file === null || replaced !== undefined) {
          visit(at++, replaced ?? segment.values.subarray(local * dim, (local + 1) * dim));
          continue;
        }
        // One read from `row` over the next wanted rows of this file that lie close enough.
        let last = at + 1;
        while (
          last < rows.length && rows[last]! < end && rows[last]! - row < perRead &&
          rows[last]! - rows[last - 1]! <= JOIN_GAP_ROWS + 1
        ) last++;
        const span = rows[last - 1]! - row + 1;
        buffer ??= new Uint8Array(perRead * rowBytes);
        const bytes = buffer.subarray(0, span * rowBytes);
        if (segment.reader === null) {
          segment.reader =
            (await openRows(segment.file.source, segment.file.name, segment.rows, dim)).reader;
          opened.push(segment);
        }
        await readRows(segment.reader, segment.file.dataOffset + local * rowBytes, bytes);
        const values = floatsOf(bytes);
        for (; at < last; at++) {
          const r = rows[at]!, own = this.#replaced.get(r);
          visit(at, own ?? values.subarray((r - row) * dim, (r - row + 1) * dim));
        }
      }
    } finally {
      for (const segment of opened) {
        segment.reader?.close();
        segment.reader = null;
      }
    }
  }

  /**
   * All rows in order, a block at a time (for saving).
   * @returns blocks of whole rows (views valid until the next block)
   */
  async *blocks(): AsyncGenerator<Float32Array> {
    const dim = this.dim, rowBytes = 4 * dim;
    const perRead = Math.max(1, Math.floor(READ_BYTES / rowBytes));
    let buffer: Uint8Array | null = null;
    for (const segment of this.#segments) {
      const file = segment.file;
      if (file === null) {
        if (segment.rows > 0) yield segment.values.subarray(0, segment.rows * dim);
        continue;
      }
      buffer ??= new Uint8Array(perRead * rowBytes);
      for (let start = 0; start < segment.rows; start += perRead) {
        const count = Math.min(perRead, segment.rows - start);
        const bytes = buffer.subarray(0, count * rowBytes);
        await this.#exclusive(async () => {
          const held = segment.reader;
          const reader = held ?? (await openRows(file.source, file.name, file.rows, dim)).reader;
          try {
            await readRows(reader, file.dataOffset + start * rowBytes, bytes);
          } finally {
            if (held === null) reader.close();
          }
        });
        const values = floatsOf(bytes);
        for (let r = 0; r < count; r++) {
          const own = this.#replaced.get(segment.first + start + r);
          if (own !== undefined) values.set(own, r * dim);
        }
        yield values;
      }
    }
  }

  /** Closes the file held open since loading (nothing to do in memory). */
  close(): void {
    for (const segment of this.#segments) {
      segment.reader?.close();
      segment.reader = null;
    }
  }

  /** Runs `work` after every read started before it. */
  #exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#reading.then(work);
    this.#reading = run.catch(() => {});
    return run;
  }
}

const EMPTY = new Float32Array(0);

/** Opens a float32 `.npy` file of `rows` rows of `dim` values, checking its header and size. */
async function openRows(
  source: FileSource,
  name: string,
  rows: number,
  dim: number,
): Promise<{ file: OriginalsFile; reader: ByteReader }> {
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
      `Cannot load DenseIndex from ${where}: ${name} (the float32 originals) is missing`,
    );
  }
  try {
    if (reader.size < 10) {
      throw new RangeError(
        `Cannot load DenseIndex from ${where}: ${name} has ${reader.size} bytes, too few for ` +
          `an .npy header (truncated)`,
      );
    }
    const start = await reader.read(0, 10);
    const headerLength = new DataView(start.buffer, start.byteOffset, 10).getUint16(8, true);
    const head = await reader.read(0, Math.min(reader.size, 10 + headerLength));
    const header = parseNpyHeader(head, `${where}/${name}`, reader.size, ["<f4"]);
    if (header.rows !== rows || header.cols !== dim) {
      throw new RangeError(
        `Cannot load DenseIndex from ${where}: ${name} (the float32 originals) has shape ` +
          `(${header.rows}, ${header.cols}) but index.json says (${rows}, ${dim})`,
      );
    }
    const file = { source, name, dataOffset: header.dataOffset, rows: header.rows };
    return { file, reader };
  } catch (error) {
    reader.close();
    throw error;
  }
}

/** Fills `bytes` from `offset` of the file. */
async function readRows(reader: ByteReader, offset: number, bytes: Uint8Array): Promise<void> {
  // A local file: synchronous reads (a few microseconds for a row in the page cache; an awaited
  // read costs ten times that).
  if (reader.readIntoSync !== undefined) reader.readIntoSync(offset, bytes);
  else if (reader.readInto !== undefined) await reader.readInto(offset, bytes);
  else bytes.set(await reader.read(offset, bytes.length));
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
