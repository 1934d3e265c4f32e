/**
 * `deno task edge-check`: runs `examples/deploy/main.ts` the way Deno Deploy would (wasm on one
 * thread, `--allow-read --allow-net --allow-env` only, a child process per configuration) against
 * BERT-base-sized checkpoints with seeded weights, sends questions over loopback HTTP, and prints
 * one JSON line per measurement, as the bench does:
 *
 * - peak RSS of the server process (`VmHWM`), against the weight bytes and the runtime's own
 *   baseline (the same process with the module imported and wasm started, no model);
 * - the longest event-loop block (a 10 ms timer-lag probe in the server process, see
 *   `edge_check_probe.ts`), overall and once serving;
 * - cold start: process start to the first `/search` answer;
 * - CPU time of the server process per question, 12 and 32 tokens (`/proc/<pid>/stat`, averaged);
 * - for each `dtype` the module accepts besides float32, the cosine similarity of its question
 *   embeddings (`/embed`) to float32's.
 *
 * The checkpoints (a question encoder and a reader: 108.9M parameters each, hidden 768, 12
 * layers, 12 heads, 3072 intermediate, vocabulary 30522) and a seeded index are written once
 * under `.cache/edge-check/` (ignored by git); reruns reuse them.
 *
 * Flags: `--dtypes float32,int8,float16` (default: all three), `--questions N` per size
 * (default 10), `--no-answer` (skip the `/answer` run).
 * @module
 */
import { parseArgs } from "node:util";
import { DenseIndex, DPRConfig, DPRQuestionEncoder, DPRReader, saveSafetensors } from "../mod.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CACHE = `${ROOT}.cache/edge-check`;
const MODELS = `${CACHE}/models`;
const INDEX = `${CACHE}/index`;
const PROBE = `${ROOT}tools/edge_check_probe.ts`;
const FIXTURE_TOKENIZER = `${ROOT}tests/fixtures/models/dpr-question_encoder-tiny`;
/** Bumped when what is written changes, so old caches are rewritten. */
const CACHE_VERSION = "1";
const PASSAGES = 2000;
const HIDDEN = 768;
/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

const args = parseArgs({
  args: Deno.args,
  options: {
    dtypes: { type: "string", default: "float32,int8,float16" },
    questions: { type: "string", default: "10" },
    "no-answer": { type: "boolean", default: false },
  },
});
const DTYPES = args.values.dtypes.split(",").map((d) => d.trim()).filter((d) => d !== "");
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

/** `VmHWM` (peak RSS) of a process, in bytes. */
function peakRss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) * 1024;
}

/** CPU time (user + system, all threads) of a process, in milliseconds. */
function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS_PER_SECOND;
}

/** A free loopback port. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A server child: its process, its port, and what its probe said so far. */
interface Server {
  child: Deno.ChildProcess;
  port: number;
  started: number;
  longestBlockMs: number;
  /** The longest block reported since `serving` was set (requests only, loading excluded). */
  longestServingBlockMs: number;
  serving: boolean;
  ready: Promise<void>;
  stderr: string[];
}

function startServer(env: Record<string, string>): Server {
  const port = freePort();
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", "--allow-net", "--allow-env", PROBE],
    cwd: ROOT,
    env: { PORT: String(port), ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let markReady = () => {};
  const server: Server = {
    child,
    port,
    started,
    longestBlockMs: 0,
    longestServingBlockMs: 0,
    serving: false,
    ready: new Promise((resolve) => markReady = resolve),
    stderr: [],
  };
  (async () => {
    const decoder = new TextDecoderStream();
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(decoder)) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          const message = JSON.parse(line);
          if (message.probe === "block") {
            server.longestBlockMs = Math.max(server.longestBlockMs, message.ms);
            if (server.serving) {
              server.longestServingBlockMs = Math.max(server.longestServingBlockMs, message.ms);
            }
          }
          if (message.probe === "ready") markReady();
        } catch { /* the example's own output */ }
      }
    }
  })();
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      server.stderr.push(chunk);
    }
  })();
  return server;
}

async function stopServer(server: Server): Promise<void> {
  try {
    server.child.kill("SIGKILL");
  } catch { /* already gone */ }
  await server.child.status;
}

