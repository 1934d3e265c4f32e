/**
 * `deno task bench`: a BERT-base DPR context encoder with seeded random weights (no download) on
 * every backend this machine has, against onnxruntime-node in the same run. Prints one JSON line
 * per measurement:
 *
 * - `passage_encoding`: batch 16 x 256 tokens; passages/s, effective GFLOP/s, ratio to onnx
 *   (`ratio_vs_onnx` from medians, `ratio_vs_onnx_best` from the fastest runs; > 1 is faster).
 * - `question_latency`: one 32-token question; median ms, ratio to onnx (ours / onnx: < 1 is
 *   faster), also from the fastest runs. On wasm, XNNPACK's products and the relaxed-SIMD
 *   kernel question by question in turn (variants `xnnpack` and `fma`), and the int8 question
 *   encoder on one thread, loaded from files (`int8_question.ts`; the edge configuration).
 * - `memory_load`: RSS growth when loading the encoder, against its weight bytes.
 * - `memory_steady`: RSS and `tf.memory().numTensors` over many small batches.
 * - `onnx_peer`: the peer's own numbers; then the tokenizer, conversion and index benchmarks when
 *   present (the index's against FAISS: `bench/index_bench.ts`).
 *
 * Flags: `--backends blas,wasm,cpu,webgpu` (default: blas, wasm, cpu, and webgpu on a real GPU
 * adapter), `--quick` (fewer iterations, short memory loop), `--iters N`, `--layers N` (a smaller
 * model, for development), `--cpu-passages` (time passage encoding on the slow cpu backend too),
 * `--memory-batches N` (default 1000, 50 with `--quick`), `--no-peer`, `--no-memory`,
 * `--no-extras` (skip tokenizer and conversion).
 * @module
 */
import { tf } from "../backend/tf.ts";
import { type ConcreteBackendName, setBackend } from "../backend/set_backend.ts";
import { probeWebGpu } from "../backend/webgpu_adapter.ts";
import { DPRConfig } from "../models/config.ts";
import { DPRContextEncoder } from "../models/dpr_context_encoder.ts";
import { bertFlops } from "./flops.ts";
import { blasLibrary, setBlasPrepack } from "../backend/blas/register.ts";
import { inTurn, wasmFmaRuns } from "./wasm_in_turn.ts";
import { int8QuestionTimes } from "./int8_question.ts";

interface Flags {
  backends: ConcreteBackendName[] | null;
  quick: boolean;
  iters: number | null;
  layers: number;
  cpuPassages: boolean;
  peer: boolean;
  memory: boolean;
  memoryBatches: number | null;
  extras: boolean;
}

function parseFlags(args: string[]): Flags {
  const flags: Flags = {
    backends: null,
    quick: false,
    iters: null,
    layers: 12,
    cpuPassages: false,
    peer: true,
    memory: true,
    memoryBatches: null,
    extras: true,
  };
  const known = ["blas", "wasm", "cpu", "webgpu", "node-gpu"];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const value = (): string => {
      const v = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : args[++i];
      if (v === undefined) throw new TypeError(`bench: ${arg} needs a value`);
      return v;
    };
    const name = arg.split("=")[0];
    if (name === "--backends") {
      const list = value().split(",").map((b) => b.trim()).filter((b) => b !== "");
      for (const b of list) {
        if (!known.includes(b)) {
          throw new RangeError(`bench: --backends must name ${known.join(", ")}: received "${b}"`);
        }
      }
      flags.backends = list as ConcreteBackendName[];
    } else if (name === "--quick") flags.quick = true;
    else if (name === "--iters" || name === "--layers" || name === "--memory-batches") {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(`bench: ${name} must be a positive integer: received ${n}`);
      }
      if (name === "--iters") flags.iters = n;
      else if (name === "--layers") flags.layers = n;
      else flags.memoryBatches = n;
    } else if (name === "--cpu-passages") flags.cpuPassages = true;
    else if (name === "--no-peer") flags.peer = false;
    else if (name === "--no-memory") flags.memory = false;
    else if (name === "--no-extras") flags.extras = false;
    else throw new TypeError(`bench: unknown flag "${arg}"`);
  }
  return flags;
}

