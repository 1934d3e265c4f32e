import { deepEqual, equal, notEqual } from "node:assert/strict";
import { memoryReader } from "../../io/byte_reader.ts";
import { decodeFloat16, encodeFloat16 } from "../../io/float16.ts";
import { rangedTensorSource } from "../../io/ranged_source.ts";
import { seeded } from "../seeded.ts";

Deno.test("rangedTensorSource: float16 rows decode bit for bit into one reused buffer", async () => {
  const rows = 7, cols = 5;
  const half = encodeFloat16(seeded(rows * cols, 3));
  const bytes = new Uint8Array(6 + half.length); // the tensor after 6 bytes of something else
  bytes.set(half, 6);
  const source = rangedTensorSource("the sample", [{
    name: "table",
    shape: [rows, cols],
    dtype: "F16",
    reader: memoryReader(bytes),
    begin: 6,
    byteLength: half.length,
  }]);
  try {
    const whole = decodeFloat16(half);
    deepEqual([...await source.read("table")], [...whole]);
    const first = await source.readRows!("table", 0, 3);
    deepEqual([...first], [...whole.subarray(0, 3 * cols)]);
    const firstBuffer = first.buffer;
    const second = await source.readRows!("table", 3, 5);
    deepEqual([...second], [...whole.subarray(3 * cols, 5 * cols)]);
    // No fresh array per block: the blocks land in the same float32 buffer.
    equal(second.buffer, firstBuffer);
    // A larger block grows the buffer once; its values are still exact.
    const all = await source.readRows!("table", 0, rows);
    notEqual(all.buffer, firstBuffer);
    deepEqual([...all], [...whole]);
  } finally {
    source.close();
  }
});
