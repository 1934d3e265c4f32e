import { deepEqual } from "node:assert/strict";
import { setBackend } from "../../backend/set_backend.ts";
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
      await setBackend("webgpu");
      try {
        const replayed = await replayCheckpoint(name, { tolerance: 1e-3 });
        deepEqual(replayed, readGolden(name).cases.map((c) => c.name));
      } finally {
        await setBackend("cpu");
      }
    },
  });
}
