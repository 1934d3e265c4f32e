/**
 * `deno task edge-check`: runs `examples/deploy/main.ts` the way Deno Deploy would (wasm on one
 * thread, `--allow-read --allow-net --allow-env` only, a child process per configuration) against
 * BERT-base-sized checkpoints with seeded weights, sends questions over loopback HTTP, and prints
 * one JSON line per measurement, as the bench does:
 *
 * - peak RSS of the server process (`VmHWM`), against the weight bytes and the runtime's own
 *   baseline (the same process with the module imported and wasm started, no model);
 * - peak RSS of the question encoder alone (`edge_check_encoder.ts`: a process that loads it
 *   from its folder and encodes the same questions, no server, no index), what the memory goals
 *   name, split by stage (runtime, load, questions) with V8's heap, the tfjs wasm heap and the
 *   int8 kernel memory;
 * - the longest event-loop block (a 10 ms timer-lag probe in the server process, see
 *   `edge_check_probe.ts`), overall and once serving, as wall time and as the CPU the main
 *   thread spent (which leaves out waiting for a core on a loaded machine);
 * - cold start: process start to the first `/search` answer, in wall time and in the CPU time
 *   the process spent (the part a loaded machine does not stretch);
 * - CPU time of the server process per question, 12 and 32 tokens (`/proc/<pid>/stat`, averaged);
 * - for each `dtype` the module accepts besides float32, the cosine similarity of its question
 *   embeddings (`/embed`) to float32's.
 *
 * Each dtype runs from two sources: the float32 `model.safetensors` (quantized while loading,
 * `DPR_DTYPE`), and, for int8 and float16, the folder `deno task convert --quantize <dtype>`
 * writes from it (what a user ships to the edge: int8 loads int8 by default, 4x smaller on disk;
 * float16 is asked for with `DPR_DTYPE`). The `/answer` run uses converted int8 folders of both
 * models.
 *
 * The checkpoints (a question encoder and a reader: 108.9M parameters each, hidden 768, 12
 * layers, 12 heads, 3072 intermediate, vocabulary 30522), a seeded index and the converted
 * folders are written once under `.cache/edge-check/` (ignored by git); reruns reuse them.
 *
 * Flags: `--dtypes float32,int8,float16` (default: all three), `--sources float32,converted`
 * (default: both), `--questions N` per size (default 10), `--no-answer` (skip the `/answer`
 * run).
 * @module
 */
import { parseArgs } from "node:util";
import { DenseIndex, DPRConfig, DPRQuestionEncoder, DPRReader, saveSafetensors } from "../mod.ts";
import {
  cpuMs,
  cpuPerRequest,
  delay,
  firstAnswer,
  peakRss,
  post,
  startServer,
  stopServer,
} from "./edge_check_server.ts";
import { encoderAlone } from "./edge_check_encoder.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CACHE = `${ROOT}.cache/edge-check`;
const MODELS = `${CACHE}/models`;
const INDEX = `${CACHE}/index`;
const FIXTURE_TOKENIZER = `${ROOT}tests/fixtures/models/dpr-question_encoder-tiny`;
/** Bumped when what is written changes, so old caches are rewritten. */
const CACHE_VERSION = "1";
/** Bumped when the converted folders change (they are rewritten, the checkpoints kept). */
const CONVERTED_VERSION = "1";
const PASSAGES = 2000;
const HIDDEN = 768;

const args = parseArgs({
  args: Deno.args,
  options: {
    dtypes: { type: "string", default: "float32,int8,float16" },
    sources: { type: "string", default: "float32,converted" },
    questions: { type: "string", default: "10" },
    "no-answer": { type: "boolean", default: false },
  },
});
const DTYPES = args.values.dtypes.split(",").map((d) => d.trim()).filter((d) => d !== "");
const SOURCES = args.values.sources.split(",").map((d) => d.trim()).filter((d) => d !== "");
const REPEATS = Number(args.values.questions);

/** A deterministic generator of floats in [-1, 1) (xorshift32). */
function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 31 - 1;
  };
}

/** Word `i` of the generated vocabulary (a whole WordPiece token). */
function word(i: number): string {
  return `w${1000 + i}`;
}

