/**
 * An exact maximum-inner-product index over dense vectors: the retrieval half of DPR.
 *
 * Vectors live in one row-major matrix in memory, as float32 or, chosen when the index is built,
 * as float16 or int8 (a byte per value: a code into 256 levels, with a scale per row and an
 * offset and spread per dimension; {@link VectorStorage}); `search` multiplies the queries
 * with the matrix block by block on the active TensorFlow.js backend and keeps a bounded top-k per
 * query (`exact_search.ts`), so the memory a search needs is bounded by `maxBlockBytes` whatever
 * the index size. Results are exact over the stored values.
 *
 * On disk (`save` / `load`, `index_files.ts`): `index.json`, `vectors.npy` (plus `scales.npy`,
 * `codebook.npy` and `dimensions.npy` for int8), `ids.jsonl` and `metadata.jsonl`. In Python:
 * `x = numpy.load("vectors.npy"); index = faiss.IndexFlatIP(x.shape[1]); index.add(x)` (for
 * float16: `.astype("float32")`; for int8: `offset, spread = numpy.load("dimensions.npy");
 * x = offset + spread * (numpy.load("scales.npy") * numpy.load("codebook.npy")[0][codes])` with
 * `codes = numpy.load("vectors.npy")`; an int8 index of layout version 1, written before, is
 * `codes * numpy.load("scales.npy")`).
 *
 * A float16 or int8 index can keep the float32 vectors as added (`keepOriginals`; on disk
 * `originals.npy`, read by rows): searches then re-score their best `k * oversample` candidates
 * exactly (`rescore.ts`, `original_vectors.ts`).
 * @module
 */
import type { FileSource } from "../io/file_source.ts";
import { exactSearch } from "./exact_search.ts";
import { type IndexManifest, manifestOf, writeIndex } from "./index_files.ts";
import { firstNonFinite, indexSource, readIndex } from "./read_index.ts";
import { checkedRows, queryMatrix } from "./vector_input.ts";
import { encodeNpy } from "./npy.ts";
import { type OriginalsFile, OriginalVectors } from "./original_vectors.ts";
import {
  checkOversample,
  DEFAULT_OVERSAMPLE,
  type DenseSearchOptions,
  rescore,
} from "./rescore.ts";
import { checkHalfRange, type VectorStorage, VectorStore } from "./vector_store.ts";
import {
  passageFields,
  type RowMetadata,
  type SearchHit,
  type StoredPassage,
  type VectorBatch,
  type VectorIndex,
} from "./vector_index.ts";

export type { DenseSearchOptions, IndexManifest, RowMetadata, SearchHit, VectorStorage };

/** Options for a {@link DenseIndex}. */
export interface DenseIndexOptions {
  /**
   * Upper bound in bytes for one search block (the block's float32 rows plus the score matrix).
   * Default 64 MiB; searches use blocks of a few MiB below it.
   */
  maxBlockBytes?: number;
  /**
   * How vectors are stored (for a new index; a loaded one keeps what its `index.json` says):
   * "float32" (default), "float16" (half the memory) or "int8" (a quarter, plus a float32 scale
   * per row; the offsets and spreads per dimension are fitted on the first rows added, at least
   * 256 of them for a fit). Search is exact over the stored values.
   */
  storage?: VectorStorage;
  /**
   * float16 and int8 only, for a new index: also keep the float32 vectors as added (in memory
   * while building; `save` writes them to `originals.npy`), so that searches re-rank their
   * candidates exactly (`rescore.ts`). A loaded index keeps them on disk and reads only the
   * candidates' rows. Default false (a loaded one keeps what its `index.json` says).
   */
  keepOriginals?: boolean;
  /** Whether searches re-score with the originals where the index has them (default true). */
  rescore?: boolean;
  /** Candidates per hit a re-scored search takes from the quantized vectors (default 2). */
  oversample?: number;
}

