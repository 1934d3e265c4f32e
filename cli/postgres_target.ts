/**
 * The CLI's Postgres side: `dpr index <passages> postgres://...` writes each chunk into a
 * pgvector table, and builds the vector index asked for (`--vector-index hnsw --hnsw-m 16
 * --hnsw-ef-construction 64`) once the rows are in (after a single-shard job, or by
 * `dpr merge postgres://...` when all shards are done).
 * @module
 */
import { type HnswOptions, PgVectorIndex, type PgVectorStorage } from "../index/pgvector_index.ts";
import { isPostgresUrl } from "../index/open_index.ts";
import { intOption, stringOption, UsageError } from "./args.ts";

/** The options `index` and `merge` take for a Postgres target. */
export const POSTGRES_OPTIONS = {
  "vector-index": "string",
  "hnsw-m": "string",
  "hnsw-ef-construction": "string",
} as const;

/**
 * The HNSW settings asked for, or null for exact scans (`--vector-index none`, the default).
 * @param options parsed options
 * @returns the settings or null
 */
export function hnswOption(options: Record<string, string | boolean>): HnswOptions | null {
  const kind = stringOption(options, "vector-index") ?? "none";
  if (kind !== "none" && kind !== "hnsw") {
    throw new UsageError(`--vector-index must be none or hnsw: received ${JSON.stringify(kind)}`);
  }
  const m = intOption(options, "hnsw-m", 16, 2, 100);
  const efConstruction = intOption(options, "hnsw-ef-construction", 64, 2 * m, 1000);
  if (kind === "none") {
    if (options["hnsw-m"] !== undefined || options["hnsw-ef-construction"] !== undefined) {
      throw new UsageError("--hnsw-m and --hnsw-ef-construction need --vector-index hnsw");
    }
    return null;
  }
  return { m, efConstruction };
}

/**
 * Checks the target options of `dpr index` before any model loads.
 * @param indexDir the index folder or Postgres URL
 * @param options parsed options
 * @returns the HNSW settings, or null (exact scans, or a folder target)
 */
export function targetOptions(
  indexDir: string,
  options: Record<string, string | boolean>,
): HnswOptions | null {
  if (!isPostgresUrl(indexDir)) {
    if (options["vector-index"] !== undefined) {
      throw new UsageError("--vector-index is for a Postgres URL target");
    }
    return null;
  }
  if (
    options.storage !== undefined && options.storage !== "float32" && options.storage !== "float16"
  ) {
    throw new UsageError(
      `--storage for a Postgres table must be float32 (vector) or float16 (halfvec): received ` +
        JSON.stringify(options.storage),
    );
  }
  return hnswOption(options);
}

/**
 * Opens (creating when missing) the table the encoding job writes into.
 * @param indexDir the index folder or Postgres URL
 * @param dim the encoder's dimension
 * @param storage `--storage` (float16: a `halfvec` column), if given
 * @returns the index, or undefined for a folder
 */
export async function openPostgresTarget(
  indexDir: string,
  dim: number,
  storage?: string,
): Promise<PgVectorIndex | undefined> {
  if (!isPostgresUrl(indexDir)) return undefined;
  return await PgVectorIndex.open(indexDir, {
    create: true,
    dim,
    storage: storage as PgVectorStorage | undefined,
  });
}

/**
 * Builds the vector index asked for, then says what the table holds.
 * @param index the table
 * @param hnsw the HNSW settings or null
 */
export async function finishPostgresTarget(
  index: PgVectorIndex,
  hnsw: HnswOptions | null,
): Promise<void> {
  if (hnsw !== null) {
    const started = performance.now();
    await index.createHnswIndex(hnsw);
    console.error(
      `HNSW index (m ${hnsw.m}, ef_construction ${hnsw.efConstruction}) ready in ` +
        `${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  }
  console.error(
    `${index.location}: ${await index.count()} passages, dimension ${index.dim}, ` +
      (index.approximate ? "HNSW search" : "exact search") +
      `, ${index.storage} vectors (${index.storage === "float16" ? "halfvec" : "vector"})`,
  );
}

/**
 * After a shard job into Postgres: builds the vector index when the job was the only shard (else
 * says how to), and closes the table.
 * @param index the table
 * @param numShards the job's shard count
 * @param hnsw the HNSW settings or null
 * @returns the exit status, 0
 */
export async function finishPostgresJob(
  index: PgVectorIndex,
  numShards: number,
  hnsw: HnswOptions | null,
): Promise<number> {
  try {
    if (numShards === 1) await finishPostgresTarget(index, hnsw);
    else console.error(`when all ${numShards} shards are done: dpr merge ${index.location}`);
  } finally {
    await index.close();
  }
  return 0;
}

/**
 * `dpr merge postgres://...`: the shards wrote into the table already; build the vector index.
 * @param url the Postgres URL
 * @param hnsw the HNSW settings or null
 */
export async function mergePostgres(url: string, hnsw: HnswOptions | null): Promise<void> {
  const index = await PgVectorIndex.open(url);
  try {
    await finishPostgresTarget(index, hnsw);
  } finally {
    await index.close();
  }
}
