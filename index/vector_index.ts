/**
 * The retrieval interface every passage index implements: the in-process {@link DenseIndex} and
 * the Postgres + pgvector index. `OpenDomainQA`, `createHandler`, the encoding job and the CLI take
 * any `VectorIndex`.
 *
 * Scores are inner products (maximum inner product search, as DPR ranks passages); results are
 * sorted by score, highest first, and equal scores by `row`, lower first.
 * @module
 */

/** A JSON value stored alongside a row (for DPR passages: `{title, text}`). */
export type RowMetadata =
  | null
  | boolean
  | number
  | string
  | RowMetadata[]
  | { [key: string]: RowMetadata };

/** One search result. */
export interface SearchHit {
  /** The row's id. */
  id: string;
  /** The inner product of the query and the row's vector. */
  score: number;
  /** The row's position: insertion order, or the position given to `upsert` (ties go lower first). */
  row: number;
  /** The metadata stored with the row (a passage's `{title, text}`), or null. */
  metadata: RowMetadata;
}

/** A passage found by id. */
export interface StoredPassage {
  /** Passage id. */
  id: string;
  /** Article title ("" when none is stored). */
  title: string;
  /** Passage text ("" when none is stored). */
  text: string;
}

/** Rows to add or replace, one entry per row in each list. */
export interface VectorBatch {
  /** One id per row; a row whose id is already stored replaces it. */
  ids: readonly string[];
  /** One vector of length `dim` per row, or a flat row-major matrix. */
  vectors: Float32Array | readonly Float32Array[];
  /** A JSON value per row (a passage's `{title, text}`); default null. */
  metadata?: readonly RowMetadata[];
  /**
   * Each row's position in the collection (the passage's line number, say), so that ties rank
   * the same whichever order shards write in. Kept by indexes that store it (Postgres); a
   * `DenseIndex` numbers rows in insertion order.
   */
  rows?: readonly number[];
}

/**
 * A passage index: top-k inner-product search, lookup by id, idempotent writes.
 *
 * @example
 * ```ts
 * import type { VectorIndex } from "@dpr/dpr";
 * import { DenseIndex } from "@dpr/dpr";
 * const index: VectorIndex = new DenseIndex(2);
 * await index.upsert({
 *   ids: ["a", "b"],
 *   vectors: [new Float32Array([1, 0]), new Float32Array([0, 1])],
 *   metadata: [{ title: "A", text: "first" }, { title: "B", text: "second" }],
 * });
 * const [hits] = await index.search([new Float32Array([0.2, 0.9])], 1);
 * console.log(hits![0]!.id, await index.count()); // "b" 2
 * console.log((await index.passages(["a"]))[0]?.text); // "first"
 * await index.close();
 * ```
 */
export interface VectorIndex {
  /** Vector dimension. */
  readonly dim: number;
  /**
   * Finds the `k` rows with the largest inner product for each query.
   * @param queries one vector of length `dim` per query, or a flat row-major matrix
   * @param k how many hits per query (fewer when the index is smaller)
   * @returns one list of hits per query, best first
   */
  search(queries: Float32Array | readonly Float32Array[], k: number): Promise<SearchHit[][]>;
  /**
   * Looks passages up by id.
   * @param ids the ids
   * @returns one entry per id, null where the id is not stored
   */
  passages(ids: readonly string[]): Promise<Array<StoredPassage | null>>;
  /**
   * Adds rows, replacing those whose id is already stored: writing the same batch twice leaves
   * one row per id.
   * @param batch ids, vectors, metadata and positions
   */
  upsert(batch: VectorBatch): Promise<void>;
  /**
   * The number of rows.
   * @returns the count
   */
  count(): Promise<number>;
  /** Releases what the index holds (connections); the index is unusable afterwards. */
  close(): Promise<void>;
  /**
   * Where an encoding job writing into this index records its settings and what each chunk was
   * encoded from, so that a re-run resumes the same job or is refused (absent: a job knows a
   * chunk is done by its ids only).
   */
  readonly jobLedger?: EncodeJobLedger;
}

/**
 * What an index keeps for the encoding job that writes into it: the job's settings, and a digest
 * of each chunk's passages, stored with the chunk's rows (in the same transaction), so that a
 * re-run with another model, other options or other passages is refused and the same job resumes.
 */
export interface EncodeJobLedger {
  /** Where the ledger is, for messages (a password never shows). */
  readonly location: string;
  /**
   * Records the job's settings when none are recorded.
   * @param settings the job's settings (a JSON text)
   * @returns the settings recorded (these, or an earlier run's)
   * @throws when the index holds rows that no job recorded
   */
  recordJob(settings: string): Promise<string>;
  /**
   * The digests recorded for chunks.
   * @param chunks chunk numbers
   * @returns one digest per chunk, null where none is recorded
   */
  chunkDigests(chunks: readonly number[]): Promise<Array<string | null>>;
  /**
   * Writes a chunk's rows (as `upsert`) and records its digest, all or nothing.
   * @param chunk the chunk number
   * @param digest the digest of the chunk's passages
   * @param batch the chunk's rows
   */
  writeChunk(chunk: number, digest: string, batch: VectorBatch): Promise<void>;
}

/**
 * The `{title, text}` of a row's metadata ("" for what is missing or not a string).
 * @param metadata a row's metadata
 * @returns the title and text
 */
export function passageFields(metadata: RowMetadata): { title: string; text: string } {
  if (metadata !== null && typeof metadata === "object" && !Array.isArray(metadata)) {
    const title = typeof metadata.title === "string" ? metadata.title : "";
    const text = typeof metadata.text === "string" ? metadata.text : "";
    return { title, text };
  }
  return { title: "", text: "" };
}
