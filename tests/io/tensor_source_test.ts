import { deepEqual, equal, rejects } from "node:assert/strict";
import { stateDictSource } from "../../io/tensor_source.ts";
import type { StateDict } from "../../io/state_dict.ts";
import { seeded } from "../seeded.ts";

function sample(): StateDict {
  return new Map([
    ["a.weight", { shape: [5, 3], data: seeded(15, 1) }],
    ["b", { shape: [4], data: seeded(4, 2) }],
  ]);
}

Deno.test("stateDictSource serves a state dict already in memory", async () => {
  const sd = sample();
  const source = stateDictSource(sd, "memory");
  deepEqual(source.shapes.get("b"), [4]);
  equal(await source.read("b"), sd.get("b")!.data);
  await rejects(source.read("zz"), /memory lacks it/);
});
