import { deepEqual } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { CHECKPOINTS, readGolden } from "./golden_helpers.ts";
import { replayCheckpoint } from "./parity_cases.ts";

// Every golden case of every fixture checkpoint, on the cpu backend, within 1e-4.
for (const name of CHECKPOINTS) {
  Deno.test(`cpu parity: ${name}, every golden case`, async () => {
    await tf.setBackend("cpu");
    const replayed = await replayCheckpoint(name, { tolerance: 1e-4 });
    deepEqual(replayed, readGolden(name).cases.map((c) => c.name));
  });
}
