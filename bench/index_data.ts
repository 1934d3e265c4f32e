/**
 * Seeded test vectors for the index benchmarks, Gaussian (the hard case for quantization) and
 * clustered with uneven dimensions (closer to encoder outputs), and the measures they share.
 * @module
 */

/** Seeded standard normal values (Box-Muller over a 32-bit LCG). */
export function gaussian(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  for (let i = 0; i < size; i += 2) {
    const r = Math.sqrt(-2 * Math.log(next())), t = 2 * Math.PI * next();
    out[i] = r * Math.cos(t);
    if (i + 1 < size) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/**
 * Vectors with the traits of encoder outputs that make quantization harder than on Gaussians'
 * average case: 200 clusters, per-dimension spreads over a decade, two dimensions 8x larger.
 */
export function clustered(rows: number, dim: number, seed: number): Float32Array {
  const spread = gaussian(dim, 7).map((x) => Math.exp(0.5 * x));
  spread[5] = spread[Math.floor(dim / 2)] = 8;
  const centers = gaussian(200 * dim, 8);
  const out = gaussian(rows * dim, seed);
  let s = seed ^ 0x5bd1e995;
  for (let r = 0; r < rows; r++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const c = (s % 200) * dim;
    for (let j = 0; j < dim; j++) {
      out[r * dim + j] = (0.6 * centers[c + j]! + out[r * dim + j]!) * spread[j]!;
    }
  }
  return out;
}

/** The median. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** `x` rounded to `digits` decimals. */
export function round(x: number, digits = 3): number {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

/** The 1-minute load average, or NaN. */
export function loadAverage(): number {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return NaN;
  }
}

/** Mean share of `reference`'s rows (per query) found in `ours`. */
export function overlap(ours: number[][], reference: number[][]): number {
  let sum = 0;
  reference.forEach((ref, i) => {
    const mine = new Set(ours[i]);
    sum += ref.filter((row) => mine.has(row)).length / ref.length;
  });
  return sum / reference.length;
}
