import { deepEqual, equal, ok } from "node:assert/strict";
import { encoderAlone } from "../../tools/edge_check_encoder.ts";

const TINY = new URL("../fixtures/models/dpr-question_encoder-tiny", import.meta.url).pathname;

Deno.test({
  name: "encoderAlone: the question encoder in a child, its memory read at every stage",
  ignore: Deno.build.os !== "linux", // reads /proc/<pid>/status
  async fn() {
    const { stages, loadMs } = await encoderAlone(TINY, "int8", ["who wrote hamlet?", "paris"]);
    deepEqual(stages.map((s) => s.stage), [
      "started",
      "imported",
      "wasm started",
      "loaded",
      "questions",
    ]);
    ok(loadMs >= 0, `loadMs ${loadMs}`);
    for (const [i, s] of stages.entries()) {
      ok(s.rss > 0 && s.peak >= s.rss, `${s.stage}: rss ${s.rss}, peak ${s.peak}`);
      if (i > 0) ok(s.peak >= stages[i - 1]!.peak, `${s.stage}: the peak never falls`);
    }
    equal(stages[1]!.wasmHeap, 0); // wasm not started yet
    ok(stages.at(-1)!.wasmHeap > 0);
    ok(stages.at(-1)!.heapTotal > 0);
    // int8 weights on wasm live in the kernel memory
    ok(stages.at(-1)!.kernelMemory > stages[2]!.kernelMemory);
  },
});

Deno.test("encoderAlone: a folder without a model fails with the child's error", async () => {
  const empty = await Deno.makeTempDir();
  let message = "";
  try {
    await encoderAlone(empty, undefined, ["q"]);
  } catch (error) {
    message = (error as Error).message;
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
  ok(/the encoder child failed[^]*config\.json/.test(message), message.slice(0, 300));
});
