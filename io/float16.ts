/**
 * IEEE half-precision and bfloat16 conversions to and from float32, written out because neither
 * JavaScript nor TensorFlow.js offers them on plain arrays.
 * @module
 */

import { float16Table, halfBits } from "../backend/float16_bits.ts";

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
