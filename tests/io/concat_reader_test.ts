import { deepEqual, equal, rejects } from "node:assert/strict";
import { memoryReader } from "../../io/byte_reader.ts";
import { concatReader } from "../../io/concat_reader.ts";

Deno.test("concatReader reads across its parts, empty ones included, and refuses the outside", async () => {
  const parts = [[1, 2, 3], [], [4], [5, 6, 7, 8]].map((p, i) =>
    memoryReader(new Uint8Array(p), `part ${i}`)
  );
  const reader = concatReader(parts, "the shards");
  equal(reader.size, 8);
  deepEqual([...await reader.read(0, 8)], [1, 2, 3, 4, 5, 6, 7, 8]);
  deepEqual([...await reader.read(2, 3)], [3, 4, 5]);
  const into = new Uint8Array(2);
  await reader.readInto!(3, into);
  deepEqual([...into], [4, 5]);
  await rejects(reader.read(6, 3), /Cannot read the shards: bytes 6\.\.9 lie outside its 8 bytes/);
});

Deno.test("concatReader releases the part it read before when it moves to another", async () => {
  const released: number[] = [];
  const parts = [[1, 2], [3, 4], [5, 6]].map((p, i) => ({
    ...memoryReader(new Uint8Array(p), `part ${i}`),
    release: () => released.push(i),
  }));
  const reader = concatReader(parts, "the shards");
  await reader.read(0, 1);
  await reader.read(1, 1);
  deepEqual(released, []);
  await reader.read(1, 2); // ends in part 1
  deepEqual(released, [0]);
  await reader.read(4, 2);
  deepEqual(released, [0, 1]);
});
