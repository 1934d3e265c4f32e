import "@tensorflow/tfjs-backend-webgpu";
import { deepEqual } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { CHECKPOINTS, readGolden } from "./golden_helpers.ts";
import { replayCheckpoint } from "./parity_cases.ts";

// Every golden case on webgpu (a software adapter on CI: the cases are tiny), within 1e-3.
// Skipped (not failed) when no adapter is available.
const hasWebgpu = "gpu" in navigator &&
  (await (navigator as unknown as { gpu: { requestAdapter(): Promise<unknown> } }).gpu
      .requestAdapter()) !== null;

for (const name of CHECKPOINTS) {
  Deno.test({
    name: `webgpu parity: ${name}, every golden case`,
    ignore: !hasWebgpu,
    fn: async () => {
      const previous = tf.getBackend() ?? "cpu";
      if (!(await tf.setBackend("webgpu"))) throw new Error("webgpu backend failed to start");
      try {
        const replayed = await replayCheckpoint(name, { tolerance: 1e-3 });
        deepEqual(replayed, readGolden(name).cases.map((c) => c.name));
      } finally {
        await tf.setBackend(previous);
      }
    },
  });
}
