import { deepEqual, equal, throws } from "node:assert/strict";
import { decodeFloat16, decodeFloat16Into, halfToFloat } from "../../io/float16.ts";

/** Every finite and infinite binary16 bit pattern, little-endian. */
function allHalves(): Uint8Array {
  const bits = new Uint16Array(65536 - 2046); // NaNs left out: their payloads are not compared
  let n = 0;
  for (let b = 0; b < 65536; b++) if (!Number.isNaN(halfToFloat(b))) bits[n++] = b;
  return new Uint8Array(bits.buffer);
}

Deno.test("decodeFloat16Into gives decodeFloat16's values bit for bit, into the buffer given", () => {
  const bytes = allHalves();
  const n = bytes.length / 2;
  const expected = decodeFloat16(bytes);
  const target = new Float32Array(n + 10); // longer than needed: a reused buffer
  const out = decodeFloat16Into(bytes, target);
  equal(out.buffer, target.buffer);
  equal(out.length, n);
  deepEqual(new Uint32Array(out.slice().buffer), new Uint32Array(expected.buffer));
  // An odd byte offset (a view into a larger buffer) decodes the same values.
  const shifted = new Uint8Array(bytes.length + 1);
  shifted.set(bytes, 1);
  const odd = decodeFloat16Into(shifted.subarray(1), new Float32Array(n));
  deepEqual(new Uint32Array(odd.buffer), new Uint32Array(expected.buffer));
});

Deno.test("decodeFloat16Into refuses a target shorter than the values", () => {
  throws(
    () => decodeFloat16Into(new Uint8Array(8), new Float32Array(3)),
    /Cannot decode 4 float16 values into a float32 array of 3 elements/,
  );
});
