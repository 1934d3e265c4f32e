/**
 * IEEE half-precision and bfloat16 conversions to and from float32 on plain arrays. Half
 * precision uses the built-in `Float16Array` (Deno 2.5 and later have it; it rounds to nearest
 * even, as IEEE 754 does); bfloat16, which JavaScript has no array for, is written out.
 * Multi-byte values are little-endian, as on every platform Deno runs on.
 * @module
 */

export { floatToHalf, halfToFloat } from "../backend/float16_bits.ts";

/**
 * Decodes little-endian binary16 values to float32.
 * @param bytes 2 bytes per value, little-endian
 * @returns the decoded values
 */
export function decodeFloat16(bytes: Uint8Array): Float32Array {
  return decodeFloat16Into(bytes, new Float32Array(bytes.length >> 1));
}

/**
 * Decodes little-endian binary16 values into an existing float32 array (a reused buffer: no
 * array the size of the values is left for the collector).
 * @param bytes 2 bytes per value, little-endian
 * @param target receives the values; at least `bytes.length / 2` long
 * @returns the decoded values: `target`'s first `bytes.length / 2` elements
 * @throws RangeError when `target` is too short
 */
export function decodeFloat16Into(bytes: Uint8Array, target: Float32Array): Float32Array {
  const n = bytes.length >> 1;
  if (target.length < n) {
    throw new RangeError(
      `Cannot decode ${n} float16 values into a float32 array of ${target.length} elements`,
    );
  }
  // A Float16Array view needs an even byte offset; an odd one is copied first.
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice(0, 2 * n);
  const out = target.length === n ? target : target.subarray(0, n);
  out.set(new Float16Array(aligned.buffer, aligned.byteOffset, n));
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
 * Encodes float32 values as little-endian binary16 (round to nearest even).
 * @param values the values to encode
 * @returns 2 bytes per value
 */
export function encodeFloat16(values: Float32Array): Uint8Array {
  return new Uint8Array(new Float16Array(values).buffer);
}
