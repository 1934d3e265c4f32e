import { runInChild, skipWebGpu } from "../backend/backends.ts";
import { CHECKPOINTS } from "./golden_helpers.ts";

// Every golden case on webgpu (a software adapter on CI: the cases are tiny), each checkpoint in a
// child process (WebGPU never runs in the test runner's process: see tests/backend/backends.ts).
// Skipped (not failed) when no adapter is available, unless DPR_EXPECT_BACKENDS names webgpu.
const ignore = await skipWebGpu();

for (const name of CHECKPOINTS) {
  Deno.test({
    name: `webgpu parity: ${name}, every golden case`,
    ignore,
    fn: async () => {
      await runInChild(new URL("./parity_webgpu_cases.ts", import.meta.url), "replayOnWebGpu", [
        name,
      ]);
    },
  });
}
