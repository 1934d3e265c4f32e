import { deepEqual, equal, rejects } from "node:assert/strict";
import { writeSafetensors } from "../../io/safetensors.ts";
import { safetensorsFileSource } from "../../io/safetensors_source.ts";
import type { StateDict } from "../../io/state_dict.ts";
import { seeded } from "../seeded.ts";

function sample(): StateDict {
  return new Map([
    ["a.weight", { shape: [5, 3], data: seeded(15, 1) }],
    ["b", { shape: [4], data: seeded(4, 2) }],
  ]);
}

Deno.test("safetensorsFileSource: shapes up front, whole tensors and row ranges on request", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sd = sample();
    await Deno.writeFile(`${dir}/model.safetensors`, writeSafetensors(sd));
    const source = await safetensorsFileSource(`${dir}/model.safetensors`, "the sample");
    try {
      deepEqual([...source.shapes], [["a.weight", [5, 3]], ["b", [4]]]);
      deepEqual([...await source.read("a.weight")], [...sd.get("a.weight")!.data]);
      const rows = await source.readRows!("a.weight", 1, 4);
      deepEqual([...rows], [...sd.get("a.weight")!.data.subarray(3, 12)]);
      equal((await source.readRows!("a.weight", 2, 2)).length, 0);
      await rejects(source.read("c"), /Cannot read c: the sample lacks it/);
      await rejects(source.readRows!("a.weight", 3, 6), /rows 3\.\.6 of a\.weight: it has 5/);
      // The stored bytes straight into a caller's buffer (a view inside a larger one here).
      const target = new Uint8Array(4 + 16 + 4);
      await source.readRawInto!("b", target.subarray(4, 20));
      deepEqual(target.subarray(4, 20), await source.readRaw!("b"));
      deepEqual([...target.subarray(0, 4), ...target.subarray(20)], new Array(8).fill(0));
      await rejects(source.readRawInto!("b", new Uint8Array(15)), /into 15 bytes: it holds 16/);
      await rejects(source.readRawInto!("c", target), /Cannot read c: the sample lacks it/);
    } finally {
      source.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
