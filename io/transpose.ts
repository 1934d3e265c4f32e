/**
 * Transposing a row-major float32 matrix, a tile at a time. A plain row-by-row transpose writes
 * each value a whole row apart from the last, so every write misses the cache: for a
 * BERT-base feed-forward matrix (3072 x 768) that is most of a load's time on one core. Square
 * tiles keep the reads and the writes of one tile in cache.
 * @module
 */

/** The tile's side: 32 x 32 float32 values read (4 KB) and written. */
const TILE = 32;

/**
 * Writes the transpose of `data` ([rows, cols], row-major) into columns
 * `column..column + rows` of `out`, a row-major matrix of `cols` rows and `outCols` columns.
 * With `outCols === rows` and `column === 0` it is a plain transpose; a larger `outCols` places
 * the transpose beside others (the slices of a fused weight).
 * @param data the values, rows * cols
 * @param rows rows of `data`
 * @param cols columns of `data`
 * @param out the destination, at least cols * outCols values
 * @param outCols columns of `out`
 * @param column the first column of `out` written
 * @throws RangeError when the sizes do not fit
 */
export function transposeInto(
  data: Float32Array,
  rows: number,
  cols: number,
  out: Float32Array,
  outCols: number = rows,
  column = 0,
): void {
  if (
    data.length !== rows * cols || column < 0 || column + rows > outCols ||
    out.length < cols * outCols
  ) {
    throw new RangeError(
      `Cannot transpose a [${rows}, ${cols}] matrix of ${data.length} values into columns ` +
        `${column}..${column + rows} of a [${cols}, ${outCols}] matrix of ${out.length} values`,
    );
  }
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        const from = r * cols, to = column + r;
        for (let c = c0; c < c1; c++) out[c * outCols + to] = data[from + c]!;
      }
    }
  }
}
