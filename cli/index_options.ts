/**
 * The CLI's options for how an index folder holds and searches its vectors: `--storage` and
 * `--keep-originals` when writing one (`dpr index`, `dpr merge`), `--no-rescore` and
 * `--oversample <x>` when searching one (`dpr ask`, `dpr eval`, `dpr serve`). They are for index
 * folders (and http(s) URLs of them): a Postgres table keeps no float32 originals.
 * @module
 */
import type { DenseIndexOptions } from "../index/dense_index.ts";
import { isPostgresUrl } from "../index/open_index.ts";
import { VECTOR_STORAGES, type VectorStorage } from "../index/vector_store.ts";
import { stringOption, UsageError } from "./args.ts";

/** The options `ask`, `eval` and `serve` take for searching an index folder. */
export const SEARCH_INDEX_OPTIONS = {
  "no-rescore": "boolean",
  oversample: "string",
} as const;

/**
 * `--storage`: float32 (default), float16 or int8.
 * @param options parsed options
 * @returns the storage
 */
export function storageOption(options: Record<string, string | boolean>): VectorStorage {
  const storage = stringOption(options, "storage") ?? "float32";
  if (!(VECTOR_STORAGES as readonly string[]).includes(storage)) {
    throw new UsageError(
      `--storage must be ${VECTOR_STORAGES.join(", ")}: received ${JSON.stringify(storage)}`,
    );
  }
  return storage as VectorStorage;
}

/**
 * `--keep-originals`: only with `--storage float16|int8`, and not for a Postgres table.
 * @param options parsed options
 * @param storage the storage asked for
 * @param location the index folder or Postgres URL
 * @returns whether to keep the originals
 */
export function keepOriginalsOption(
  options: Record<string, string | boolean>,
  storage: VectorStorage,
  location: string,
): boolean {
  if (options["keep-originals"] !== true) return false;
  if (isPostgresUrl(location)) {
    throw new UsageError("--keep-originals is for index folders, not a Postgres table");
  }
  if (storage === "float32") {
    throw new UsageError(
      "--keep-originals needs --storage float16 or int8 (float32 vectors are the originals)",
    );
  }
  return true;
}

/**
 * `--no-rescore` and `--oversample <x>` (a number >= 1): how a search uses an index folder's
 * float32 originals (an index without them searches as before). Refused for a Postgres table.
 * @param options parsed options
 * @param location the index folder, its URL, or a Postgres URL
 * @returns the options for loading the index (empty when neither is given)
 */
export function searchIndexOptions(
  options: Record<string, string | boolean>,
  location: string,
): DenseIndexOptions {
  const result: DenseIndexOptions = {};
  const raw = options.oversample;
  if (raw !== undefined) {
    const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : NaN;
    if (!Number.isFinite(value) || value < 1) {
      throw new UsageError(`--oversample must be a number >= 1: received ${JSON.stringify(raw)}`);
    }
    result.oversample = value;
  }
  if (options["no-rescore"] === true) result.rescore = false;
  if (Object.keys(result).length > 0 && isPostgresUrl(location)) {
    throw new UsageError(
      "--no-rescore and --oversample are for index folders, not a Postgres table " +
        "(pgvector keeps no float32 originals to re-score with)",
    );
  }
  return result;
}
