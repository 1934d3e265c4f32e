/**
 * int8 index vectors with a codebook (layout version 2): each value is one byte, a code into a
 * table of 256 levels, and
 *
 * ```
 * x[i][j] = offset[j] + spread[j] * scale[i] * codebook[code[i][j]]
 * ```
 *
 * - `offset`, `spread` (one float32 per dimension, per index): each dimension is centred and
 *   brought to unit spread before quantizing. Encoder outputs share a large common component and
 *   have dimensions of very different spreads; without this, those dimensions set every row's
 *   range and the small ones lose their precision. Fit once, on the first rows added
 *   ({@link fitDimensions}); rows added later reuse them (a row is quantized once, never again).
 * - `scale` (one float32 per row): the root mean square of the row's centred, scaled values, or
 *   more where a value would be clipped: its largest value over the outermost level.
 * - `codebook` (256 float32, per index): the Lloyd-Max levels of a unit Gaussian, level 128 being
 *   exactly 0 ({@link gaussianCodebook}). For the same byte per value, the levels are denser where
 *   values are frequent: about 30% less squared error than evenly spaced levels over the row's
 *   range (the version 1 layout, `int8 * (max |x| / 127)`), hence fewer ranking changes.
 *
 * Scores need no decoded vector: `q . x[i] = q . offset + scale[i] * sum_j (q[j] * spread[j]) *
 * codebook[code[i][j]]`, so a search multiplies the looked-up levels with the queries times
 * `spread` and adds `q . offset` per query.
 * @module
 */

/** Codes per index: one byte. */
export const LEVELS = 256;

/** Fewest rows {@link fitDimensions} fits offsets and spreads on (fewer: 0 and 1). */
export const MIN_FIT_ROWS = 256;

/** The per-index parameters of codebook int8 storage. */
export interface Int8Parameters {
  /** The 256 levels, indexed by the byte. */
  codebook: Float32Array;
  /** Per-dimension offset. */
  offset: Float32Array;
  /** Per-dimension spread (positive). */
  spread: Float32Array;
}

let cached: Float32Array | null = null;

/** Slices of the encoder's start table, over [-RANGE, RANGE]. */
const BUCKETS = 8192, RANGE = 8;

/**
 * The 256 Lloyd-Max levels of a unit Gaussian (ascending; level 128 pinned to exactly 0, so that
 * a value equal to its dimension's offset is stored exactly): computed once by Lloyd's iteration
 * over a fine grid of the density.
 * @returns the levels (shared: do not modify)
 */
export function gaussianCodebook(): Float32Array {
  if (cached !== null) return cached;
  // Cumulative mass and first moment of N(0, 1) on a grid over [-9, 9].
  const steps = 1 << 18, lo = -9, h = 18 / steps;
  const mass = new Float64Array(steps + 1), moment = new Float64Array(steps + 1);
  const cubeRoot = new Float64Array(steps + 1);
  for (let i = 0; i < steps; i++) {
    const x = lo + (i + 0.5) * h, p = Math.exp(-0.5 * x * x) * h;
    mass[i + 1] = mass[i]! + p;
    moment[i + 1] = moment[i]! + p * x;
    cubeRoot[i + 1] = cubeRoot[i]! + Math.exp(-x * x / 6);
  }
  const at = (x: number) => Math.max(0, Math.min(steps, Math.round((x - lo) / h)));
  const levels = new Float64Array(LEVELS);
  // Start from the asymptotically optimal density of levels (the density's cube root).
  for (let k = 0, i = 0; k < LEVELS; k++) {
    const target = ((k + 0.5) / LEVELS) * cubeRoot[steps]!;
    while (cubeRoot[i + 1]! < target) i++;
    levels[k] = lo + (i + 0.5) * h;
  }
  for (let iteration = 0; iteration < 400; iteration++) {
    let edge = 0;
    for (let k = 0; k < LEVELS; k++) {
      const next = k + 1 < LEVELS ? at(0.5 * (levels[k]! + levels[k + 1]!)) : steps;
      const m = mass[next]! - mass[edge]!;
      if (m > 0) levels[k] = (moment[next]! - moment[edge]!) / m;
      edge = next;
    }
    levels[128] = 0;
  }
  cached = Float32Array.from(levels);
  return cached;
}

