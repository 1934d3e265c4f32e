/**
 * Where a DPR forward pass spends its time, kernel by kernel (tfjs's profiler), on one backend:
 *
 *   deno run -A --lock=bench/deno.lock bench/profile_kernels.ts [backend=blas] [layers=2] [batch=16] [seq=256]
 *
 * Prints the wall time of two passes, then the kernels sorted by total time.
 * @module
 */
import { tf } from "../backend/tf.ts";
import { type ConcreteBackendName, setBackend } from "../backend/set_backend.ts";
import { DPRConfig } from "../models/config.ts";
import { DPRContextEncoder } from "../models/dpr_context_encoder.ts";
import { bertFlops } from "./flops.ts";

const [backend = "blas", layers = "2", batch = "16", seq = "256"] = Deno.args;
await setBackend(backend as ConcreteBackendName);
const B = Number(batch), T = Number(seq);
const config = new DPRConfig({ numHiddenLayers: Number(layers) });
const model = new DPRContextEncoder(config, { seed: 1 });
const ids = tf.tensor2d(
  new Int32Array(B * T).map((_, i) => 1000 + (i * 7919) % 29000),
  [B, T],
  "int32",
);
const run = async (): Promise<void> => {
  const { poolerOutput } = model.forward({ inputIds: ids });
  await poolerOutput.data();
  poolerOutput.dispose();
};
await run();
for (let i = 0; i < 2; i++) {
  const t0 = performance.now();
  await run();
  const ms = performance.now() - t0;
  console.log(`${ms.toFixed(0)} ms, ${(bertFlops(config, B, T) / ms / 1e6).toFixed(1)} GFLOP/s`);
}
const profile = await tf.profile(run);
const byKernel = new Map<string, { ms: number; calls: number }>();
for (const k of profile.kernels) {
  const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
  entry.ms += Number(k.kernelTimeMs);
  entry.calls++;
  byKernel.set(k.name, entry);
}
const total = [...byKernel.values()].reduce((sum, e) => sum + e.ms, 0);
for (const [name, e] of [...byKernel].sort((a, b) => b[1].ms - a[1].ms)) {
  const share = ((100 * e.ms) / total).toFixed(1);
  console.log(
    `${name.padEnd(26)} ${e.ms.toFixed(0).padStart(7)} ms ${String(e.calls).padStart(5)} ${share}%`,
  );
}
model.dispose();
ids.dispose();
