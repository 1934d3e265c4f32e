import { deepEqual, equal, rejects } from "node:assert/strict";
import { fillingReader, openFileReader, readUpTo } from "../../io/byte_reader.ts";
import { readAt } from "../../io/safetensors.ts";

Deno.test("readUpTo: reads a whole range, and stops at the end of the file", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/bytes.bin`;
  try {
    await Deno.writeFile(path, new Uint8Array([1, 2, 3, 4, 5]));
    using file = await Deno.open(path, { read: true });
    const whole = await readUpTo(file, 1, 3);
    equal(whole.filled, 3);
    deepEqual(Array.from(whole.bytes), [2, 3, 4]);
    const short = await readUpTo(file, 3, 4);
    equal(short.filled, 2);
    deepEqual(Array.from(short.bytes), [4, 5, 0, 0]);
    deepEqual(Array.from(await readAt(file, 0, 5)), [1, 2, 3, 4, 5]);
    await rejects(readAt(file, 3, 4), {
      name: "RangeError",
      message: "Cannot read 4 bytes at offset 3: the file ended after 2",
    });
    const reader = await openFileReader(path);
    try {
      deepEqual(Array.from(await reader.read(2, 2)), [3, 4]);
      await rejects(reader.read(4, 2), RangeError);
    } finally {
      reader.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("fillingReader reads through its fill function into fresh buffers and closes once", async () => {
  const calls: Array<[number, number]> = [];
  let closed = 0;
  const reader = fillingReader("counting file", 10, (offset, target) => {
    calls.push([offset, target.length]);
    for (let i = 0; i < target.length; i++) target[i] = offset + i;
    return Promise.resolve();
  }, () => closed++);
  equal(reader.size, 10);
  deepEqual([...await reader.read(3, 4)], [3, 4, 5, 6]);
  const mine = new Uint8Array(2);
  await reader.readInto!(8, mine);
  deepEqual([...mine], [8, 9]);
  deepEqual(calls, [[3, 4], [8, 2]]);
  reader.close();
  equal(closed, 1);
});