function emit(fields: Record<string, unknown>): void {
  console.log(JSON.stringify(fields));
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Token ids like the peer's: deterministic, spread over the vocabulary. */
function inputIds(batch: number, seq: number): tf.Tensor2D {
  const ids = new Int32Array(batch * seq);
  for (let i = 0; i < ids.length; i++) ids[i] = 1000 + ((i * 7919) % 29000);
  ids.forEach((_, i) => {
    if (i % seq === 0) ids[i] = 101; // [CLS]
  });
  return tf.tensor2d(ids, [batch, seq], "int32");
}

/** One forward pass, waiting for the result (asynchronously, so webgpu works too). */
async function forward(model: DPRContextEncoder, ids: tf.Tensor2D): Promise<void> {
  const { poolerOutput } = model.forward({ inputIds: ids });
  await poolerOutput.data();
  poolerOutput.dispose();
}

/** Wall times (ms) of `iters` forward passes after `warmup` untimed ones. */
async function timeForward(
  model: DPRContextEncoder,
  batch: number,
  seq: number,
  iters: number,
  warmup: number,
): Promise<number[]> {
  const ids = inputIds(batch, seq);
  try {
    for (let i = 0; i < warmup; i++) await forward(model, ids);
    // Collect what the warm-up left (packing in place frees every plain weight matrix) so that
    // it is not timed; only where the runtime exposes gc (`deno task bench` does).
    (globalThis as { gc?: () => void }).gc?.();
    const times: number[] = [];
    for (let i = 0; i < iters; i++) {
      const t0 = performance.now();
      await forward(model, ids);
      times.push(performance.now() - t0);
    }
    return times;
  } finally {
    ids.dispose();
  }
}

interface PeerResult {
  engine: string;
  threads: number;
  median_ms: number;
  min_ms: number;
  passages_per_s: number;
}
type RunPeer = (
  opts: { batch: number; seq: number; iters: number; threads?: number },
) => Promise<PeerResult>;

/** The onnxruntime peer from `../shared/peers/`, or null (with a message) when absent. */
async function loadPeer(): Promise<RunPeer | null> {
  const url = new URL("../../shared/peers/onnx_peer.ts", import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    emit({ bench: "onnx_peer", skipped: `no peer at ${url.pathname} (../shared is absent)` });
    return null;
  }
  try {
    const module = await import(url.href) as { runOnnxPeer: RunPeer };
    return module.runOnnxPeer;
  } catch (error) {
    emit({ bench: "onnx_peer", error: `cannot load the peer: ${(error as Error).message}` });
    return null;
  }
}

/** Backends to run: the flag's list, else blas, wasm, cpu and webgpu on a real adapter. */
async function chooseBackends(flags: Flags): Promise<ConcreteBackendName[]> {
  if (flags.backends !== null) return flags.backends;
  const list: ConcreteBackendName[] = ["blas", "wasm", "cpu"];
  const probe = await probeWebGpu().catch(() => null);
  if (probe?.available && !probe.fallback) list.push("webgpu");
  else {
    emit({
      bench: "backend",
      backend: "webgpu",
      skipped: probe?.available
        ? `software adapter (${probe.description}); ask with --backends webgpu`
        : `no adapter (${probe?.description ?? "probe failed"})`,
    });
  }
  return list;
}

/** Runs the peer's question timing again; null (with a message) when it fails or is absent. */
async function rerunPeer(
  runPeer: RunPeer | null,
  opts: { batch: number; seq: number; iters: number; threads: number },
): Promise<PeerResult | null> {
  if (runPeer === null) return null;
  try {
    const result = await runPeer(opts);
    emit({ bench: "onnx_peer", kind: "question_latency", ...result });
    return result;
  } catch (error) {
    emit({ bench: "onnx_peer", error: (error as Error).message });
    return null;
  }
}

let questionFlopsGlobal = 0, passageFlopsGlobal = 0;
/** RSS before the encoder was built, and its weight bytes (for memory ratios). */
let rssBaseline = 0, weightBytesGlobal = 1;

function emitPassages(
  backend: string,
  variant: string,
  times: number[],
  peer: PeerResult | null,
  goal: number,
): void {
  const ms = median(times);
  const rate = (16 * 1000) / ms;
  emit({
    bench: "passage_encoding",
    backend,
    variant,
    batch: 16,
    seq: 256,
    iters: times.length,
    median_ms: round(ms, 1),
    passages_per_s: round(rate),
    gflops: round(passageFlopsGlobal / ms / 1e6, 1),
    onnx_passages_per_s: peer ? round(peer.passages_per_s) : null,
    ratio_vs_onnx: peer ? round(rate / peer.passages_per_s) : null,
    // Fastest run against the peer's fastest: steadier than medians on a shared machine.
    min_ms: round(Math.min(...times), 1),
    ratio_vs_onnx_best: peer ? round(peer.min_ms / Math.min(...times)) : null,
    goal,
  });
}

function emitQuestion(
  backend: string,
  variant: string,
  times: number[],
  peer: PeerResult | null,
  extra: Record<string, unknown> = {},
): void {
  const ms = median(times);
  emit({
    bench: "question_latency",
    backend,
    variant,
    batch: 1,
    seq: 32,
    iters: times.length,
    median_ms: round(ms, 1),
    min_ms: round(Math.min(...times), 1),
    gflops: round(questionFlopsGlobal / ms / 1e6, 1),
    onnx_median_ms: peer ? round(peer.median_ms, 1) : null,
    ratio_vs_onnx: peer ? round(ms / peer.median_ms) : null,
    ratio_vs_onnx_best: peer ? round(Math.min(...times) / peer.min_ms) : null,
    goal: 1.5,
    ...extra,
  });
}

function rss(): number {
  return Deno.memoryUsage().rss;
}

async function main(): Promise<void> {
  const flags = parseFlags(Deno.args);
  const quick = flags.quick;
  const config = new DPRConfig({ numHiddenLayers: flags.layers });
  const backends = await chooseBackends(flags);
  const threads = navigator.hardwareConcurrency;
  const P = { batch: 16, seq: 256 }, Q = { batch: 1, seq: 32 };
  passageFlopsGlobal = bertFlops(config, P.batch, P.seq);
  questionFlopsGlobal = bertFlops(config, Q.batch, Q.seq);

  // Load the encoder on the first backend that starts, measuring RSS growth against its weights.
  let model: DPRContextEncoder | null = null;
  const started: ConcreteBackendName[] = [];
  for (const backend of backends) {
    try {
      const chosen = await setBackend(backend);
      emit({ bench: "backend", started: true, ...chosen.info });
      started.push(backend);
    } catch (error) {
      emit({ bench: "backend", backend, started: false, reason: (error as Error).message });
      continue;
    }
    if (model === null) {
      const before = rss();
      rssBaseline = before;
      const t0 = performance.now();
      model = new DPRContextEncoder(config, { seed: 1 });
      const loadMs = performance.now() - t0;
      const weightBytes = model.weights.reduce((sum, w) => sum + w.read().size * 4, 0);
      weightBytesGlobal = weightBytes;
      const growth = rss() - before;
      emit({
        bench: "memory_load",
        backend,
        layers: flags.layers,
        weight_bytes: weightBytes,
        rss_growth_bytes: growth,
        ratio: round(growth / weightBytes),
        target: 1.2,
        init_ms: round(loadMs, 0),
      });
    }
  }
  if (model === null) throw new Error("bench: no backend started");

  if (flags.memory) {
    const backend = started[0]!;
    await setBackend(backend);
    const batches = flags.memoryBatches ?? (quick ? 50 : 1000), warmup = 10;
    const variants = backend === "blas" && setBlasPrepack(false) ? ["plain", "packed"] : [
      "default",
    ];
    for (const variant of variants) {
      // Packed weights: the packing happens during the warm-up; the loop then shows whether
      // memory grew (packing replaces the plain matrices, so it should not).
      if (variant === "packed") setBlasPrepack(true);
      const ids = inputIds(2, 64);
      for (let i = 0; i < warmup; i++) await forward(model, ids);
      const rssStart = rss(), tensorsStart = tf.memory().numTensors;
      let rssMax = rssStart;
      const t0 = performance.now();
      const count = variant === "packed" ? Math.min(batches, 200) : batches;
      for (let i = 0; i < count; i++) {
        await forward(model, ids);
        if (i % 10 === 0) rssMax = Math.max(rssMax, rss());
      }
      const rssEnd = rss(), tensorsEnd = tf.memory().numTensors;
      ids.dispose();
      emit({
        bench: "memory_steady",
        backend,
        variant,
        batches: count,
        batch: 2,
        seq: 64,
        seconds: round((performance.now() - t0) / 1000, 1),
        rss_start: rssStart,
        rss_end: rssEnd,
        rss_max: rssMax,
        rss_growth_ratio: round(rssEnd / rssStart),
        rss_over_weights: round((rssEnd - rssBaseline) / weightBytesGlobal),
        num_tensors_start: tensorsStart,
        num_tensors_end: tensorsEnd,
      });
      if (variant === "packed") setBlasPrepack(false);
    }
  }
  // The peer runs before our timings, with the machine otherwise idle.
  let peerP: PeerResult | null = null, peerQ: PeerResult | null = null;
  let runPeerQ: RunPeer | null = null;
  if (flags.peer && flags.layers === 12) {
    const runPeer = await loadPeer();
    runPeerQ = runPeer;
    if (runPeer !== null) {
      try {
        peerP = await runPeer({ ...P, iters: flags.iters ?? (quick ? 2 : 5), threads });
        emit({ bench: "onnx_peer", kind: "passage_encoding", ...peerP });
        peerQ = await runPeer({ ...Q, iters: quick ? 10 : 30, threads });
        emit({ bench: "onnx_peer", kind: "question_latency", ...peerQ });
      } catch (error) {
        emit({ bench: "onnx_peer", error: (error as Error).message });
      }
    }
  } else if (flags.peer) {
    emit({ bench: "onnx_peer", skipped: "the peer is BERT-base (12 layers) only" });
  }

  for (const backend of started) {
    await setBackend(backend);
    const slow = backend === "cpu";
    if (slow && !flags.cpuPassages) {
      emit({
        bench: "passage_encoding",
        backend,
        skipped: "the cpu backend takes minutes per batch; pass --cpu-passages to time it",
      });
    } else {
      const iters = flags.iters ?? (quick || slow ? 1 : 3);
      // Warm up on a small batch in quick mode (kernels compile, weights move to the backend).
      const warm = quick ? 0 : 1;
      if (quick) await timeForward(model, 1, 8, 0, 1);
      // blas: first with plain weights (OpenBLAS alone), then packed (its default with oneDNN).
      const packing = backend === "blas" && setBlasPrepack(false);
      // wasm: tfjs's XNNPACK products and the relaxed-SIMD kernel (its default), one pass of
      // each in turn so that the machine's drift falls on both alike.
      if (backend === "wasm" && wasmFmaRuns()) {
        const { xnnpack, withFma } = await inTurn(
          () => timeForward(model, P.batch, P.seq, 1, 0),
          warm,
          iters,
        );
        emitPassages(backend, "xnnpack", xnnpack, peerP, 0.3);
        emitPassages(backend, "fma", withFma, peerP, 0.3);
      } else {
        const times = await timeForward(model, P.batch, P.seq, iters, warm);
        emitPassages(
          backend,
          packing ? "plain" : "default",
          times,
          peerP,
          backend === "wasm" ? 0.3 : 0.5,
        );
      }
      if (packing) {
        setBlasPrepack(true);
        // Weights are packed on their first use: two small untimed passes first.
        await timeForward(model, 1, 8, 0, 2);
        const packed = await timeForward(model, P.batch, P.seq, iters, quick ? 0 : 1);
        emitPassages(backend, "packed", packed, peerP, 0.5);
      }
    }
    const qIters = flags.iters ?? (slow ? (quick ? 1 : 3) : quick ? 5 : 20);
    // The peer again, just before: the machine's speed drifts over minutes.
    const peerNow = await rerunPeer(runPeerQ, { ...Q, iters: quick ? 10 : 30, threads });
    const qPeer = peerNow ?? peerQ;
    if (backend === "wasm" && flags.layers === 12) {
      // int8 on one thread (the edge configuration), loaded from files, in a child process.
      const int8 = await int8QuestionTimes(qIters);
      if ("error" in int8) emit({ bench: "question_latency", backend, variant: "int8", ...int8 });
      else {
        const cpu = round(median(int8.cpu), 0);
        emitQuestion(backend, "int8, 1 thread", int8.times, qPeer, { goal: 2, cpu_median_ms: cpu });
      }
    }
    const packing = backend === "blas" && setBlasPrepack(false);
    if (backend === "wasm" && wasmFmaRuns()) {
      const { xnnpack, withFma } = await inTurn(
        () => timeForward(model, Q.batch, Q.seq, 1, 0),
        1,
        qIters,
      );
      emitQuestion(backend, "xnnpack", xnnpack, qPeer);
      emitQuestion(backend, "fma", withFma, qPeer);
      continue;
    }
    const qTimes = await timeForward(model, Q.batch, Q.seq, qIters, 1);
    emitQuestion(backend, packing ? "plain" : "default", qTimes, qPeer);
    if (packing) {
      setBlasPrepack(true);
      // Weights are packed on their first use: two untimed passes.
      const packedTimes = await timeForward(model, Q.batch, Q.seq, qIters, 2);
      emitQuestion(backend, "packed", packedTimes, qPeer, {
        packed_bytes: blasLibrary()?.packedBytes() ?? 0,
      });
    }
  }

  model.dispose();

  if (flags.extras) {
    await runExtra("tokenizer", "./tokenizer_bench.ts", "benchTokenizer");
    await runExtra("convert", "./convert_bench.ts", "benchConvert");
    await runExtra("index", "./index_bench.ts", "benchIndex");
  }
}

/** Runs another helper's benchmark when its file exists; it prints its own JSON lines. */
async function runExtra(bench: string, path: string, exportName: string): Promise<void> {
  const url = new URL(path, import.meta.url);
  try {
    await Deno.stat(url);
  } catch {
    emit({ bench, skipped: `${path} is absent` });
    return;
  }
  try {
    const module = await import(url.href) as Record<string, unknown>;
    const fn = module[exportName];
    if (typeof fn !== "function") {
      emit({ bench, skipped: `${path} does not export ${exportName}()` });
      return;
    }
    const result = await (fn as () => Promise<unknown>)();
    if (result !== undefined) {
      for (const line of Array.isArray(result) ? result : [result]) emit({ bench, ...line });
    }
  } catch (error) {
    emit({ bench, error: (error as Error).message });
  }
}

if (import.meta.main) await main();
