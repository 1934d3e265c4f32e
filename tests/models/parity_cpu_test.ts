import { deepEqual } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { CHECKPOINTS, readGolden } from "./golden_helpers.ts";
import { replayCheckpoint } from "./parity_cases.ts";

// Every golden case of every fixture checkpoint, on the cpu backend, within 2e-5: the worst
// difference measured on cpu, wasm and blas is 3.2e-6 (2026-12-06), so 2e-5 leaves a 6x margin
// while a real bug (LayerNorm epsilon 1e-5 instead of 1e-12: 6.9e-5) fails it.
for (const name of CHECKPOINTS) {
  Deno.test(`cpu parity: ${name}, every golden case`, async () => {
    await tf.setBackend("cpu");
    const replayed = await replayCheckpoint(name, { tolerance: 2e-5 });
    deepEqual(replayed, readGolden(name).cases.map((c) => c.name));
  });
}
