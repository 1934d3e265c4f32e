/**
 * Subprocess script for set_backend_test.ts: selects a backend (argument, else DPR_BACKEND/auto),
 * runs a small matmul on it, then one on cpu, and prints one JSON line with what happened.
 * Run as `deno run --allow-read --no-prompt tests/backend/select_and_matmul.ts [backend [wasmThreads]]`.
 * @module
 */
import { tf } from "../../backend/tf.ts";
import { type BackendName, setBackend } from "../../backend/set_backend.ts";

const name = Deno.args[0] as BackendName | undefined;
const wasmThreads = Deno.args[1] === undefined ? "auto" : Number(Deno.args[1]);
const chosen = await setBackend(name, { threads: wasmThreads });
// [2, 3] x [3, 2] -> [2, 2]
const a = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
const b = tf.tensor2d([[7, 8], [9, 10], [11, 12]]);
const product = Array.from(await tf.matMul(a, b).data());
await setBackend("cpu");
const onCpu = Array.from(await tf.matMul(a, b).data());
console.log(JSON.stringify({
  backend: chosen.backend,
  source: chosen.source,
  threads: chosen.info.threads,
  simd: chosen.info.simd,
  attempts: chosen.attempts,
  product,
  onCpu,
}));