/** A question of `tokens` tokens, [CLS] and [SEP] included. */
function question(tokens: number, variant: number): string {
  return Array.from({ length: tokens - 2 }, (_, i) => word((variant * 37 + i * 11) % 20000)).join(
    " ",
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The vocabulary: BERT's special tokens at their usual ids, generated words elsewhere. */
function vocabulary(size: number): string {
  const tokens: string[] = [];
  for (let i = 0; i < size; i++) {
    if (i === 0) tokens.push("[PAD]");
    else if (i < 100) tokens.push(`[unused${i - 1}]`);
    else if (i === 100) tokens.push("[UNK]");
    else if (i === 101) tokens.push("[CLS]");
    else if (i === 102) tokens.push("[SEP]");
    else if (i === 103) tokens.push("[MASK]");
    else tokens.push(word(i - 104));
  }
  return tokens.join("\n") + "\n";
}

/** Writes the two checkpoints and the index, unless this version of them is there. */
async function writeCheckpoints(): Promise<void> {
  const marker = `${CACHE}/version`;
  if (await exists(marker) && (await Deno.readTextFile(marker)).trim() === CACHE_VERSION) return;
  await Deno.remove(CACHE, { recursive: true }).catch(() => {});
  const started = performance.now();
  for (
    const [folder, architecture, seed] of [
      ["question_encoder", "DPRQuestionEncoder", 1],
      ["reader", "DPRReader", 2],
    ] as const
  ) {
    const dir = `${MODELS}/${folder}`;
    await Deno.mkdir(dir, { recursive: true });
    const config = new DPRConfig({ extra: { architectures: [architecture] } });
    const model = architecture === "DPRReader"
      ? new DPRReader(config, { seed })
      : new DPRQuestionEncoder(config, { seed });
    await saveSafetensors(model, dir);
    model.dispose();
    await Deno.writeTextFile(`${dir}/vocab.txt`, vocabulary(config.vocabSize));
    for (const file of ["tokenizer_config.json", "special_tokens_map.json"]) {
      await Deno.copyFile(`${FIXTURE_TOKENIZER}/${file}`, `${dir}/${file}`);
    }
  }
  const random = seeded(7);
  const index = new DenseIndex(HIDDEN);
  const ids: string[] = [], vectors: Float32Array[] = [], metadata = [];
  for (let p = 0; p < PASSAGES; p++) {
    ids.push(`p${p}`);
    vectors.push(Float32Array.from({ length: HIDDEN }, random));
    const text = Array.from({ length: 24 }, (_, i) => word((p * 13 + i * 7) % 20000)).join(" ");
    metadata.push({ title: `passage ${p}`, text });
  }
  index.add(ids, vectors, metadata);
  await index.save(INDEX);
  await Deno.writeTextFile(marker, CACHE_VERSION);
  console.error(
    `edge-check: wrote the checkpoints in ${Math.round(performance.now() - started)} ms`,
  );
}

/** The folder of `convert --quantize <dtype>` output: `question_encoder/` and `reader/`. */
function convertedModels(dtype: string): string {
  return `${CACHE}/converted-${dtype}`;
}

/**
 * Writes `deno task convert --quantize <dtype>` of both checkpoints, unless this version of them
 * is there. The converter runs as users run it, in a child process; the folder appears whole
 * (written beside it, then renamed).
 */
async function writeConverted(dtype: string): Promise<void> {
  const out = convertedModels(dtype);
  const marker = `${out}/version`;
  if (await exists(marker) && (await Deno.readTextFile(marker)).trim() === CONVERTED_VERSION) {
    return;
  }
  const started = performance.now();
  const partial = `${out}.partial-${Deno.pid}`;
  await Deno.remove(partial, { recursive: true }).catch(() => {});
  await Deno.mkdir(partial, { recursive: true });
  for (const folder of ["question_encoder", "reader"]) {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-net",
        `${ROOT}cli/convert.ts`,
        `${MODELS}/${folder}`,
        `${partial}/${folder}`,
        "--quantize",
        dtype,
      ],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      await Deno.remove(partial, { recursive: true }).catch(() => {});
      throw new Error(
        `convert --quantize ${dtype} of ${folder} failed:\n${new TextDecoder().decode(stderr)}`,
      );
    }
  }
  await Deno.writeTextFile(`${partial}/version`, CONVERTED_VERSION);
  await Deno.remove(out, { recursive: true }).catch(() => {});
  await Deno.rename(partial, out);
  console.error(
    `edge-check: wrote convert --quantize ${dtype} in ${
      Math.round(performance.now() - started)
    } ms`,
  );
}

function emit(line: Record<string, unknown>): void {
  console.log(JSON.stringify({ backend: "wasm", threads: 1, ...line }));
}

function cosine(a: number[], b: number[]): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

const MB = 1e6;

