/**
 * Opening a passage index by location: a folder or an http(s) URL of one is a {@link DenseIndex};
 * a `postgres://` or `postgresql://` URL is a Postgres + pgvector table.
 * @module
 */
import { DenseIndex, type DenseIndexOptions } from "./dense_index.ts";
import type { PgVectorIndexOptions } from "./pgvector_index.ts";
import type { VectorIndex } from "./vector_index.ts";

/** Options of {@link openIndex}. */
export interface OpenIndexOptions extends DenseIndexOptions {
  /** Options of a Postgres index (creation, dimension check, `efSearch`, batch sizes). */
  postgres?: PgVectorIndexOptions;
}

/**
 * Whether a location names a Postgres database (`postgres://` or `postgresql://`).
 * @param location an index location
 * @returns true for a Postgres URL
 */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

/**
 * Opens the index at `location` for searching.
 *
 * @example
 * ```ts ignore
 * import { openIndex } from "@dpr/dpr";
 * const index = await openIndex("my-index"); // or "postgres://user@host/db?table=psgs"
 * console.log(index.dim, await index.count());
 * await index.close();
 * ```
 * @param location a folder, an http(s) URL of one, or a Postgres URL
 * @param options options of a {@link DenseIndex} or (`postgres`) of a Postgres index
 * @returns the open index
 */
export async function openIndex(
  location: string,
  options: OpenIndexOptions = {},
): Promise<VectorIndex> {
  if (typeof location !== "string" || location === "") {
    throw new TypeError(
      `Cannot open an index: the location must be a folder or URL: received ${
        JSON.stringify(location)
      }`,
    );
  }
  if (isPostgresUrl(location)) {
    // Loaded on demand: an in-process index never loads the Postgres client.
    const { PgVectorIndex } = await import("./pgvector_index.ts");
    return await PgVectorIndex.open(location, options.postgres);
  }
  return await DenseIndex.load(location, options);
}
