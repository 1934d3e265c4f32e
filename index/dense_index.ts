/**
 * An exact maximum-inner-product index over dense vectors: the retrieval half of DPR.
 *
 * Vectors live in one row-major float32 matrix in memory; `search` multiplies the queries with the
 * matrix block by block on the active TensorFlow.js backend and keeps a running top-k, so the
 * memory a search needs is bounded by `maxBlockBytes` whatever the index size.
 *
 * ## On-disk layout (`save` / `load`)
 *
 * ```
 * <dir>/index.json       {"format": "dpr-dense-index", "version": 1, "count": n, "dim": d,
 *                         "dtype": "float32", "metric": "inner_product", ...}
 * <dir>/vectors.npy      NumPy .npy v1.0, dtype '<f4', C order, shape (n, d): row i is vector i
 * <dir>/ids.jsonl        n lines, line i is the JSON string id of row i
 * <dir>/metadata.jsonl   n lines, line i is a JSON value (an object such as {"title", "text"}, or null)
 * ```
 *
 * In Python: `x = numpy.load("vectors.npy"); index = faiss.IndexFlatIP(x.shape[1]); index.add(x)`.
 * @module
 */
import { tf } from "../backend/tf.ts";
import type { FileSource } from "../io/file_source.ts";
import { encodeNpy, npyHeader, parseNpyHeader } from "./npy.ts";
import {
  passageFields,
  type RowMetadata,
  type SearchHit,
  type StoredPassage,
  type VectorBatch,
  type VectorIndex,
} from "./vector_index.ts";

export type { RowMetadata, SearchHit } from "./vector_index.ts";

/** Options for a {@link DenseIndex}. */
export interface DenseIndexOptions {
  /**
   * Upper bound in bytes for one search block (the uploaded rows plus the score matrix).
   * Default 64 MiB.
   */
  maxBlockBytes?: number;
}

/** The manifest written to `index.json`. */
export interface IndexManifest {
  /** Always "dpr-dense-index". */
  format: "dpr-dense-index";
  /** Layout version, 1. */
  version: 1;
  /** Number of rows. */
  count: number;
  /** Vector dimension. */
  dim: number;
  /** Always "float32". */
  dtype: "float32";
  /** Always "inner_product". */
  metric: "inner_product";
  /** File names of the parts. */
  files: { vectors: string; ids: string; metadata: string };
}

const FILES = { vectors: "vectors.npy", ids: "ids.jsonl", metadata: "metadata.jsonl" } as const;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Exact maximum inner product search over float32 vectors, with ids and JSON metadata per row.
 *
 * @example
 * ```ts
 * import { DenseIndex } from "./dense_index.ts";
 * const index = new DenseIndex(2);
 * index.add(["a", "b"], [new Float32Array([1, 0]), new Float32Array([0, 1])]);
 * const [hits] = await index.search([new Float32Array([0.2, 0.9])], 1);
 * console.log(hits![0]!.id); // "b"
 * ```
 */
export class DenseIndex implements VectorIndex {
  /** Vector dimension. */
  readonly dim: number;
  #maxBlockBytes: number;
  #data: Float32Array;
  #count = 0;
  #ids: string[] = [];
  #rowOfId = new Map<string, number>();
  #metadata: RowMetadata[] = [];

  /**
   * @param dim vector dimension (a positive integer)
   * @param options block size for searches
   */
  constructor(dim: number, options: DenseIndexOptions = {}) {
    if (!Number.isInteger(dim) || dim <= 0) {
      throw new RangeError(
        `Cannot build DenseIndex: dim must be a positive integer: received ${dim}`,
      );
    }
    const maxBlockBytes = options.maxBlockBytes ?? 64 * 1024 * 1024;
    if (!(maxBlockBytes > 0)) {
      throw new RangeError(
        `Cannot build DenseIndex: maxBlockBytes must be positive: received ${maxBlockBytes}`,
      );
    }
    this.dim = dim;
    this.#maxBlockBytes = maxBlockBytes;
    this.#data = new Float32Array(dim * 16);
  }

  /** Number of rows. */
  get size(): number {
    return this.#count;
  }

  /** The ids in row order (a copy). */
  get ids(): string[] {
    return this.#ids.slice();
  }

  /** The row-major matrix of all vectors (a view; do not modify). */
  get vectors(): Float32Array {
    return this.#data.subarray(0, this.#count * this.dim);
  }