/**
 * Exact maximum inner product search over dense vectors, with ids and JSON metadata per row.
 *
 * @example
 * ```ts
 * import { DenseIndex } from "@dpr/dpr";
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
  #store: VectorStore;
  #ids: string[] = [];
  #rowOfId = new Map<string, number>();
  #metadata: RowMetadata[] = [];
  #originals: OriginalVectors | null = null;
  /** A float32 index loaded from a folder and unchanged since: its vectors file. */
  #origin: { source: FileSource; name: string } | null = null;
  #rescore: boolean;
  #oversample: number;

  /**
   * An empty index for vectors of `dim` values.
   * @param dim vector dimension (a positive integer)
   * @param options block size for searches, storage type
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
    this.#store = new VectorStore(options.storage ?? "float32", dim);
    if (options.keepOriginals === true) {
      this.#originals = OriginalVectors.inMemory(dim, this.#store.storage);
    }
    this.#rescore = options.rescore ?? true;
    this.#oversample = checkOversample(
      options.oversample ?? DEFAULT_OVERSAMPLE,
      "Cannot build DenseIndex",
    );
  }

  /** Number of rows. */
  get size(): number {
    return this.#store.rows;
  }

  /** How the vectors are stored: "float32", "float16" or "int8". */
  get storage(): VectorStorage {
    return this.#store.storage;
  }

  /** Bytes the stored vectors take in memory (values, and int8's row scales). */
  get vectorBytes(): number {
    return this.#store.byteLength;
  }

  /**
   * Whether the index keeps its float32 originals (searches re-score with them): in memory while
   * it is built, in `originals.npy` once loaded.
   */
  get keepsOriginals(): boolean {
    return this.#originals !== null;
  }

  /** The ids in row order (a copy). */
  get ids(): string[] {
    return this.#ids.slice();
  }

  /**
   * The row-major float32 matrix of all vectors: a view for float32 storage (do not modify), the
   * decoded stored values (a new array) for float16 and int8.
   */
  get vectors(): Float32Array {
    return this.#store.decode(0, this.#store.rows);
  }

  /**
   * Appends rows (converted to the index's storage type).
   * @param ids one unique id per row
   * @param vectors one vector of length `dim` per row, or a flat row-major matrix
   * @param metadata optional JSON value per row (default null)
   */
  add(
    ids: readonly string[],
    vectors: Float32Array | readonly Float32Array[],
    metadata?: readonly RowMetadata[],
  ): void {
    this.#add(ids, vectors, metadata, true);
  }

  /**
   * Appends all rows of another index of the same dimension: ids, metadata, and vectors converted
   * to this index's storage. Where this index keeps originals, they come from `other`: a float32
   * index loaded from a folder, unchanged since, lends its `vectors.npy`, read when rows are asked
   * for rather than copied into memory (so `dpr merge --keep-originals` holds the quantized rows
   * only; that file must stay until this index is saved).
   * @param other the index whose rows to append
   */
  async append(other: DenseIndex): Promise<void> {
    if (other.dim !== this.dim) {
      throw new RangeError(
        `Cannot append to DenseIndex: rows of dimension ${other.dim} to an index of dimension ` +
          `${this.dim}`,
      );
    }
    const originals = this.#originals;
    let kept: OriginalsFile | Float32Array | null = null;
    if (originals !== null && other.#origin !== null) {
      const { source, name } = other.#origin;
      kept = await OriginalVectors.checkFile(source, name, other.size, other.dim);
    } else if (originals !== null && other.#originals !== null) {
      kept = new Float32Array(other.size * other.dim);
      let at = 0;
      for await (const block of other.#originals.blocks()) {
        kept.set(block, at);
        at += block.length;
      }
    } else if (originals !== null && other.storage !== "float32") {
      throw new RangeError(
        `Cannot append to DenseIndex: it keeps float32 originals, which the ${other.storage} ` +
          `index appended does not have`,
      );
    }
    this.#add(other.#ids, other.vectors, other.#metadata, kept === null);
    if (kept instanceof Float32Array) originals!.append(kept);
    else if (kept !== null) originals!.appendFile(kept);
  }

  #add(
    ids: readonly string[],
    vectors: Float32Array | readonly Float32Array[],
    metadata: readonly RowMetadata[] | undefined,
    copyOriginals: boolean,
  ): void {
    const rows = checkedRows(ids, vectors, metadata, this.dim, this.#rowOfId);
    if (this.storage === "float16") checkHalfRange(rows, this.dim);
    const first = this.#store.rows;
    this.#store.append(rows);
    if (copyOriginals) this.#originals?.append(rows);
    this.#origin = null;
    ids.forEach((id, i) => {
      this.#rowOfId.set(id, first + i);
      this.#ids.push(id);
      this.#metadata.push(metadata?.[i] ?? null);
    });
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
      if (this.storage === "float16") checkHalfRange(replacements.vectors, this.dim);
      this.add(pick(ids, fresh)!, pick(list, fresh)!, pick(metadata, fresh));
      stored.forEach((i, j) => {
        const row = this.#rowOfId.get(ids[i]!)!;
        this.#store.setRow(row, replacements.vector(j));
        this.#originals?.setRow(row, list[i]!);
        this.#origin = null;
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
    return Promise.resolve(this.size);
  }

  /** {@link VectorIndex.close}: closes the originals file of a loaded index that has one. */
  close(): Promise<void> {
    this.#originals?.close();
    return Promise.resolve();
  }

  /** {@linkcode DenseIndex.close} at the end of an `await using` block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The row number of `id`, or undefined. */
  rowOf(id: string): number | undefined {
    return this.#rowOfId.get(id);
  }

  /** The vector of row `row` (a copy, decoded to float32). */
  vector(row: number): Float32Array {
    this.#checkRow(row);
    return this.#store.decode(row, 1).slice();
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
    if (!Number.isInteger(row) || row < 0 || row >= this.size) {
      throw new RangeError(`DenseIndex has no row ${row}: rows are 0..${this.size - 1}`);
    }
  }

  /**
   * Finds the `k` rows with the largest inner product for each query. Results are sorted by score,
   * highest first; equal scores are ordered by row, lower row first. With float32 originals
   * (`keepOriginals`), the best `k * oversample` rows by the stored values are re-scored exactly
   * and the scores are the float32 inner products.
   * @param queries one vector of length `dim` per query, or a flat row-major matrix
   * @param k how many hits per query (fewer when the index is smaller)
   * @param options re-scoring for this search
   * @returns one list of hits per query
   */
  async search(
    queries: Float32Array | readonly Float32Array[],
    k: number,
    options: DenseSearchOptions = {},
  ): Promise<SearchHit[][]> {
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
    const kk = Math.min(k, this.size);
    if (kk === 0) return Array.from({ length: nq }, () => []);
    const originals = (options.rescore ?? this.#rescore) ? this.#originals : null;
    const oversample = options.oversample === undefined
      ? this.#oversample
      : checkOversample(options.oversample, "Cannot search DenseIndex");
    const depth = originals === null ? kk : Math.min(this.size, Math.ceil(kk * oversample));
    let found = await exactSearch(this.#store, flat, depth, this.#maxBlockBytes);
    if (originals !== null) found = await rescore(originals, flat, found, kk);
    return found.map(({ scores, rows }) =>
      Array.from(rows, (row, i) => ({
        id: this.#ids[row]!,
        score: scores[i]!,
        row,
        metadata: this.#metadata[row]!,
      }))
    );
  }

  /** The manifest `save` writes to `index.json` (into a new folder). */
  manifest(): IndexManifest {
    return manifestOf({ ...this.#parts(), originals: this.#originals });
  }

  #parts(): { store: VectorStore; ids: string[]; metadata: RowMetadata[] } {
    return { store: this.#store, ids: this.#ids, metadata: this.#metadata };
  }

  /** The vectors as a complete float32 `.npy` file (decoded from the stored type). */
  toNpy(): Uint8Array {
    return encodeNpy(this.vectors, this.size, this.dim);
  }

  /**
   * Writes the index to `dir` (layout in `index_files.ts`), replacing an existing index there as
   * a whole: a crash leaves the old index or the new one, never a mix.
   * @param dir the destination folder
   */
  async save(dir: string): Promise<void> {
    // A save over the folder this index came from removes the file it would lend to `append`.
    this.#origin = null;
    await writeIndex(dir, { ...this.#parts(), originals: this.#originals });
  }

  /**
   * Reads an index written by `save`, checking that the parts agree.
   * @param location a folder path, an http(s) URL of the folder, or a {@link FileSource}
   * @param options block size for searches (the storage type comes from `index.json`)
   * @returns the index
   */
  static async load(
    location: string | FileSource,
    options: DenseIndexOptions = {},
  ): Promise<DenseIndex> {
    const source = typeof location === "string" ? indexSource(location) : location;
    const parts = await readIndex(source);
    try {
      return DenseIndex.#fromParts(parts, options, source);
    } catch (error) {
      parts.originals?.close();
      throw error;
    }
  }

  static #fromParts(
    parts: Awaited<ReturnType<typeof readIndex>>,
    options: DenseIndexOptions,
    source: FileSource,
  ): DenseIndex {
    const where = source.description;
    const rowOfId = new Map<string, number>();
    parts.ids.forEach((id, row) => {
      if (rowOfId.has(id)) {
        throw new RangeError(
          `Cannot load DenseIndex from ${where}: duplicate id ${JSON.stringify(id)}`,
        );
      }
      rowOfId.set(id, row);
    });
    const index = new DenseIndex(parts.dim, {
      ...options,
      storage: parts.store.storage,
      keepOriginals: false,
    });
    // The stored matrix is used in place (no copy).
    index.#store = parts.store;
    index.#ids = parts.ids;
    index.#rowOfId = rowOfId;
    index.#metadata = parts.metadata;
    index.#originals = parts.originals ?? null;
    if (index.storage === "float32") index.#origin = { source, name: parts.vectorsName };
    return index;
  }
}