await writeCheckpoints();
const weightBytes = (await Deno.stat(`${MODELS}/question_encoder/model.safetensors`)).size;
const readerBytes = (await Deno.stat(`${MODELS}/reader/model.safetensors`)).size;
const base = { DPR_INDEX: INDEX, DPR_MODELS: MODELS, DPR_NO_READER: "1" };
const questions12 = Array.from({ length: REPEATS }, (_, i) => question(12, i));
const questions32 = Array.from({ length: REPEATS }, (_, i) => question(32, i));
const probeTexts = [question(12, 100), question(32, 101), question(20, 102)];

// The runtime's own baseline: the module imported and wasm started on one thread, no model.
const baseline = startServer({ ...base, EDGE_CHECK_BASELINE: "1" });
await Promise.race([baseline.ready, baseline.child.status]);
await delay(200);
const baselineBytes = peakRss(baseline.child.pid);
await stopServer(baseline);
emit({
  measurement: "runtime baseline (module + wasm, no model): peak RSS",
  MB: +(baselineBytes / MB).toFixed(1),
});

/** One server configuration: a dtype, loaded from the float32 checkpoint or a converted folder. */
interface Run {
  dtype: string;
  source: "float32" | "converted";
  /** What the JSON line says the weights came from. */
  label: string;
  env: Record<string, string>;
}

const runs: Run[] = [];
for (const dtype of DTYPES) {
  if (SOURCES.includes("float32")) {
    runs.push({
      dtype,
      source: "float32",
      label: dtype === "float32"
        ? "float32 model.safetensors"
        : `float32 model.safetensors, quantized to ${dtype} while loading`,
      env: { ...base, DPR_DTYPE: dtype },
    });
  }
  if (SOURCES.includes("converted") && dtype !== "float32") {
    await writeConverted(dtype);
    // int8 folders load int8 by default; float16 ones (tfjs shards) are asked for float16.
    const env: Record<string, string> = { ...base, DPR_MODELS: convertedModels(dtype) };
    if (dtype !== "int8") env.DPR_DTYPE = dtype;
    runs.push({
      dtype,
      source: "converted",
      label: `convert --quantize ${dtype} folder${
        dtype === "int8" ? " (loads int8 by default)" : ""
      }`,
      env,
    });
  }
}

// The question encoder alone (no server, no index): what the issue's memory goals name.
const ALONE_GOAL_MB: Readonly<Record<string, number>> = { int8: 256, float16: 384 };
for (const run of runs) {
  const folder = `${run.env.DPR_MODELS}/question_encoder`;
  const { stages, loadMs } = await encoderAlone(folder, run.env.DPR_DTYPE, [
    ...questions12,
    ...questions32,
  ]);
  const at = (name: string) => stages.find((s) => s.stage === name)!;
  const last = stages.at(-1)!, base = at("wasm started"), loaded = at("loaded");
  const mb = (bytes: number) => +(bytes / MB).toFixed(1);
  const goal = run.dtype === "float32"
    ? (1.15 * weightBytes + base.peak) / MB
    : ALONE_GOAL_MB[run.dtype];
  emit({
    measurement: "question encoder alone (no server, no index): peak RSS",
    dtype: run.dtype,
    weights: run.label,
    questions: questions12.length + questions32.length,
    peakRssMB: mb(last.peak),
    ...(goal === undefined ? {} : { goalMB: +goal.toFixed(1), met: last.peak <= goal * MB }),
    baselinePeakMB: mb(base.peak),
    loadPeakMB: mb(loaded.peak),
    rssAfterLoadMB: mb(loaded.rss),
    rssAfterQuestionsMB: mb(last.rss),
    v8HeapMB: mb(last.heapTotal),
    externalMB: mb(last.external),
    wasmHeapMB: mb(last.wasmHeap),
    kernelMemoryMB: mb(last.kernelMemory),
    loadMs,
  });
}

