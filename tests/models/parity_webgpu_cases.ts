/**
 * The webgpu parity case, run in a child process per checkpoint by parity_webgpu_test.ts.
 * @module
 */
import { deepEqual } from "node:assert/strict";
import { setBackend } from "../../backend/set_backend.ts";
import { CHECKPOINTS, readGolden } from "./golden_helpers.ts";
import { replayCheckpoint } from "./parity_cases.ts";

/**
 * Every golden case of fixture checkpoint `name` on webgpu, within 1e-4: on Mesa's llvmpipe
 * adapter the worst difference measured is 3.0e-6 (2026-12-06), as on cpu; the wider bound leaves
 * room for GPUs' own rounding (an NVIDIA H200 was checked at 1e-3 only).
 */
export async function replayOnWebGpu(name: string): Promise<void> {
  const checkpoint = CHECKPOINTS.find((known) => known === name);
  if (checkpoint === undefined) throw new RangeError(`no fixture checkpoint "${name}"`);
  await setBackend("webgpu");
  const replayed = await replayCheckpoint(checkpoint, { tolerance: 1e-4 });
  deepEqual(replayed, readGolden(checkpoint).cases.map((c) => c.name));
}
