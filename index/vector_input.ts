/**
 * The rows given to a {@link DenseIndex}, and its queries, checked and flattened: one id, one
 * vector of the index's dimension and one JSON value per row, ids unique, values finite.
 * @module
 */
import { firstNonFinite } from "./read_index.ts";
import type { RowMetadata } from "./vector_index.ts";

/**
 * Checks rows to add and returns their vectors as one row-major matrix.
 * @param ids one unique id per row (none already in `stored`)
 * @param vectors one vector of length `dim` per row, or a flat row-major matrix
 * @param metadata optional JSON value per row
 * @param dim the index's dimension
 * @param stored the ids already in the index
 * @returns the vectors, row-major (`vectors` itself when it is flat)
 */
export function checkedRows(
  ids: readonly string[],
  vectors: Float32Array | readonly Float32Array[],
  metadata: readonly RowMetadata[] | undefined,
  dim: number,
  stored: ReadonlyMap<string, number>,
): Float32Array {
  const n = ids.length;
  const flat = vectors instanceof Float32Array;
  const count = flat ? vectors.length / dim : vectors.length;
  if (count !== n) {
    throw new RangeError(
      `Cannot add to DenseIndex: got ${n} ids but ${count} vectors of dimension ${dim}`,
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
    if (stored.has(id) || seen.has(id)) {
      throw new RangeError(`Cannot add to DenseIndex: duplicate id ${JSON.stringify(id)}`);
    }
    seen.add(id);
  }
  if (!flat) {
    for (const [i, v] of vectors.entries()) {
      if (!(v instanceof Float32Array) || v.length !== dim) {
        throw new TypeError(
          `Cannot add to DenseIndex: vector ${i} must be a Float32Array of length ${dim}: ` +
            `received ${v instanceof Float32Array ? `length ${v.length}` : typeof v}`,
        );
      }
    }
  }
  const bad = flat
    ? firstNonFinite(vectors)
    : vectors.reduce((found, v, i) => found >= 0 ? found : firstNonFinite(v) < 0 ? -1 : i, -1);
  if (bad >= 0) {
    const row = flat ? Math.floor(bad / dim) : bad;
    throw new RangeError(
      `Cannot add to DenseIndex: vector ${row} (id ${
        JSON.stringify(ids[row])
      }) holds NaN or Infinity; its scores would be meaningless`,
    );
  }
  const rows = flat ? vectors : queryMatrix(vectors, dim);
  return rows;
}

/**
 * The queries as one row-major matrix, each checked to be a Float32Array of length `dim`.
 * @param queries one vector per query, or a flat row-major matrix
 * @param dim the index's dimension
 * @returns the matrix (`queries` itself when it is flat)
 */
export function queryMatrix(
  queries: Float32Array | readonly Float32Array[],
  dim: number,
): Float32Array {
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