/** Question embeddings by run (dtype and source), for the cosine lines. */
const embeddings = new Map<Run, number[][]>();
for (const run of runs) {
  const { dtype } = run;
  const server = startServer(run.env);
  try {
    let first;
    try {
      first = await firstAnswer(server, "/search", { question: questions12[0], k: 5 });
    } catch (error) {
      if (/dtype/i.test((error as Error).message)) {
        emit({
          measurement: "question encoder",
          dtype,
          weights: run.label,
          skipped: `not supported: ${(error as Error).message.slice(0, 200)}`,
        });
        continue;
      }
      throw error;
    }
    const coldMs = performance.now() - server.started;
    const coldCpuMs = cpuMs(server.child.pid); // every thread, process start to first answer
    const hits = (first as { hits: unknown[] }).hits.length;
    await delay(50); // the probe's line on the load's last block arrives
    server.serving = true;
    const cpu12 = await cpuPerRequest(
      server,
      "/search",
      questions12.map((q) => ({ question: q, k: 5 })),
    );
    const cpu32 = await cpuPerRequest(
      server,
      "/search",
      questions32.map((q) => ({ question: q, k: 5 })),
    );
    const embedded = await post(server, "/embed", { texts: probeTexts }) as {
      embeddings: number[][];
    };
    embeddings.set(run, embedded.embeddings);
    await delay(50);
    const peak = peakRss(server.child.pid);
    const rssGoal = 1.15 * weightBytes + baselineBytes;
    emit({
      measurement: "question encoder, /search (retrieval only)",
      dtype,
      weights: run.label,
      hits,
      peakRssMB: +(peak / MB).toFixed(1),
      weightMB: +(weightBytes / MB).toFixed(1),
      peakOverBaselinePerWeightByte: +((peak - baselineBytes) / weightBytes).toFixed(3),
      ...(dtype === "float32"
        ? { rssGoalMB: +(rssGoal / MB).toFixed(1), rssMet: peak <= rssGoal }
        : {}),
      coldStartMs: Math.round(coldMs),
      coldStartCpuMs: Math.round(coldCpuMs),
      coldStartMet: coldMs <= 3000,
      longestBlockMs: server.longestBlockMs,
      longestBlockWhileServingMs: server.longestServingBlockMs,
      longestBlockCpuMs: server.longestCpuBlockMs,
      longestBlockCpuWhileServingMs: server.longestServingCpuBlockMs,
      blockMet: server.longestBlockMs <= 200,
      cpuMsPerQuestion12: +cpu12.toFixed(1),
      cpu12Met: cpu12 <= 50,
      cpuMsPerQuestion32: +cpu32.toFixed(1),
      cpu32Met: cpu32 <= 200,
    });
  } finally {
    await stopServer(server);
  }
}

const reference = [...embeddings].find(([run]) => run.dtype === "float32")?.[1];
for (const [run, vectors] of embeddings) {
  if (run.dtype === "float32" || reference === undefined) continue;
  const cosines = vectors.map((v, i) => cosine(v, reference[i]!));
  const goal = run.dtype === "int8" ? 0.999 : 0.99999;
  emit({
    measurement: "question embeddings, cosine similarity to float32",
    dtype: run.dtype,
    weights: run.label,
    minCosine: +Math.min(...cosines).toFixed(6),
    goal,
    met: Math.min(...cosines) >= goal,
  });
}

if (!args.values["no-answer"]) {
  // Retrieval and reading in one process, as an edge function ships them: both models converted
  // to int8 (or, with --sources float32, the smallest dtype that ran from float32 files).
  const converted = SOURCES.includes("converted") && DTYPES.includes("int8");
  const dtype = converted
    ? "int8"
    : ["int8", "float16", "float32"].find((d) =>
      [...embeddings.keys()].some((r) => r.dtype === d)
    ) ??
      "float32";
  const env = converted
    ? { ...base, DPR_NO_READER: "0", DPR_MODELS: convertedModels("int8") }
    : { ...base, DPR_NO_READER: "0", DPR_DTYPE: dtype };
  const server = startServer(env);
  try {
    const body = { question: questions12[0], topK: 2 };
    await firstAnswer(server, "/answer", body);
    const coldMs = performance.now() - server.started;
    const coldCpuMs = cpuMs(server.child.pid); // every thread, process start to first answer
    await delay(50);
    server.serving = true;
    const cpu = await cpuPerRequest(
      server,
      "/answer",
      questions12.slice(0, 3).map((q) => ({ question: q, topK: 2 })),
    );
    const peak = peakRss(server.child.pid);
    emit({
      measurement: "question encoder + reader, /answer (top 2 passages)",
      dtype,
      weights: converted
        ? "convert --quantize int8 folders"
        : `float32 model.safetensors${
          dtype === "float32" ? "" : `, quantized to ${dtype} while loading`
        }`,
      peakRssMB: +(peak / MB).toFixed(1),
      weightMB: +((weightBytes + readerBytes) / MB).toFixed(1),
      coldStartMs: Math.round(coldMs),
      coldStartCpuMs: Math.round(coldCpuMs),
      longestBlockMs: server.longestBlockMs,
      longestBlockWhileServingMs: server.longestServingBlockMs,
      longestBlockCpuMs: server.longestCpuBlockMs,
      longestBlockCpuWhileServingMs: server.longestServingCpuBlockMs,
      cpuMsPerAnswer: +cpu.toFixed(1),
    });
  } finally {
    await stopServer(server);
  }
}
