/**
 * What the wasm integer kernel multiplies, computed in plain JavaScript: each row of x quantized
 * to 13-bit codes with one symmetric scale (`backend/wasm_kernels/int8_module.ts`), as float64.
 * @module
 */
import { activationQmax } from "../../../backend/wasm_kernels/int8_product.ts";

/** Rounds half to even, as `f32.nearest`. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The codes and scale of one row, as the kernel computes them in float32.
 * @param row the row's values
 * @param qmax the largest code
 */
export function quantizeActivationRow(
  row: ArrayLike<number>,
  qmax: number,
): { codes: number[]; scale: number } {
  let max = 0;
  for (let c = 0; c < row.length; c++) max = Math.max(max, Math.abs(row[c]!));
  if (!(max > 0)) return { codes: Array.from(row, () => 0), scale: max };
  const scale = Math.fround(max / qmax), inv = Math.fround(qmax / max);
  return { codes: Array.from(row, (v) => roundHalfEven(Math.fround(v * inv))), scale };
}

/**
 * x with each row replaced by its codes times its scale (what the kernel's products see).
 * @param x [m, k] row-major
 * @param m rows
 * @param k columns
 * @returns [m, k] float64
 */
export function quantizedActivations(x: ArrayLike<number>, m: number, k: number): Float64Array {
  const out = new Float64Array(m * k), qmax = activationQmax(k);
  for (let i = 0; i < m; i++) {
    const row = Array.from({ length: k }, (_, c) => x[i * k + c]!);
    const { codes, scale } = quantizeActivationRow(row, qmax);
    for (let c = 0; c < k; c++) out[i * k + c] = codes[c]! * scale;
  }
  return out;
}
