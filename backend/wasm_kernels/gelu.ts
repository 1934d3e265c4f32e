/**
 * GELU, exact (erf) form, applied in place for the wasm path's matrix kernel. Self-contained (no
 * references outside the function): it also runs as source text in the kernel's helper workers.
 * @module
 */

/**
 * `x ← 0.5 x (1 + erf(x / √2))` over `values[from, to)`, erf by the Abramowitz & Stegun 7.1.26
 * rational approximation the cpu backend uses (absolute error below 1.5e-7).
 */
export function geluErfInPlace(values: Float32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const x = values[i]!;
    const z = x * 0.7071067811865476;
    const v = z < 0 ? -z : z;
    const t = 1 / (1 + 0.3275911 * v);
    const poly = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t +
      0.254829592) * t;
    const y = 1 - poly * Math.exp(-v * v);
    values[i] = 0.5 * x * (1 + (z < 0 ? -y : y));
  }
}
