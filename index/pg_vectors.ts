/**
 * Vectors as the Postgres index sends them: batches checked before anything is sent, and
 * pgvector's text form (`[x,y,...]`). For a `halfvec` table each value is rounded to float16 here,
 * as `DenseIndex` rounds it (nearest even), so the server only parses values it holds exactly.
 * @module
 */
import { float16Table, floatToHalf } from "../backend/float16_bits.ts";
import type { PgVectorStorage } from "./pg_table.ts";

/** Largest finite float16 value. */
const FLOAT16_MAX = 65504;

/**
 * Checks that `ids` is an array of strings.
 * @param ids the ids
 * @param what the operation, as "Cannot <what>: ..." reads
 */
export function checkIds(ids: readonly string[], what: string): void {
  if (!Array.isArray(ids)) throw new TypeError(`Cannot ${what}: ids must be an array of strings`);
  ids.forEach((id, i) => {
    if (typeof id !== "string") {
      throw new TypeError(`Cannot ${what}: ids[${i}] must be a string: received ${typeof id}`);
    }
  });
}

/**
 * Splits vectors (a list, or a flat row-major matrix) into rows of length `dim`, refusing NaN,
 * infinities and, for float16 storage, values that float16 cannot hold.
 * @param values the vectors
 * @param dim the dimension
 * @param storage the table's storage
 * @param what the operation, as "Cannot <what>: ..." reads
 * @param noun what a row is called in messages ("query", "vector")
 * @returns one view or copy per row
 */
export function rowsOf(
  values: Float32Array | readonly Float32Array[],
  dim: number,
  storage: PgVectorStorage,
  what: string,
  noun: string,
): Float32Array[] {
  let list: Float32Array[];
  if (values instanceof Float32Array) {
    if (values.length % dim !== 0) {
      throw new TypeError(
        `Cannot ${what}: ${noun} length must be a multiple of dim ${dim}: received ${values.length}`,
      );
    }
    list = Array.from(
      { length: values.length / dim },
      (_, i) => values.subarray(i * dim, (i + 1) * dim),
    );
  } else {
    values.forEach((v, i) => {
      if (!(v instanceof Float32Array) || v.length !== dim) {
        throw new TypeError(
          `Cannot ${what}: ${noun} ${i} must be a Float32Array of length ${dim}: received ${
            v instanceof Float32Array ? `length ${v.length}` : typeof v
          }`,
        );
      }
    });
    list = values.slice();
  }
  // Values that round to a float16 infinity (|x| >= 65520) do not fit a halfvec.
  const limit = storage === "float16" ? FLOAT16_MAX + 16 : Infinity;
  list.forEach((v, i) => {
    for (const x of v) {
      // x - x is NaN exactly for NaN and the infinities.
      if (x - x !== 0) throw new RangeError(`Cannot ${what}: ${noun} ${i} holds NaN or Infinity`);
      if (Math.abs(x) >= limit) {
        throw new RangeError(
          `Cannot ${what}: ${noun} ${i} holds ${x}, beyond float16's range (largest ` +
            `${FLOAT16_MAX}) of the table's halfvec column`,
        );
      }
    }
  });
  return list;
}

/**
 * pgvector's text form of a vector, `[x,y,...]`, each value written with the fewest digits that
 * read back as the same float32; for float16 storage, the value rounded to float16 first.
 * @param v the vector
 * @param storage the table's storage
 * @returns the literal
 */
export function vectorLiteral(v: Float32Array, storage: PgVectorStorage): string {
  const half = storage === "float16" ? float16Table() : null;
  const parts = new Array<string>(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = half === null ? v[i]! : half[floatToHalf(v[i]!)]!;
    let text = String(x);
    for (let digits = 6; digits < 9 && text.length > 9; digits++) {
      const shorter = x.toPrecision(digits);
      if (Math.fround(Number(shorter)) === x) {
        text = shorter;
        break;
      }
    }
    parts[i] = text;
  }
  return `[${parts.join(",")}]`;
}
