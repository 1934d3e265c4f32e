/**
 * IEEE half-precision and bfloat16 conversions to and from float32, written out because neither
 * JavaScript nor TensorFlow.js offers them on plain arrays.
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

/** binary16 bits of the float32 whose bits are `x`, rounding to nearest even. */
function halfBits(x: number): number {
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

/**
 * Decodes little-endian binary16 values to float32.
 * @param bytes 2 bytes per value, little-endian
 * @returns the decoded values
 */
export function decodeFloat16(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length >> 1);
  // A lookup table is much faster than decoding each value for large tensors.
  const table = halfTable();
  for (let i = 0; i < out.length; i++) {
    out[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  }
  return out;
}

/**
 * Decodes binary16 words (native order) to float32, into `out` when given: bit arithmetic for
 * normal values, the exact decoder for zeros, subnormals, infinities and NaN.
 * @param words the half-precision bit patterns
 * @param out where to write (at least `words.length` values); default a new array
 * @returns `out`
 */
export function decodeFloat16Words(
  words: Uint16Array,
  out: Float32Array = new Float32Array(words.length),
): Float32Array {
  const bits = new Uint32Array(out.buffer, out.byteOffset, words.length);
  for (let i = 0; i < words.length; i++) {
    const h = words[i]!;
    const exponent = h & 0x7c00;
    if (exponent !== 0 && exponent !== 0x7c00) {
      // Sign to bit 31; exponent and mantissa shifted into place, the bias moved from 15 to 127.
      bits[i] = (((h & 0x8000) << 16) | (((h & 0x7fff) << 13) + 0x38000000)) >>> 0;
    } else {
      out[i] = halfToFloat(h);
    }
  }
  return out;
}

/**
 * Decodes little-endian bfloat16 values to float32 (bfloat16 is the top half of a float32).
 * @param bytes 2 bytes per value, little-endian
 * @returns the decoded values
 */
export function decodeBfloat16(bytes: Uint8Array): Float32Array {
  const n = bytes.length >> 1;
  const words = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    words[i] = ((bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16) >>> 0;
  }
  return new Float32Array(words.buffer);
}

/**
 * Encodes float32 values as little-endian binary16.
 * @param values the values to encode
 * @returns 2 bytes per value
 */
export function encodeFloat16(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  // Read the float32 bit patterns directly (values is 4-byte aligned by construction).
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    const h = halfBits(bits[i]!);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >> 8;
  }
  return out;
}

let cachedTable: Float32Array | null = null;

function halfTable(): Float32Array {
  if (cachedTable === null) {
    cachedTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) cachedTable[i] = halfToFloat(i);
  }
  return cachedTable;
}