/** POSTs `body` to `route`; the parsed JSON reply (throws on an HTTP error). */
async function post(server: Server, route: string, body: unknown): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${server.port}${route}`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  const reply = await response.json();
  if (!response.ok) throw new Error(`${route}: HTTP ${response.status}: ${JSON.stringify(reply)}`);
  return reply;
}

/** POSTs until the server answers (it may not listen yet); fails after `limitMs`. */
async function firstAnswer(server: Server, route: string, body: unknown, limitMs = 120_000) {
  while (performance.now() - server.started < limitMs) {
    try {
      return await post(server, route, body);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // connection refused: not listening yet
      const status = await Promise.race([server.child.status, delay(25)]);
      if (status !== undefined) {
        throw new Error(`the server exited (${status.code}):\n${server.stderr.join("")}`);
      }
    }
  }
  throw new Error(`no answer within ${limitMs} ms:\n${server.stderr.join("")}`);
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}

/** Mean CPU milliseconds of the server per request of `body` to `route`. */
async function cpuPerRequest(server: Server, route: string, bodies: unknown[]): Promise<number> {
  const before = cpuMs(server.child.pid);
  for (const body of bodies) await post(server, route, body);
  return (cpuMs(server.child.pid) - before) / bodies.length;
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

const embeddings = new Map<string, number[][]>();
for (const dtype of DTYPES) {
  const server = startServer({ ...base, DPR_DTYPE: dtype });
  try {
    let first;
    try {
      first = await firstAnswer(server, "/search", { question: questions12[0], k: 5 });
    } catch (error) {
      if (/dtype/i.test((error as Error).message)) {
        emit({
          measurement: "question encoder",
          dtype,
          skipped: `not supported: ${(error as Error).message.slice(0, 200)}`,
        });
        continue;
      }
      throw error;
    }
    const coldMs = performance.now() - server.started;
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
    embeddings.set(dtype, embedded.embeddings);
    await delay(50);
    const peak = peakRss(server.child.pid);
    const rssGoal = 1.15 * weightBytes + baselineBytes;
    emit({
      measurement: "question encoder, /search (retrieval only)",
      dtype,
      hits,
      peakRssMB: +(peak / MB).toFixed(1),
      weightMB: +(weightBytes / MB).toFixed(1),
      peakOverBaselinePerWeightByte: +((peak - baselineBytes) / weightBytes).toFixed(3),
      ...(dtype === "float32"
        ? { rssGoalMB: +(rssGoal / MB).toFixed(1), rssMet: peak <= rssGoal }
        : {}),
      coldStartMs: Math.round(coldMs),
      coldStartMet: coldMs <= 3000,
      longestBlockMs: server.longestBlockMs,
      longestBlockWhileServingMs: server.longestServingBlockMs,
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

const reference = embeddings.get("float32");
for (const [dtype, vectors] of embeddings) {
  if (dtype === "float32" || reference === undefined) continue;
  const cosines = vectors.map((v, i) => cosine(v, reference[i]!));
  emit({
    measurement: "question embeddings, cosine similarity to float32",
    dtype,
    minCosine: +Math.min(...cosines).toFixed(6),
    goal: dtype === "int8" ? 0.999 : 0.99999,
    met: Math.min(...cosines) >= (dtype === "int8" ? 0.999 : 0.99999),
  });
}

if (!args.values["no-answer"]) {
  // Retrieval and reading in one process, with the smallest dtype that ran.
  const dtype = ["int8", "float16", "float32"].find((d) => embeddings.has(d)) ?? "float32";
  const server = startServer({ ...base, DPR_NO_READER: "0", DPR_DTYPE: dtype });
  try {
    const body = { question: questions12[0], topK: 2 };
    await firstAnswer(server, "/answer", body);
    const coldMs = performance.now() - server.started;
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
      peakRssMB: +(peak / MB).toFixed(1),
      weightMB: +((weightBytes + readerBytes) / MB).toFixed(1),
      coldStartMs: Math.round(coldMs),
      longestBlockMs: server.longestBlockMs,
      longestBlockWhileServingMs: server.longestServingBlockMs,
      cpuMsPerAnswer: +cpu.toFixed(1),
    });
  } finally {
    await stopServer(server);
  }
}
