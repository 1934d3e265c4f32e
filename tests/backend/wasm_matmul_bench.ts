/**
 * Measures a 2-D float32 matmul [1024, 768] x [768, 768] on the wasm backend.
 * `deno run --allow-read tests/backend/wasm_matmul_bench.ts <threads>` prints one JSON line.
 * Threads are fixed when the backend starts, so compare thread counts in separate runs.
 * @module
 */
import { tf } from "../../backend/tf.ts";
import { setBackend } from "../../backend/set_backend.ts";

const threadsArg = Deno.args[0] ?? "auto";
const threads = threadsArg === "auto" ? "auto" : Number(threadsArg);
const repeats = Number(Deno.args[1] ?? "30");
const chosen = await setBackend("wasm", { wasmThreads: threads });
const [m, k, n] = [1024, 768, 768];
const a = tf.randomUniform([m, k], -1, 1, "float32", 1);
const b = tf.randomUniform([k, n], -1, 1, "float32", 2);
for (let i = 0; i < 5; i++) tf.matMul(a, b).dispose();
const times: number[] = [];
for (let i = 0; i < repeats; i++) {
  const start = performance.now();
  const c = tf.matMul(a, b);
  await c.data();
  times.push(performance.now() - start);
  c.dispose();
}
times.sort((x, y) => x - y);
const median = times[Math.floor(times.length / 2)] ?? NaN;
const best = times[0] ?? NaN;
const flop = 2 * m * k * n;
console.log(JSON.stringify({
  shape: [m, k, n],
  threads: chosen.info.threads,
  simd: chosen.info.simd,
  medianMs: Number(median.toFixed(2)),
  medianGflops: Number((flop / median / 1e6).toFixed(1)),
  bestGflops: Number((flop / best / 1e6).toFixed(1)),
}));
