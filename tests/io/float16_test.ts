import assert from "node:assert/strict";
import { decodeFloat16Words, halfToFloat } from "../../io/float16.ts";

Deno.test("decodeFloat16Words: every binary16 pattern decodes as halfToFloat does", () => {
  const words = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const out = decodeFloat16Words(words);
  for (let i = 0; i < 65536; i++) {
    const expected = Math.fround(halfToFloat(i));
    assert.ok(
      Object.is(out[i], expected) || (isNaN(out[i]!) && isNaN(expected)),
      `0x${i.toString(16)}`,
    );
  }
  // Into a given array, at an offset.
  const target = new Float32Array(5);
  decodeFloat16Words(new Uint16Array([0x3c00, 0xc000]), target.subarray(2));
  assert.deepEqual(Array.from(target), [0, 0, 1, -2, 0]);
});
