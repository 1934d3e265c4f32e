/**
 * IEEE half-precision and bfloat16 conversions to and from float32, written out because neither
 * JavaScript nor TensorFlow.js offers them on plain arrays.
 * @module
 */

import { float16Table, halfBits, halfToFloat } from "../backend/float16_bits.ts";

export { floatToHalf, halfToFloat } from "../backend/float16_bits.ts";

/**
 * Decodes little-endian binary16 values to float32.
 * @param bytes 2 bytes per value, little-endian
 * @returns the decoded values
 */
export function decodeFloat16(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length >> 1);
  // A lookup table is much faster than decoding each value for large tensors.
  const table = float16Table();
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
