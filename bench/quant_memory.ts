/**
 * Peak memory of loading a BERT-base question encoder from files and answering one 32-token
 * question, per backend and dtype, one process per measurement (VmHWM is a process's peak).
 *
 *   deno run -A bench/quant_memory.ts                      # every row below, one JSON line each
 *   deno run -A bench/quant_memory.ts --backend wasm --dtype int8 --threads 1   # one row
 *   deno run -A bench/quant_memory.ts --pair      # question encoder + reader, int8, one process
 *   deno run -A bench/quant_memory.ts --cosine    # int8 / float16 pooler outputs vs float32
 *   deno run -A bench/quant_memory.ts --sources   # each weight format, wasm 1 thread, f32 + int8
 *   deno run -A bench/quant_memory.ts --backend wasm --dtype int8 --source bin   # one format
 *
 * `--source` (safetensors, sharded, bin, tfjs, url) loads the same weights from another format
 * (`bench/weight_formats.ts` writes each once); rows then also give the load's bound: the
 * process baseline plus the weights' final size plus the largest tensor as float32.
 *
 * The checkpoint is seeded (random) weights of BERT-base's shapes, written once with
 * `saveSafetensors` into `scratch/bert-base-question` (ignored by git).
 *
 * The first run after a checkout or a change of the module graph reports a baseline 40-65 MB
 * higher (about 145 MB instead of 80 MB): Deno analyzes the npm packages' CommonJS exports and
 * the module graph, and transpiles, in the process itself before caching the results. Measure on
 * a second run.
 * @module
 */
import { parseArgs } from "node:util";
import { safetensorsFileSource } from "../io/safetensors_source.ts";
import { isQuantizableKey } from "../models/hf_weight_map.ts";
import { formatFolder, type SourceName, SOURCES } from "./weight_formats.ts";
import { DPRQuestionEncoder, DPRReader, setBackend, tf } from "../mod.ts";
import { QUESTION_DIR, READER_DIR, writeCheckpoint } from "./bert_base_checkpoint.ts";

const SCRATCH = new URL("../scratch/", import.meta.url).pathname;
const DIR = QUESTION_DIR;

function status(): { hwm: number; rss: number } {
  const text = Deno.readTextFileSync("/proc/self/status");
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(text)![1]) * 1024;
  return { hwm: kb("VmHWM"), rss: kb("VmRSS") };
}

/** Cosine of int8 and float16 pooler outputs to float32's, two questions, wasm one thread. */
async function measureCosine(): Promise<void> {
  await setBackend("wasm", { wasmThreads: 1 });
  const ids = [
    [101, ...Array.from({ length: 30 }, (_, i) => 1000 + 37 * i), 102],
    [101, 2054, 2003, 1996, 3007, 1997, 2605, 1029, 102, ...new Array(23).fill(0)],
  ];
  const outputs: Record<string, Float32Array> = {};
  for (const dtype of ["float32", "int8", "float16"] as const) {
    const model = await DPRQuestionEncoder.fromPretrained(DIR, { dtype });
    const { poolerOutput } = model.forward({ inputIds: ids });
    outputs[dtype] = await poolerOutput.data() as Float32Array;
    poolerOutput.dispose();
    model.dispose();
  }
  const width = outputs.float32!.length / ids.length;
  const cosine = (a: Float32Array, b: Float32Array, row: number) => {
    let dot = 0, na = 0, nb = 0;
    for (let i = row * width; i < (row + 1) * width; i++) {
      dot += a[i]! * b[i]!;
      na += a[i]! * a[i]!;
      nb += b[i]! * b[i]!;
    }
    return dot / Math.sqrt(na * nb);
  };
  for (const dtype of ["int8", "float16"]) {
    console.log(JSON.stringify({
      measurement: "pooler output cosine to float32 (BERT-base question encoder, seeded)",
      dtype,
      cosines: ids.map((_, row) => +cosine(outputs.float32!, outputs[dtype]!, row).toFixed(7)),
    }));
  }
}

/** The question encoder and the reader in one process: a question, then 3 passages read. */
async function measurePair(dtype: string): Promise<void> {
  await setBackend("wasm", { wasmThreads: 1 });
  const base = status();
  const question = await DPRQuestionEncoder.fromPretrained(DIR, { dtype: dtype as "int8" });
  const reader = await DPRReader.fromPretrained(READER_DIR, { dtype: dtype as "int8" });
  const ids = [[101, ...Array.from({ length: 30 }, (_, i) => 1000 + 37 * i), 102]];
  const q = question.forward({ inputIds: ids });
  await q.poolerOutput.data();
  q.poolerOutput.dispose();
  const passages = Array.from({ length: 3 }, (_, p) => [
    101,
    ...Array.from({ length: 198 }, (_, i) => 1000 + 13 * i + p),
    102,
  ]);
  const r = reader.forward({ inputIds: passages });
  await r.relevanceLogits.data();
  tf.dispose([r.startLogits, r.endLogits, r.relevanceLogits]);
  const after = status();
  console.log(JSON.stringify({
    measurement: "question encoder + reader in one process: a question, 3 passages of 200 tokens",
    backend: "wasm",
    threads: 1,
    dtype,
    baselineMB: +(base.hwm / 1e6).toFixed(1),
    peakMB: +(after.hwm / 1e6).toFixed(1),
  }));
  question.dispose();
  reader.dispose();
}

