/**
 * The webgpu parity case, run in a child process per checkpoint by parity_webgpu_test.ts.
 * @module
 */
import { deepEqual } from "node:assert/strict";
import { setBackend } from "../../backend/set_backend.ts";
import { CHECKPOINTS, readGolden } from "./golden_helpers.ts";
import { replayCheckpoint } from "./parity_cases.ts";

/** Every golden case of fixture checkpoint `name` on webgpu, within 1e-3. */
export async function replayOnWebGpu(name: string): Promise<void> {
  const checkpoint = CHECKPOINTS.find((known) => known === name);
  if (checkpoint === undefined) throw new RangeError(`no fixture checkpoint "${name}"`);
  await setBackend("webgpu");
  const replayed = await replayCheckpoint(checkpoint, { tolerance: 1e-3 });
  deepEqual(replayed, readGolden(checkpoint).cases.map((c) => c.name));
}
