/**
 * Peak memory of loading a BERT-base question encoder from files and answering one 32-token
 * question, per backend and dtype, one process per measurement (VmHWM is a process's peak).
 *
 *   deno run -A bench/quant_memory.ts                      # every row below, one JSON line each
 *   deno run -A bench/quant_memory.ts --backend wasm --dtype int8 --threads 1   # one row
 *
 * The checkpoint is seeded (random) weights of BERT-base's shapes, written once with
 * `saveSafetensors` into `scratch/bert-base-question` (ignored by git).
 * @module
 */
import { parseArgs } from "node:util";
import { DPRConfig, DPRQuestionEncoder, saveSafetensors, setBackend, tf } from "../mod.ts";

const DIR = new URL("../scratch/bert-base-question/", import.meta.url).pathname;

function status(): { hwm: number; rss: number } {
  const text = Deno.readTextFileSync("/proc/self/status");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)![1]) * 1024;
  return { hwm: kb("VmHWM"), rss: kb("VmRSS") };
}

async function writeCheckpoint(): Promise<void> {
  try {
    await Deno.stat(`${DIR}model.safetensors`);
    return;
  } catch { /* write it */ }
  await Deno.mkdir(DIR, { recursive: true });
  const config = new DPRConfig({ architectures: ["DPRQuestionEncoder"] });
  const model = new DPRQuestionEncoder(config, { seed: 1 });
  await saveSafetensors(model, `${DIR}model.safetensors`);
  await Deno.writeTextFile(`${DIR}config.json`, JSON.stringify(config.toJSON()));
  model.dispose();
}

async function measure(backend: string, dtype: string, threads: number): Promise<void> {
  await setBackend(backend as "wasm", { wasmThreads: threads });
  const ids = [[101, ...Array.from({ length: 30 }, (_, i) => 1000 + 37 * i), 102]];
  const warm = DPRQuestionEncoder; // the module is loaded: the baseline includes the runtime
  const base = status();
  const t0 = performance.now();
  const model = await warm.fromPretrained(DIR, { dtype: dtype as "int8" });
  const loaded = status();
  (globalThis as { gc?: () => void }).gc?.();
  const collected = status();
  const loadMs = performance.now() - t0;
  const t1 = performance.now();
  const { poolerOutput } = model.forward({ inputIds: ids });
  poolerOutput.dataSync();
  const questionMs = performance.now() - t1;
  poolerOutput.dispose();
  const after = status();
  const weightBytes = (await Deno.stat(`${DIR}model.safetensors`)).size;
  console.log(JSON.stringify({
    measurement: "question encoder load + one 32-token question",
    backend,
    threads,
    dtype,
    baselineMB: +(base.hwm / 1e6).toFixed(1),
    peakAfterLoadMB: +(loaded.hwm / 1e6).toFixed(1),
    rssAfterLoadMB: +(loaded.rss / 1e6).toFixed(1),
    rssAfterLoadAndGcMB: +(collected.rss / 1e6).toFixed(1),
    peakMB: +(after.hwm / 1e6).toFixed(1),
    rssMB: +(after.rss / 1e6).toFixed(1),
    fileMB: +(weightBytes / 1e6).toFixed(1),
    peakOverBaselinePerFileByte: +((after.hwm - base.hwm) / weightBytes).toFixed(3),
    loadMs: Math.round(loadMs),
    firstQuestionMs: Math.round(questionMs),
    tensors: tf.memory().numTensors,
  }));
  model.dispose();
}

const args = parseArgs({
  args: Deno.args,
  options: {
    backend: { type: "string" },
    dtype: { type: "string" },
    threads: { type: "string", default: "1" },
  },
});
await writeCheckpoint();
if (args.values.backend !== undefined) {
  await measure(args.values.backend, args.values.dtype ?? "float32", Number(args.values.threads));
} else {
  for (const backend of ["wasm", "cpu"]) {
    for (const dtype of ["int8", "float16", "float32"]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL(import.meta.url).pathname,
          "--backend",
          backend,
          "--dtype",
          dtype,
          "--threads",
          args.values.threads,
        ],
        stdout: "inherit",
        stderr: "inherit",
      });
      await child.output();
    }
  }
}
