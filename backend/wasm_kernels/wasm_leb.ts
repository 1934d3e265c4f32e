/**
 * LEB128, the variable-length integer encoding of WebAssembly's binary format (immediates, sizes,
 * indices), for `wasm_writer.ts`.
 * @module
 */

/** Appends the unsigned LEB128 encoding of `n`. */
export function uleb(out: number[], n: number): void {
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
}

/** Appends the signed LEB128 encoding of the 32-bit integer `n`. */
export function sleb(out: number[], n: number): void {
  n |= 0;
  while (true) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}