/**
 * Per-dimension offsets (the mean) and spreads (the root mean square around it, floored at a tenth
 * of their overall root mean square so that a dimension nearly constant in these rows cannot blow
 * up later ones) of `rows`; with fewer than {@link MIN_FIT_ROWS} rows, 0 and 1.
 * @param rows `n * dim` values, row-major
 * @param dim values per row
 * @returns the offsets and spreads
 */
export function fitDimensions(
  rows: Float32Array,
  dim: number,
): { offset: Float32Array; spread: Float32Array } {
  const n = rows.length / dim;
  const offset = new Float32Array(dim), spread = new Float32Array(dim).fill(1);
  if (n < MIN_FIT_ROWS) return { offset, spread };
  const sum = new Float64Array(dim), squares = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) sum[j] = sum[j]! + rows[r * dim + j]!;
  }
  for (let j = 0; j < dim; j++) offset[j] = sum[j]! / n;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) {
      const d = rows[r * dim + j]! - offset[j]!;
      squares[j] = squares[j]! + d * d;
    }
  }
  let total = 0;
  for (let j = 0; j < dim; j++) total += squares[j]! / n;
  const floor = 0.1 * Math.sqrt(total / dim);
  for (let j = 0; j < dim; j++) {
    const s = Math.sqrt(squares[j]! / n);
    spread[j] = s > floor ? s : floor > 0 ? floor : 1;
  }
  return { offset, spread };
}

/**
 * Quantizes whole rows: writes their codes and row scales.
 * @param rows `n * dim` float32 values, row-major
 * @param dim values per row
 * @param parameters the index's codebook, offsets and spreads
 * @param codes destination of the `n * dim` codes
 * @param scales destination of the `n` row scales
 */
export function encodeRows(
  rows: Float32Array,
  dim: number,
  parameters: Int8Parameters,
  codes: Uint8Array,
  scales: Float32Array,
): void {
  const { codebook, offset, spread } = parameters;
  const n = rows.length / dim;
  // Decision edges between neighbouring levels (midpoints), and for each of BUCKETS even slices
  // of [-RANGE, RANGE] the first level whose upper edge is in or above it: a value starts at its
  // slice's level and moves up past the edges below it (a step or two at most).
  const edges = new Float64Array(LEVELS);
  for (let k = 0; k + 1 < LEVELS; k++) edges[k] = 0.5 * (codebook[k]! + codebook[k + 1]!);
  edges[LEVELS - 1] = Infinity;
  const first = new Uint8Array(BUCKETS);
  for (let b = 0, k = 0; b < BUCKETS; b++) {
    const start = -RANGE + (2 * RANGE * b) / BUCKETS;
    while (edges[k]! < start) k++;
    first[b] = k;
  }
  const perBucket = BUCKETS / (2 * RANGE);
  const reach = Math.min(-codebook[0]!, codebook[LEVELS - 1]!);
  const inverse = spread.map((s) => 1 / s);
  const z = new Float64Array(dim);
  for (let r = 0; r < n; r++) {
    const base = r * dim;
    let squares = 0, max = 0;
    for (let j = 0; j < dim; j++) {
      const v = (rows[base + j]! - offset[j]!) * inverse[j]!;
      z[j] = v;
      squares += v * v;
      max = Math.max(max, Math.abs(v));
    }
    // The row's root mean square, or more where that would clip a value past the outermost level
    // (an outlier then costs the row some precision, never its own value).
    const scale = Math.fround(Math.max(Math.sqrt(squares / dim), max / reach));
    scales[r] = scale;
    const inv = scale > 0 ? 1 / scale : 0;
    for (let j = 0; j < dim; j++) {
      const v = z[j]! * inv;
      const b = Math.floor((v + RANGE) * perBucket);
      let k = first[b < 0 ? 0 : b >= BUCKETS ? BUCKETS - 1 : b]!;
      while (v > edges[k]!) k++;
      codes[base + j] = k;
    }
  }
}
