/**
 * Deterministic test data: `size` values in [-scale, scale) from a 32-bit linear congruential
 * generator started at `seed` (the same sequence for the same seed on every run and machine).
 */
export function seeded(size: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s / 2147483648 - 1) * scale;
  }
  return out;
}
