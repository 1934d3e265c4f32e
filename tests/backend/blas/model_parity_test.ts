// Every Hugging Face golden case of every fixture checkpoint, replayed on the "blas" backend
// (native GEMMs, fast elementwise kernels), within the same 2e-5 as the cpu backend (measured
// worst 3.2e-6, packed or plain weights; see tests/models/parity_cpu_test.ts).
import { deepEqual } from "node:assert/strict";
import { tf } from "../../../backend/tf.ts";
import { registerBlasBackend } from "../../../backend/blas/register.ts";
import { CHECKPOINTS, readGolden } from "../../models/golden_helpers.ts";
import { replayCheckpoint } from "../../models/parity_cases.ts";
import { missingOpenBlas } from "./libraries.ts";

// Without OpenBLAS these tests are ignored (never passed), with a line saying what to install.
const noBlas = missingOpenBlas("blas parity") !== undefined;
const blasTest = noBlas ? Deno.test.ignore : Deno.test;

// OpenBLAS alone here: the oneDNN path runs in child processes (onednn_test.ts), so that this
// test process never starts its OpenMP threads.
if (!noBlas) await registerBlasBackend({ oneDnn: false });

for (const name of CHECKPOINTS) {
  blasTest(`blas parity: ${name}, every golden case`, async () => {
    await tf.setBackend("blas");
    const replayed = await replayCheckpoint(name, { tolerance: 2e-5 });
    deepEqual(replayed, readGolden(name).cases.map((c) => c.name));
  });
}
