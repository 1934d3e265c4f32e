import { deepEqual } from "node:assert/strict";
import { setBackend } from "../../backend/set_backend.ts";
import { CHECKPOINTS, readGolden } from "./golden_helpers.ts";
import { replayCheckpoint } from "./parity_cases.ts";

// Every golden case of every fixture checkpoint, on the wasm backend, within 2e-5 (measured
// worst 2.8e-6; see parity_cpu_test.ts).
for (const name of CHECKPOINTS) {
  Deno.test(`wasm parity: ${name}, every golden case`, async () => {
    await setBackend("wasm");
    try {
      const replayed = await replayCheckpoint(name, { tolerance: 2e-5 });
      deepEqual(replayed, readGolden(name).cases.map((c) => c.name));
    } finally {
      await setBackend("cpu");
    }
  });
}