  /**
   * Appends rows.
   * @param ids one unique id per row
   * @param vectors one vector of length `dim` per row, or a flat row-major matrix
   * @param metadata optional JSON value per row (default null)
   */
  add(
    ids: readonly string[],
    vectors: Float32Array | readonly Float32Array[],
    metadata?: readonly RowMetadata[],
  ): void {
    const n = ids.length;
    const flat = vectors instanceof Float32Array;
    const count = flat ? vectors.length / this.dim : vectors.length;
    if (count !== n) {
      throw new RangeError(
        `Cannot add to DenseIndex: got ${n} ids but ${count} vectors of dimension ${this.dim}`,
      );
    }
    if (metadata !== undefined && metadata.length !== n) {
      throw new RangeError(
        `Cannot add to DenseIndex: got ${n} ids but ${metadata.length} metadata entries`,
      );
    }
    metadata?.forEach((value, i) => {
      let text: string | undefined;
      try {
        text = value === undefined ? "null" : JSON.stringify(value);
      } catch (error) {
        throw new TypeError(
          `Cannot add to DenseIndex: metadata ${i} cannot be saved as JSON: ${
            (error as Error).message.split("\n")[0]
          }`,
        );
      }
      if (typeof text !== "string") {
        throw new TypeError(
          `Cannot add to DenseIndex: metadata ${i} must be a JSON value: received ${typeof value}`,
        );
      }
    });
    const seen = new Set<string>();
    for (const id of ids) {
      if (typeof id !== "string") {
        throw new TypeError(`Cannot add to DenseIndex: ids must be strings: received ${typeof id}`);
      }
      if (this.#rowOfId.has(id) || seen.has(id)) {
        throw new RangeError(`Cannot add to DenseIndex: duplicate id ${JSON.stringify(id)}`);
      }
      seen.add(id);
    }
    if (!flat) {
      for (const [i, v] of vectors.entries()) {
        if (!(v instanceof Float32Array) || v.length !== this.dim) {
          throw new TypeError(
            `Cannot add to DenseIndex: vector ${i} must be a Float32Array of length ${this.dim}: ` +
              `received ${v instanceof Float32Array ? `length ${v.length}` : typeof v}`,
          );
        }
      }
    }
    const bad = flat
      ? firstNonFinite(vectors)
      : vectors.reduce((found, v, i) => found >= 0 ? found : firstNonFinite(v) < 0 ? -1 : i, -1);
    if (bad >= 0) {
      const row = flat ? Math.floor(bad / this.dim) : bad;
      throw new RangeError(
        `Cannot add to DenseIndex: vector ${row} (id ${
          JSON.stringify(ids[row])
        }) holds NaN or Infinity; its scores would be meaningless`,
      );
    }
    this.#reserve(this.#count + n);
    const base = this.#count * this.dim;
    if (flat) {
      this.#data.set(vectors, base);
    } else {
      vectors.forEach((v, i) => this.#data.set(v, base + i * this.dim));
    }
    ids.forEach((id, i) => {
      this.#rowOfId.set(id, this.#count + i);
      this.#ids.push(id);
      this.#metadata.push(metadata?.[i] ?? null);
    });
    this.#count += n;
  }

  #reserve(rows: number): void {
    if (rows * this.dim <= this.#data.length) return;
    // Double for appends, but never allocate more than one doubling past what is needed.
    const capacity = Math.max(rows, Math.min(2 * (this.#data.length / this.dim), 2 * rows));
    const next = new Float32Array(capacity * this.dim);
    next.set(this.#data.subarray(0, this.#count * this.dim));
    this.#data = next;
  }

  /**
   * {@link VectorIndex.upsert}: appends the rows with new ids and replaces, in place, the vector
   * and metadata of those already stored (`rows` is not used: rows are numbered in insertion
   * order). Everything is checked before anything changes.
   * @param batch ids, vectors and metadata
   */
  upsert(batch: VectorBatch): Promise<void> {
    try {
      const { ids, vectors, metadata } = batch;
      const list = vectors instanceof Float32Array
        ? Array.from(
          { length: vectors.length / this.dim },
          (_, i) => vectors.subarray(i * this.dim, (i + 1) * this.dim),
        )
        : vectors;
      if (vectors instanceof Float32Array && vectors.length % this.dim !== 0) {
        throw new RangeError(
          `Cannot upsert into DenseIndex: ${vectors.length} values are not rows of dimension ` +
            `${this.dim}`,
        );
      }
      if (list.length !== ids.length) {
        throw new RangeError(
          `Cannot upsert into DenseIndex: got ${ids.length} ids but ${list.length} vectors`,
        );
      }
      const fresh: number[] = [];
      const stored: number[] = [];
      ids.forEach((id, i) => (this.#rowOfId.has(id) ? stored : fresh).push(i));
      const pick = <T>(values: readonly T[] | undefined, which: number[]): T[] | undefined =>
        values === undefined ? undefined : which.map((i) => values[i]!);
      // The replaced rows go through `add`'s checks on a scratch index first.
      const replacements = new DenseIndex(this.dim);
      replacements.add(pick(ids, stored)!, pick(list, stored)!, pick(metadata, stored));
      this.add(pick(ids, fresh)!, pick(list, fresh)!, pick(metadata, fresh));
      stored.forEach((i, j) => {
        const row = this.#rowOfId.get(ids[i]!)!;
        this.#data.set(replacements.vector(j), row * this.dim);
        this.#metadata[row] = replacements.metadata(j);
      });
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * {@link VectorIndex.passages}: the `{title, text}` of each id's metadata.
   * @param ids the ids
   * @returns one entry per id, null where the id is not stored
   */
  passages(ids: readonly string[]): Promise<Array<StoredPassage | null>> {
    return Promise.resolve(ids.map((id) => {
      const row = this.#rowOfId.get(id);
      return row === undefined ? null : { id, ...passageFields(this.#metadata[row]!) };
    }));
  }

  /**
   * {@link VectorIndex.count}: the number of rows, as `size`.
   * @returns the count
   */
  count(): Promise<number> {
    return Promise.resolve(this.#count);
  }

  /** {@link VectorIndex.close}: nothing to release (the index holds plain arrays). */
  close(): Promise<void> {
    return Promise.resolve();
  }

  /** The row number of `id`, or undefined. */
  rowOf(id: string): number | undefined {
    return this.#rowOfId.get(id);
  }

  /** The vector of row `row` (a copy). */
  vector(row: number): Float32Array {
    this.#checkRow(row);
    return this.#data.slice(row * this.dim, (row + 1) * this.dim);
  }

  /** The id of row `row`. */
  id(row: number): string {
    this.#checkRow(row);
    return this.#ids[row]!;
  }

  /** The metadata of row `row`. */
  metadata(row: number): RowMetadata {
    this.#checkRow(row);
    return this.#metadata[row]!;
  }

  #checkRow(row: number): void {
    if (!Number.isInteger(row) || row < 0 || row >= this.#count) {
      throw new RangeError(`DenseIndex has no row ${row}: rows are 0..${this.#count - 1}`);
    }
  }

  /**
   * Finds the `k` rows with the largest inner product for each query. Results are sorted by score,
   * highest first; equal scores are ordered by row, lower row first.
   * @param queries one vector of length `dim` per query, or a flat row-major matrix
   * @param k how many hits per query (fewer when the index is smaller)
   * @returns one list of hits per query
   */
  async search(queries: Float32Array | readonly Float32Array[], k: number): Promise<SearchHit[][]> {
    if (!Number.isInteger(k) || k <= 0) {
      throw new RangeError(`Cannot search DenseIndex: k must be a positive integer: received ${k}`);
    }
    const flat = queryMatrix(queries, this.dim);
    const badQuery = firstNonFinite(flat);
    if (badQuery >= 0) {
      throw new RangeError(
        `Cannot search DenseIndex: query ${Math.floor(badQuery / this.dim)} holds NaN or Infinity`,
      );
    }
    const nq = flat.length / this.dim;
    if (nq === 0) return [];
    const best: Array<Array<[number, number]>> = Array.from({ length: nq }, () => []);
    const kk = Math.min(k, this.#count);
    if (kk === 0) return best.map(() => []);
    const q = tf.tensor2d(flat, [nq, this.dim]);
    try {
      const blockRows = Math.max(
        1,
        Math.floor(this.#maxBlockBytes / (4 * (this.dim + nq))),
      );
      for (let start = 0; start < this.#count; start += blockRows) {
        const rows = Math.min(blockRows, this.#count - start);
        await this.#searchBlock(q, nq, start, rows, kk, best);
      }
    } finally {
      q.dispose();
    }
    return best.map((list) =>
      list.map(([score, row]) => ({
        id: this.#ids[row]!,
        score,
        row,
        metadata: this.#metadata[row]!,
      }))
    );
  }

  async #searchBlock(
    q: tf.Tensor2D,
    nq: number,
    start: number,
    rows: number,
    k: number,
    best: Array<Array<[number, number]>>,
  ): Promise<void> {
    // Ask the backend for one more candidate than needed: when the extra one scores strictly
    // below the k-th, every row tied with the k-th is among the candidates, so re-sorting them
    // by (score desc, row asc) is exact whatever order the backend's top-k gives to ties.
    const want = Math.min(rows, k + 1);
    const block = tf.tensor2d(
      this.#data.subarray(start * this.dim, (start + rows) * this.dim),
      [rows, this.dim],
    );
    const scores = tf.matMul(q, block, false, true); // [nq, rows]
    block.dispose();
    const { values, indices } = tf.topk(scores, want, true); // [nq, want]
    let scoreData: Float32Array | null = null;
    try {
      const vals = (await values.data()) as Float32Array;
      const idx = (await indices.data()) as Int32Array;
      for (let i = 0; i < nq; i++) {
        let candidates: Array<[number, number]>;
        const kthIndex = Math.min(k, want) - 1;
        const exact = want === rows || vals[i * want + want - 1]! < vals[i * want + kthIndex]!;
        if (exact) {
          candidates = [];
          for (let j = 0; j < want; j++) {
            candidates.push([vals[i * want + j]!, start + idx[i * want + j]!]);
          }
        } else {
          // Ties straddle the cut: take the whole score row for this query.
          scoreData ??= (await scores.data()) as Float32Array;
          candidates = [];
          for (let j = 0; j < rows; j++) candidates.push([scoreData[i * rows + j]!, start + j]);
        }
        const merged = best[i]!.concat(candidates);
        merged.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
        best[i] = merged.slice(0, k);
      }
    } finally {
      scores.dispose();
      values.dispose();
      indices.dispose();
    }
  }

  /** The manifest `save` writes to `index.json`. */
  manifest(): IndexManifest {
    return {
      format: "dpr-dense-index",
      version: 1,
      count: this.#count,
      dim: this.dim,
      dtype: "float32",
      metric: "inner_product",
      files: { ...FILES },
    };
  }

  /** The vectors as a complete `.npy` file. */
  toNpy(): Uint8Array {
    return encodeNpy(this.vectors, this.#count, this.dim);
  }

  /**
   * Writes the index to `dir` in the layout described in the module doc. A new folder is written
   * under a temporary name and renamed into place; files in an existing folder are each written
   * to a temporary name and renamed, `index.json` last.
   * @param dir the destination folder
   */
  async save(dir: string): Promise<void> {
    dir = dir.replace(/\/+$/, "");
    let exists = true;
    try {
      await Deno.stat(dir);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      exists = false;
    }
    if (!exists) {
      const tmp = `${dir}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
      try {
        await Deno.mkdir(tmp, { recursive: true });
        await this.#writeFiles(tmp, "");
        await Deno.rename(tmp, dir);
      } catch (error) {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
        throw error;
      }
      return;
    }
    const suffix = `.tmp-${Deno.pid}`;
    try {
      await this.#writeFiles(dir, suffix);
      for (const name of [...Object.values(FILES), "index.json"]) {
        await Deno.rename(`${dir}/${name}${suffix}`, `${dir}/${name}`);
      }
    } catch (error) {
      for (const name of [...Object.values(FILES), "index.json"]) {
        await Deno.remove(`${dir}/${name}${suffix}`).catch(() => {});
      }
      throw error;
    }
  }

  async #writeFiles(dir: string, suffix: string): Promise<void> {
    const file = await Deno.open(`${dir}/${FILES.vectors}${suffix}`, {
      write: true,
      create: true,
      truncate: true,
    });
    try {
      await writeAll(file, npyHeader(this.#count, this.dim));
      const rowsPerWrite = Math.max(1, Math.floor((4 << 20) / (4 * this.dim)));
      for (let start = 0; start < this.#count; start += rowsPerWrite) {
        const end = Math.min(this.#count, start + rowsPerWrite);
        const part = this.#data.subarray(start * this.dim, end * this.dim);
        await writeAll(file, float32Bytes(part));
      }
    } finally {
      file.close();
    }
    await Deno.writeTextFile(`${dir}/${FILES.ids}${suffix}`, jsonLines(this.#ids));
    await Deno.writeTextFile(`${dir}/${FILES.metadata}${suffix}`, jsonLines(this.#metadata));
    await Deno.writeTextFile(
      `${dir}/index.json${suffix}`,
      JSON.stringify(this.manifest(), null, 2) + "\n",
    );
  }

  /**
   * Reads an index written by `save`, checking that the parts agree.
   * @param location a folder path, an http(s) URL of the folder, or a {@link FileSource}
   * @param options block size for searches
   * @returns the index
   */
  static async load(
    location: string | FileSource,
    options: DenseIndexOptions = {},
  ): Promise<DenseIndex> {
    const source = typeof location === "string" ? sourceFor(location) : location;
    const where = source.description;
    const need = async (name: string): Promise<Uint8Array> => {
      const bytes = await source.readFile(name);
      if (bytes === null) {
        throw new Deno.errors.NotFound(`Cannot load DenseIndex from ${where}: ${name} is missing`);
      }
      return bytes;
    };
    const manifestText = new TextDecoder().decode(await need("index.json"));
    let manifest: Partial<IndexManifest>;
    try {
      manifest = JSON.parse(manifestText);
    } catch (error) {
      throw new SyntaxError(
        `Cannot load DenseIndex from ${where}: index.json is not JSON: ${(error as Error).message}`,
      );
    }
    if (manifest?.format !== "dpr-dense-index" || manifest.version !== 1) {
      throw new SyntaxError(
        `Cannot load DenseIndex from ${where}: index.json must have format "dpr-dense-index" ` +
          `and version 1: received ${
            JSON.stringify(manifest?.format)
          } version ${manifest?.version}`,
      );
    }
    const count = manifest.count;
    const dim = manifest.dim;
    if (!Number.isInteger(count) || count! < 0 || !Number.isInteger(dim) || dim! <= 0) {
      throw new RangeError(
        `Cannot load DenseIndex from ${where}: index.json count and dim must be integers: ` +
          `received ${count} and ${dim}`,
      );
    }
    const custom: unknown = manifest.files ?? {};
    if (typeof custom !== "object" || custom === null || Array.isArray(custom)) {
      throw new TypeError(
        `Cannot load DenseIndex from ${where}: index.json files must be an object of file names`,
      );
    }
    for (const [key, value] of Object.entries(custom)) {
      if (key in FILES && typeof value !== "string") {
        throw new TypeError(
          `Cannot load DenseIndex from ${where}: index.json files.${key} must be a file name: ` +
            `received ${JSON.stringify(value)}`,
        );
      }
    }
    const files = { ...FILES, ...(custom as Partial<typeof FILES>) };
    const npy = await need(files.vectors);
    const header = parseNpyHeader(npy, `${where}/${files.vectors}`);
    if (header.rows !== count || header.cols !== dim) {
      throw new RangeError(
        `Cannot load DenseIndex from ${where}: ${files.vectors} has shape ` +
          `(${header.rows}, ${header.cols}) but index.json says (${count}, ${dim})`,
      );
    }
    const ids = parseJsonLines(await need(files.ids), `${where}/${files.ids}`, count!);
    for (const [i, id] of ids.entries()) {
      if (typeof id !== "string") {
        throw new TypeError(
          `Cannot load DenseIndex from ${where}: line ${i + 1} of ${files.ids} must be a JSON ` +
            `string: received ${JSON.stringify(id)}`,
        );
      }
    }
    const metadata = parseJsonLines(
      await need(files.metadata),
      `${where}/${files.metadata}`,
      count!,
    ) as RowMetadata[];
    const index = new DenseIndex(dim!, options);
    // The matrix is used in place (no copy); ids are checked like `add` does.
    const vectors = readFloat32(npy, header.dataOffset, count! * dim!);
    const bad = firstNonFinite(vectors);
    if (bad >= 0) {
      throw new RangeError(
        `Cannot load DenseIndex from ${where}: row ${
          Math.floor(bad / dim!)
        } of ${files.vectors} holds NaN or Infinity (a corrupt file?)`,
      );
    }
    const rowOfId = new Map<string, number>();
    (ids as string[]).forEach((id, row) => {
      if (rowOfId.has(id)) {
        throw new RangeError(
          `Cannot load DenseIndex from ${where}: duplicate id ${
            JSON.stringify(id)
          } in ${files.ids}`,
        );
      }
      rowOfId.set(id, row);
    });
    index.#data = vectors.length > 0 ? vectors : new Float32Array(dim! * 16);
    index.#count = count!;
    index.#ids = ids as string[];
    index.#rowOfId = rowOfId;
    index.#metadata = metadata;
    return index;
  }
}

function queryMatrix(queries: Float32Array | readonly Float32Array[], dim: number): Float32Array {
  if (queries instanceof Float32Array) {
    if (queries.length % dim !== 0) {
      throw new TypeError(
        `Cannot search DenseIndex: query length must be a multiple of dim ${dim}: ` +
          `received ${queries.length}`,
      );
    }
    return queries;
  }
  const flat = new Float32Array(queries.length * dim);
  queries.forEach((v, i) => {
    if (!(v instanceof Float32Array) || v.length !== dim) {
      throw new TypeError(
        `Cannot search DenseIndex: query ${i} must be a Float32Array of length ${dim}: ` +
          `received ${v instanceof Float32Array ? `length ${v.length}` : typeof v}`,
      );
    }
    flat.set(v, i * dim);
  });
  return flat;
}

/** Index of the first NaN or infinite value, or -1. */
function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!;
    // x - x is NaN exactly for NaN and for infinities.
    if (x - x !== 0) return i;
  }
  return -1;
}

function float32Bytes(part: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(part.buffer, part.byteOffset, part.byteLength);
  const out = new Uint8Array(part.length * 4);
  const view = new DataView(out.buffer);
  part.forEach((x, i) => view.setFloat32(i * 4, x, true));
  return out;
}

function readFloat32(bytes: Uint8Array, offset: number, length: number): Float32Array {
  if (LITTLE_ENDIAN) {
    const start = bytes.byteOffset + offset;
    if (start % 4 === 0) return new Float32Array(bytes.buffer, start, length);
    return new Float32Array(bytes.slice(offset, offset + length * 4).buffer);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, length * 4);
  return Float32Array.from({ length }, (_, i) => view.getFloat32(i * 4, true));
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let done = 0;
  while (done < bytes.length) done += await file.write(bytes.subarray(done));
}

function jsonLines(values: readonly unknown[]): string {
  return values.map((v) => JSON.stringify(v) + "\n").join("");
}

function parseJsonLines(bytes: Uint8Array, name: string, expected: number): unknown[] {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SyntaxError(`Cannot read ${name}: it is not valid UTF-8`);
  }
  if (text.length > 0 && !text.endsWith("\n")) {
    throw new SyntaxError(`Cannot read ${name}: the last line is not terminated (truncated file?)`);
  }
  const lines = text === "" ? [] : text.slice(0, -1).split("\n");
  if (lines.length !== expected) {
    throw new RangeError(
      `Cannot read ${name}: expected ${expected} lines (one per row) but found ${lines.length}`,
    );
  }
  return lines.map((line, i) => {
    try {
      return JSON.parse(line);
    } catch (error) {
      throw new SyntaxError(`Cannot read ${name}: line ${i + 1}: ${(error as Error).message}`);
    }
  });
}

/** A folder on disk or at an http(s) URL, read through `fetch`. */
function sourceFor(location: string): FileSource {
  if (/^https?:\/\//.test(location)) {
    const base = location.endsWith("/") ? location : location + "/";
    return {
      description: base,
      async readFile(name: string): Promise<Uint8Array | null> {
        const response = await fetch(new URL(name, base));
        if (response.status === 404) {
          await response.body?.cancel();
          return null;
        }
        if (!response.ok) {
          await response.body?.cancel();
          throw new Error(`Cannot fetch ${name} from ${base}: HTTP ${response.status}`);
        }
        return new Uint8Array(await response.arrayBuffer());
      },
    };
  }
  const dir = location.replace(/\/+$/, "");
  return {
    description: dir,
    async readFile(name: string): Promise<Uint8Array | null> {
      try {
        return await Deno.readFile(`${dir}/${name}`);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return null;
        throw error;
      }
    },
  };
}
