/**
 * Opening a passage index by location: a folder or an http(s) URL of one is a {@link DenseIndex};
 * a `postgres://` or `postgresql://` URL is a Postgres + pgvector table.
 * @module
 */
import { DenseIndex, type DenseIndexOptions } from "./dense_index.ts";
import type { VectorIndex } from "./vector_index.ts";

/** Options of {@link openIndex}. */
export interface OpenIndexOptions extends DenseIndexOptions {}

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
 * @param options search options of a {@link DenseIndex}
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
    throw new RangeError("Cannot open an index: Postgres URLs are not supported yet");
  }
  return await DenseIndex.load(location, options);
}
