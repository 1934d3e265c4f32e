/**
 * What the wasm integer kernel multiplies, computed in plain JavaScript: each row of x quantized
 * to 8-bit codes with a scale and zero point (`backend/wasm_kernels/int8_emit.ts`), as float64.
 * @module
 */

/** Rounds half to even, as `f32.nearest`. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const clamp = (v: number): number => Math.min(255, Math.max(0, v));

/**
 * The codes (0..255), zero point and scale of one row, as the kernel computes them in float32.
 * @param row the row's values
 */
export function quantizeActivationRow(
  row: ArrayLike<number>,
): { codes: number[]; zero: number; scale: number } {
  let lo = 0, hi = 0;
  for (let c = 0; c < row.length; c++) {
    lo = Math.min(lo, row[c]!);
    hi = Math.max(hi, row[c]!);
  }
  const range = Math.fround(hi - lo);
  if (!(range > 0)) return { codes: Array.from(row, () => 0), zero: 0, scale: range };
  const scale = Math.fround(range / 255), inv = Math.fround(255 / range);
  const zero = clamp(roundHalfEven(Math.fround(-lo * inv)));
  const codes = Array.from(row, (v) => clamp(roundHalfEven(Math.fround(v * inv)) + zero));
  return { codes, zero, scale };
}

/**
 * x with each row replaced by its codes less the zero point times its scale (what the kernel's
 * products see).
 * @param x [m, k] row-major
 * @param m rows
 * @param k columns
 * @returns [m, k] float64
 */
export function quantizedActivations(x: ArrayLike<number>, m: number, k: number): Float64Array {
  const out = new Float64Array(m * k);
  for (let i = 0; i < m; i++) {
    const row = Array.from({ length: k }, (_, c) => x[i * k + c]!);
    const { codes, zero, scale } = quantizeActivationRow(row);
    for (let c = 0; c < k; c++) out[i * k + c] = (codes[c]! - zero) * scale;
  }
  return out;
}
