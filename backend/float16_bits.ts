/**
 * IEEE half-precision (binary16) bit conversions to and from float32, below every other folder so
 * that checkpoint readers and float16 weights share them.
 * @module
 */

const scratch = new DataView(new ArrayBuffer(4));

/**
 * Decodes one IEEE 754 binary16 value given as its 16 bits.
 * @param bits the half-precision bit pattern (0..65535)
 * @returns the value as a JavaScript number (exactly representable in float32)
 */
export function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24; // subnormal or zero
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/**
 * Encodes a number as IEEE 754 binary16 bits, rounding to nearest even; out-of-range values
 * become ±Infinity.
 * @param value the number to encode
 * @returns the 16-bit pattern
 */
export function floatToHalf(value: number): number {
  scratch.setFloat32(0, value);
  return halfBits(scratch.getUint32(0));
}

/**
 * binary16 bits of the float32 whose bits are `x`, rounding to nearest even.
 * @param x a float32 bit pattern (as an unsigned 32-bit integer)
 * @returns the 16-bit pattern
 */
export function halfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf or NaN
  const e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal half: shift the implicit leading 1 into the mantissa.
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    let half = mantissa >> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1))) half += 1;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half += 1; // may carry into the exponent
  return sign | half; // a carry into exponent 31 gives exactly Infinity's pattern
}

let cachedTable: Float32Array | null = null;

/**
 * Every binary16 bit pattern decoded (65,536 float32 values, built once): decoding by lookup is
 * much faster than bit manipulation for whole tensors.
 * @returns the shared table; do not modify it
 */
export function float16Table(): Float32Array {
  if (cachedTable === null) {
    cachedTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) cachedTable[i] = halfToFloat(i);
  }
  return cachedTable;
}
