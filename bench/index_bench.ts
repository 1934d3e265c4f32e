/**
 * `DenseIndex` exact search against FAISS `IndexFlatIP` in the same run, and the float16 / int8
 * storage options. Prints one JSON line per measurement:
 *
 * - `index_search`: float32 search of a batch of 128 queries and of one query (top-100) on each
 *   backend; ours and FAISS alternate call by call (the machine's drift falls on both alike);
 *   `ratio` = FAISS median / ours (> 1: ours is faster), `ratio_rounds` per round, `agreement` the
 *   share of FAISS's top-100 rows that ours returns too.
 * - `index_storage`: memory of each storage type (bytes, and peak RSS growth of a fresh process
 *   loading the saved index: the path users take), recall@100 against float32 exact over 256
 *   queries, search time against float32 in the same run.
 * - `index_rescore`: float16 and int8 with float32 originals on disk, searches re-scoring their
 *   candidates (`bench/rescore_bench.ts`): recall with and without, memory, time against plain.
 *
 * FAISS runs in `/usr/bin/python3` with Debian's python3-faiss, on the `.npy` files this bench
 * writes; where it cannot be imported, the FAISS rows say so and are skipped.
 *
 * `deno run -A bench/index_bench.ts [--rows 200000] [--dim 768] [--rounds 5]
 * [--backends blas,wasm,cpu] [--data gaussian|clustered] [--parts search,storage]`; `deno task bench` runs it with the
 * defaults (cpu with one round).
 * @module
 */
import { setBackend } from "../backend/set_backend.ts";
import type { ConcreteBackendName } from "../backend/backend_name.ts";
import { DenseIndex, type VectorStorage } from "../index/dense_index.ts";
import { encodeNpy } from "../index/npy.ts";
import { clustered, gaussian, loadAverage, median, overlap, round } from "./index_data.ts";
import { benchRescore } from "./rescore_bench.ts";

/** Options of {@link benchIndex}. */
export interface IndexBenchOptions {
  /** Index rows (default 200,000). */
  rows?: number;
  /** Vector dimension (default 768). */
  dim?: number;
  /** Timed rounds per backend (default 5; the cpu backend 1). */
  rounds?: number;
  /** Backends to time (default blas, wasm, cpu). */
  backends?: ConcreteBackendName[];
  /** Vectors: Gaussian (hard for int8) or clustered with uneven dimensions (default both). */
  data?: Array<"gaussian" | "clustered">;
  /**
   * What to measure (default both): `search` (float32 against FAISS) and `storage` (float16 and
   * int8, plain and re-scored).
   */
  parts?: Array<"search" | "storage">;
}

/** Top-k, queries per timed batch, single queries per round, queries recall is measured over. */
const K = 100, BATCH = 128, SINGLES = 5, RECALL_QUERIES = 256;

const FAISS_PEER = `
import json, sys, time
import numpy as np
import faiss
d = sys.argv[1]
x = np.load(d + "/vectors.npy")
q = np.load(d + "/queries.npy")
index = faiss.IndexFlatIP(x.shape[1])
index.add(x)
print(json.dumps({"ready": True, "faiss": faiss.__version__, "threads": faiss.omp_get_max_threads()}), flush=True)
for line in sys.stdin:
    start, count, k = map(int, line.split())
    t = time.perf_counter()
    _, rows = index.search(q[start:start + count], k)
    ms = (time.perf_counter() - t) * 1000
    print(json.dumps({"ms": ms, "rows": rows.tolist()}), flush=True)
`;

/** A FAISS `IndexFlatIP` in a Python process, answering one search per request. */
class FaissPeer {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #lines: AsyncIterator<string>;
  readonly info: Record<string, unknown>;

  private constructor(child: Deno.ChildProcess, lines: AsyncIterator<string>, info: object) {
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#lines = lines;
    this.info = info as Record<string, unknown>;
  }

  static async start(dir: string): Promise<FaissPeer | string> {
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command("/usr/bin/python3", {
        args: ["-c", FAISS_PEER, dir],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      return `cannot run /usr/bin/python3: ${(error as Error).message}`;
    }
    const lines = readLines(child.stdout);
    const first = await lines.next();
    if (first.done) {
      const err = new TextDecoder().decode((await child.output()).stderr).trim().split("\n");
      return `/usr/bin/python3 with faiss failed: ${err.at(-1)}`;
    }
    child.stderr.cancel();
    return new FaissPeer(child, lines, JSON.parse(first.value));
  }

  async search(start: number, count: number): Promise<{ ms: number; rows: number[][] }> {
    await this.#writer.write(new TextEncoder().encode(`${start} ${count} ${K}\n`));
    const line = await this.#lines.next();
    if (line.done) throw new Error("the FAISS process ended");
    return JSON.parse(line.value);
  }

  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
    await this.#child.status;
  }
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let at;
    while ((at = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, at);
      buffer = buffer.slice(at + 1);
    }
  }
}

