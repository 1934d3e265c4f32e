/**
 * The ceiling of 128-bit WebAssembly SIMD on this machine: the wasm path's matrix kernel run on
 * blocks that stay in L1 (no memory traffic), on every core at once, with fused multiply-adds
 * (relaxed SIMD) and with separate multiply and add (what XNNPACK's wasm build does). Prints one
 * JSON line per form with the GFLOP/s of each thread and their sum: no wasm matrix product can
 * beat that sum here.
 *
 *   deno run -A --lock=bench/deno.lock bench/wasm_peak.ts [threads=all cores]
 * @module
 */
import { Worker } from "node:worker_threads";
import { gemmModuleBytes } from "../backend/wasm_kernels/gemm_module.ts";
import { relaxedSimdSupported } from "../backend/wasm_kernels/wasm_gemm.ts";

const threads = Number(Deno.args[0] ?? navigator.hardwareConcurrency ?? 1);

// Each thread: A 2 row blocks and B 2 panels of k = 128 (14 KB together), repeated.
const source = `
const { parentPort } = require("node:worker_threads");
parentPort.once("message", ({ bytes, start, mr, nr }) => {
  const memory = new WebAssembly.Memory({ initial: 16 });
  new Float32Array(memory.buffer).fill(0.001);
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const gemm = instance.exports.gemm_block;
  Atomics.wait(new Int32Array(start), 0, 0);
  let best = 0;
  for (let round = 0; round < 40; round++) {
    const reps = 20000;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) gemm(1024, 65536, 131072, 2, 2, 128, 2 * nr * 4, 0, 0);
    const flops = 2 * reps * (2 * mr) * (2 * nr) * 128;
    best = Math.max(best, flops / (performance.now() - t0) / 1e6);
  }
  parentPort.postMessage(best);
});`;

async function peak(fma: boolean): Promise<number[]> {
  const bytes = gemmModuleBytes({ shared: false, minPages: 1 }, fma);
  const start = new SharedArrayBuffer(4);
  const results = Array.from({ length: threads }, () =>
    new Promise<number>((resolve, reject) => {
      const worker = new Worker(source, { eval: true });
      worker.once("message", (gflops: number) => {
        resolve(gflops);
        void worker.terminate();
      });
      worker.once("error", reject);
      worker.postMessage({ bytes, start, mr: 6, nr: 8 });
    }));
  await new Promise((r) => setTimeout(r, 500)); // every worker started and waiting
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  return await Promise.all(results);
}

const forms = relaxedSimdSupported() ? [true, false] : [false];
for (const fma of forms) {
  const perThread = await peak(fma);
  console.log(JSON.stringify({
    bench: "wasm_simd_peak",
    form: fma ? "relaxed_madd (FMA)" : "mul + add",
    threads,
    per_thread_gflops: perThread.map((g) => Math.round(g * 10) / 10),
    total_gflops: Math.round(perThread.reduce((x, y) => x + y, 0) * 10) / 10,
  }));
}