/** The weights' size once loaded as `dtype`, and their largest tensor as float32, in bytes. */
async function loadBound(dtype: string): Promise<{ final: number; largest: number }> {
  const tensors = await safetensorsFileSource(`${DIR}model.safetensors`);
  let final = 0, largest = 0;
  for (const [name, shape] of tensors.shapes) {
    const count = shape.reduce((a, b) => a * b, 1);
    largest = Math.max(largest, 4 * count);
    const quantized = dtype !== "float32" && shape.length === 2 && isQuantizableKey(name);
    final += !quantized ? 4 * count : dtype === "float16" ? 2 * count : count + 4 * shape[0]!;
  }
  tensors.close();
  return { final, largest };
}

async function measure(
  backend: string,
  dtype: string,
  threads: number,
  source: SourceName,
): Promise<void> {
  const dir = source === "url" ? args.values.url! : await formatFolder(DIR, SCRATCH, source);
  await setBackend(backend as "wasm", { wasmThreads: threads });
  const ids = [[101, ...Array.from({ length: 30 }, (_, i) => 1000 + 37 * i), 102]];
  const warm = DPRQuestionEncoder; // the module is loaded: the baseline includes the runtime
  const base = status();
  const t0 = performance.now();
  const model = await warm.fromPretrained(dir, { dtype: dtype as "int8" });
  const loaded = status();
  (globalThis as { gc?: () => void }).gc?.();
  const collected = status();
  const loadMs = performance.now() - t0;
  const t1 = performance.now();
  const { poolerOutput } = model.forward({ inputIds: ids });
  poolerOutput.dataSync();
  const questionMs = performance.now() - t1;
  poolerOutput.dispose();
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    const again = model.forward({ inputIds: ids });
    await again.poolerOutput.data();
    again.poolerOutput.dispose();
    times.push(performance.now() - t);
  }
  const after = status();
  const weightBytes = (await Deno.stat(`${DIR}model.safetensors`)).size;
  const bound = await loadBound(dtype);
  const mb = (bytes: number) => +(bytes / 1e6).toFixed(1);
  console.log(JSON.stringify({
    measurement: "question encoder load + one 32-token question",
    backend,
    threads,
    dtype,
    source,
    baselineMB: +(base.hwm / 1e6).toFixed(1),
    finalWeightsMB: mb(bound.final),
    largestTensorMB: mb(bound.largest),
    loadBoundMB: mb(base.hwm + bound.final + bound.largest),
    loadPeakOverBoundMB: mb(loaded.hwm - (base.hwm + bound.final + bound.largest)),
    peakAfterLoadMB: +(loaded.hwm / 1e6).toFixed(1),
    rssAfterLoadMB: +(loaded.rss / 1e6).toFixed(1),
    rssAfterLoadAndGcMB: +(collected.rss / 1e6).toFixed(1),
    peakMB: +(after.hwm / 1e6).toFixed(1),
    rssMB: +(after.rss / 1e6).toFixed(1),
    fileMB: +(weightBytes / 1e6).toFixed(1),
    peakOverBaselinePerFileByte: +((after.hwm - base.hwm) / weightBytes).toFixed(3),
    loadMs: Math.round(loadMs),
    firstQuestionMs: Math.round(questionMs),
    questionMedianMs: Math.round(times.sort((a, b) => a - b)[1]!),
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
    pair: { type: "boolean" },
    cosine: { type: "boolean" },
    "pair-child": { type: "boolean" },
    source: { type: "string", default: "safetensors" },
    sources: { type: "boolean" },
    prepare: { type: "boolean" },
    url: { type: "string" },
  },
});
const source = args.values.source as SourceName;
if (!SOURCES.includes(source)) {
  throw new RangeError(`--source must be one of ${SOURCES.join(", ")}: received ${source}`);
}

/** Runs this script again with `more` (one process per measurement: VmHWM is per process). */
async function child(...more: string[]): Promise<void> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--expose-gc", new URL(import.meta.url).pathname, ...more],
    stdout: "inherit",
    stderr: "inherit",
  });
  await command.output();
}

await writeCheckpoint(DIR, false);
if (args.values.prepare === true) {
  await formatFolder(DIR, SCRATCH, source);
  Deno.exit(0);
}
// Another format is written by its own process first, so that writing it is not measured.
if (source !== "safetensors" && source !== "url") await child("--prepare", "--source", source);

/** Measures one row from a URL: the folder served by `range_server.ts` in its own process. */
async function fromUrl(dtype: string): Promise<void> {
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-read",
      new URL("./range_server.ts", import.meta.url).pathname,
      DIR,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const { value } = await server.stdout.getReader().read();
    const url = new TextDecoder().decode(value).trim();
    await child(
      "--backend",
      "wasm",
      "--threads",
      "1",
      "--dtype",
      dtype,
      "--source",
      "url",
      "--url",
      url,
    );
  } finally {
    server.kill();
    await server.status;
  }
}
if (args.values.pair === true) {
  await writeCheckpoint(READER_DIR, true);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--pair-child"],
    stdout: "inherit",
    stderr: "inherit",
  });
  await child.output();
} else if (args.values.cosine === true) {
  await measureCosine();
} else if (args.values["pair-child"] === true) {
  await measurePair(args.values.dtype ?? "int8");
} else if (args.values.sources === true) {
  for (const format of SOURCES) {
    if (format !== "url") await child("--prepare", "--source", format);
    for (const dtype of ["float32", "int8"]) {
      if (format === "url") await fromUrl(dtype);
      else await child("--backend", "wasm", "--threads", "1", "--dtype", dtype, "--source", format);
    }
  }
} else if (source === "url" && args.values.url === undefined) {
  await fromUrl(args.values.dtype ?? "float32");
} else if (args.values.backend !== undefined) {
  await measure(
    args.values.backend,
    args.values.dtype ?? "float32",
    Number(args.values.threads),
    source,
  );
} else {
  for (const backend of ["wasm", "cpu", "blas"]) {
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