async function rowsOf(index: DenseIndex, queries: Float32Array): Promise<number[][]> {
  return (await index.search(queries, K, { rescore: false })).map((hits) => hits.map((h) => h.row));
}

/** Peak RSS growth of a fresh process loading the index at `dir`. */
async function loadPeak(dir: string): Promise<{ hwm_growth_bytes: number; load_ms: number }> {
  const url = new URL("../index/dense_index.ts", import.meta.url).href;
  const script = `
    const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]) * 1024;
    const { DenseIndex } = await import(${JSON.stringify(url)});
    const before = hwm(), t = performance.now();
    const index = await DenseIndex.load(${JSON.stringify(dir)});
    console.log(JSON.stringify({ hwm_growth_bytes: hwm() - before, load_ms: performance.now() - t, n: index.size }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/**
 * Runs the index benchmark.
 * @param options sizes, rounds, backends, data
 * @returns nothing; prints JSON lines
 */
export async function benchIndex(options: IndexBenchOptions = {}): Promise<void> {
  const n = options.rows ?? 200_000, dim = options.dim ?? 768;
  const backends = options.backends ?? ["blas", "wasm", "cpu"];
  const emit = (fields: Record<string, unknown>) => console.log(JSON.stringify(fields));
  for (const kind of options.data ?? ["gaussian", "clustered"]) {
    const data = kind === "gaussian" ? gaussian(n * dim, 1) : clustered(n, dim, 1);
    // The first BATCH are timed; recall is measured over all RECALL_QUERIES.
    const all = kind === "gaussian"
      ? gaussian(RECALL_QUERIES * dim, 2)
      : clustered(RECALL_QUERIES, dim, 2);
    const queries = all.subarray(0, BATCH * dim);
    const dir = await Deno.makeTempDir({ prefix: "dpr-index-bench-" });
    let peer: FaissPeer | string = "not started";
    try {
      await Deno.writeFile(`${dir}/vectors.npy`, encodeNpy(data, n, dim));
      await Deno.writeFile(`${dir}/queries.npy`, encodeNpy(all, RECALL_QUERIES, dim));
      const timeSearch = options.parts?.includes("search") ?? true;
      if (timeSearch) {
        peer = await FaissPeer.start(dir);
        if (typeof peer === "string") {
          emit({ bench: "index_search", data: kind, skipped: `FAISS: ${peer}` });
        } else emit({ bench: "faiss_peer", ...peer.info, python: "/usr/bin/python3" });
      }
      const ids = Array.from({ length: n }, (_, i) => String(i));
      const f32 = new DenseIndex(dim);
      f32.add(ids, data);
      let exact: number[][] | null = null;
      const searched = kind === "gaussian" ? backends : backends.slice(0, 1);
      for (const backend of timeSearch ? searched : []) {
        try {
          await setBackend(backend);
        } catch (error) {
          emit({ bench: "index_search", backend, skipped: (error as Error).message });
          continue;
        }
        const rounds = options.rounds ?? (backend === "cpu" ? 1 : 5);
        for (const nq of [BATCH, 1]) {
          const ours: number[] = [], theirs: number[] = [], ratios: number[] = [];
          let agreement: number | null = null;
          // Warm-up (not on cpu, whose batch takes minutes: nothing there to warm up).
          if (backend !== "cpu") await f32.search(queries.subarray(0, nq * dim), K);
          if (typeof peer !== "string") await peer.search(0, nq);
          for (let r = 0; r < rounds; r++) {
            // One query: SINGLES different queries per round, each timed alone.
            const calls = nq === 1 ? SINGLES : 1;
            let mine = 0, faiss = 0;
            for (let c = 0; c < calls; c++) {
              const start = nq === 1 ? (r * SINGLES + c) % BATCH : 0;
              const q = queries.subarray(start * dim, (start + nq) * dim);
              const t0 = performance.now();
              const found = await rowsOf(f32, q);
              mine += performance.now() - t0;
              if (typeof peer !== "string") {
                const result = await peer.search(start, nq);
                faiss += result.ms;
                if (nq === BATCH && r === 0) agreement = overlap(found, result.rows);
              }
              if (nq === BATCH && r === 0 && exact === null) exact = found;
            }
            ours.push(mine / calls);
            if (typeof peer !== "string") {
              theirs.push(faiss / calls);
              ratios.push(faiss / mine);
            }
          }
          emit({
            bench: "index_search",
            data: kind,
            backend,
            storage: "float32",
            rows: n,
            dim,
            queries: nq,
            k: K,
            rounds,
            median_ms: round(median(ours), 1),
            faiss_median_ms: theirs.length ? round(median(theirs), 1) : null,
            ratio: theirs.length ? round(median(theirs) / median(ours)) : null,
            ratio_rounds: ratios.map((x) => round(x, 2)),
            agreement_top100: agreement === null ? null : round(agreement, 4),
            load_average: loadAverage(),
            goal: 1.0,
          });
        }
      }
      if ((exact === null && timeSearch) || options.parts?.includes("storage") === false) continue;
      await setBackend(backends[0]!);
      const exactAll = await rowsOf(f32, all);
      const f32Dir = `${dir}/float32`;
      await f32.save(f32Dir);
      const f32Peak = await loadPeak(f32Dir);
      emit({
        bench: "index_storage",
        data: kind,
        storage: "float32",
        rows: n,
        dim,
        vector_bytes: f32.vectorBytes,
        bytes_per_vector: f32.vectorBytes / n,
        ...f32Peak,
      });
      for (const storage of ["float16", "int8"] as VectorStorage[]) {
        // With the float32 originals for `benchRescore`; these rows search without them.
        const index = new DenseIndex(dim, { storage, keepOriginals: true });
        // In chunks of 1,000, as `dpr index` adds the encoding job's chunks.
        for (let start = 0; start < n; start += 1000) {
          const end = Math.min(n, start + 1000);
          index.add(ids.slice(start, end), data.subarray(start * dim, end * dim));
        }
        const found = await rowsOf(index, all);
        // This storage and float32 alternate, so that their ratio is of the same moments.
        const times: number[] = [], single: number[] = [], f32Times: number[] = [];
        const f32Single: number[] = [];
        const timed = async (into: number[], run: () => Promise<unknown>) => {
          const t0 = performance.now();
          await run();
          into.push(performance.now() - t0);
        };
        for (let r = 0; r < 3; r++) {
          const one = queries.subarray(r * dim, (r + 1) * dim);
          await timed(times, () => index.search(queries, K, { rescore: false }));
          await timed(f32Times, () => f32.search(queries, K));
          await timed(single, () => index.search(one, K, { rescore: false }));
          await timed(f32Single, () => f32.search(one, K));
        }
        await index.save(`${dir}/${storage}`);
        const peak = await loadPeak(`${dir}/${storage}`);
        emit({
          bench: "index_storage",
          data: kind,
          storage,
          backend: backends[0],
          rows: n,
          dim,
          vector_bytes: index.vectorBytes,
          bytes_per_vector: index.vectorBytes / n,
          memory_ratio_vs_float32: round(f32.vectorBytes / index.vectorBytes, 2),
          ...peak,
          hwm_ratio_vs_float32: round(f32Peak.hwm_growth_bytes / peak.hwm_growth_bytes, 2),
          recall_at_100: round(overlap(found, exactAll), 4),
          recall_queries: RECALL_QUERIES,
          batch_median_ms: round(median(times), 1),
          batch_float32_median_ms: round(median(f32Times), 1),
          single_median_ms: round(median(single), 1),
          single_float32_median_ms: round(median(f32Single), 1),
          goal_recall: 0.99,
        });
        await benchRescore({
          dir: `${dir}/${storage}`,
          queriesPath: `${dir}/queries.npy`,
          storage,
          data: kind,
          backend: backends[0]!,
          queries: all,
          exact: exactAll,
          batch: BATCH,
          k: K,
          float32Bytes: f32.vectorBytes,
        });
        await Deno.remove(`${dir}/${storage}`, { recursive: true });
      }
    } finally {
      if (typeof peer !== "string") await peer.close();
      await Deno.remove(dir, { recursive: true });
    }
  }
}

function parseFlags(args: string[]): IndexBenchOptions {
  const options: IndexBenchOptions = {};
  for (let i = 0; i < args.length; i++) {
    const [name, inline] = args[i]!.split("=", 2) as [string, string | undefined];
    const value = inline ?? args[++i];
    if (value === undefined) throw new TypeError(`index bench: ${name} needs a value`);
    if (name === "--rows" || name === "--dim" || name === "--rounds") {
      const x = Number(value);
      if (!Number.isInteger(x) || x < 1) {
        throw new RangeError(`index bench: ${name} must be a positive integer: received ${value}`);
      }
      options[name.slice(2) as "rows" | "dim" | "rounds"] = x;
    } else if (name === "--backends") {
      options.backends = value.split(",") as ConcreteBackendName[];
    } else if (name === "--parts") {
      options.parts = value.split(",") as Array<"search" | "storage">;
    } else if (name === "--data") {
      options.data = value.split(",") as Array<"gaussian" | "clustered">;
    } else throw new TypeError(`index bench: unknown flag "${name}"`);
  }
  return options;
}

if (import.meta.main) await benchIndex(parseFlags(Deno.args));
