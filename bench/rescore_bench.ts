/**
 * Re-scoring with float32 originals on disk (`index/rescore.ts`), measured on a saved float16 or
 * int8 index the way users search it: loaded from its folder, the originals read by rows from
 * `originals.npy`. Prints one `index_rescore` JSON line per index:
 *
 * - recall@100 against float32 exact over the recall queries, without re-scoring and with it at
 *   several oversample factors (`recall_by_oversample`), the default's in `recall_at_100_rescored`,
 *   and how many queries get float32 exact's top 100 in the same order (`same_ranking_queries`);
 * - memory: the stored vectors against float32 (`memory_ratio_vs_float32`), and the peak RSS
 *   growth of fresh processes that load the index and search a batch, plain and re-scored (the
 *   originals file is never held: the two stay alike), beside the originals file's size;
 * - time: a batch and one query, re-scored against plain, alternating, in the same run
 *   (`batch_time_ratio`, `single_time_ratio`: re-scored / plain).
 *
 * Run by `bench/index_bench.ts` (`deno task bench`) after its storage rows.
 * @module
 */
import { DenseIndex, type VectorStorage } from "../index/dense_index.ts";
import { DEFAULT_OVERSAMPLE } from "../index/rescore.ts";
import { loadAverage, median, overlap, round } from "./index_data.ts";

/** What {@link benchRescore} measures on. */
export interface RescoreBenchInput {
  /** The saved index (with originals). */
  dir: string;
  /** `queries.npy` holding the recall queries (the first `batch` are timed). */
  queriesPath: string;
  /** Its storage type. */
  storage: VectorStorage;
  /** The data set's name. */
  data: string;
  /** The backend searches run on. */
  backend: string;
  /** The recall queries, row-major. */
  queries: Float32Array;
  /** float32 exact rows per recall query. */
  exact: number[][];
  /** Queries per timed batch. */
  batch: number;
  /** Hits per query. */
  k: number;
  /** Bytes of the float32 index's vectors. */
  float32Bytes: number;
}

/** Oversample factors whose recall is printed. */
const OVERSAMPLES = [1.25, 1.5, 2, 3, 4];

/**
 * Measures one saved index (module doc) and prints its line.
 * @param input the index, queries and reference
 */
export async function benchRescore(input: RescoreBenchInput): Promise<void> {
  const { dir, queries, exact, k, batch } = input;
  const dim = queries.length / exact.length;
  const index = await DenseIndex.load(dir);
  try {
    const rows = async (rescore: boolean, oversample?: number) =>
      (await index.search(queries, k, { rescore, oversample })).map((h) => h.map((x) => x.row));
    const plain = overlap(await rows(false), exact);
    const byOversample: Record<string, number> = {};
    for (const oversample of OVERSAMPLES) {
      byOversample[oversample] = round(overlap(await rows(true, oversample), exact), 6);
    }
    // Queries whose re-scored top-k is float32 exact's, in the same order.
    const rescored = await rows(true);
    const sameRanking = rescored.filter((r, i) => r.join() === exact[i]!.join()).length;
    const times = { plain: [] as number[], rescored: [] as number[] };
    const single = { plain: [] as number[], rescored: [] as number[] };
    const timed = async (into: number[], q: Float32Array, rescore: boolean) => {
      const t0 = performance.now();
      await index.search(q, k, { rescore });
      into.push(performance.now() - t0);
    };
    const batchQueries = queries.subarray(0, batch * dim);
    await timed([], batchQueries, true); // warm-up
    for (let r = 0; r < 3; r++) {
      const one = queries.subarray(r * dim, (r + 1) * dim);
      await timed(times.plain, batchQueries, false);
      await timed(times.rescored, batchQueries, true);
      await timed(single.plain, one, false);
      await timed(single.rescored, one, true);
    }
    const { files } = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
    const originalsBytes = (await Deno.stat(`${dir}/${files.originals}`)).size;
    const peakPlain = await searchPeak(input, false);
    const peakRescored = await searchPeak(input, true);
    console.log(JSON.stringify({
      bench: "index_rescore",
      data: input.data,
      storage: input.storage,
      backend: input.backend,
      rows: index.size,
      dim,
      k,
      recall_queries: exact.length,
      recall_at_100: round(plain, 4),
      oversample: DEFAULT_OVERSAMPLE,
      recall_at_100_rescored: round(overlap(rescored, exact), 6),
      same_ranking_queries: sameRanking,
      recall_by_oversample: byOversample,
      vector_bytes: index.vectorBytes,
      memory_ratio_vs_float32: round(input.float32Bytes / index.vectorBytes, 2),
      originals_file_bytes: originalsBytes,
      hwm_growth_load_search_plain: peakPlain,
      hwm_growth_load_search_rescored: peakRescored,
      batch_queries: batch,
      batch_plain_median_ms: round(median(times.plain), 1),
      batch_rescored_median_ms: round(median(times.rescored), 1),
      batch_time_ratio: round(median(times.rescored) / median(times.plain), 2),
      single_plain_median_ms: round(median(single.plain), 1),
      single_rescored_median_ms: round(median(single.rescored), 1),
      single_time_ratio: round(median(single.rescored) / median(single.plain), 2),
      load_average: loadAverage(),
      goal_recall: 0.99,
    }));
  } finally {
    await index.close();
  }
}

/** Peak RSS growth of a fresh process loading the index and searching one batch. */
async function searchPeak(input: RescoreBenchInput, rescore: boolean): Promise<number> {
  const url = (path: string) => new URL(path, import.meta.url).href;
  const script = `
    const hwm = () => Number(/VmHWM:\\s+(\\d+)/.exec(Deno.readTextFileSync("/proc/self/status"))[1]) * 1024;
    const { DenseIndex } = await import(${JSON.stringify(url("../index/dense_index.ts"))});
    const { decodeNpy } = await import(${JSON.stringify(url("../index/npy.ts"))});
    const { setBackend } = await import(${JSON.stringify(url("../backend/set_backend.ts"))});
    await setBackend(${JSON.stringify(input.backend)});
    const q = decodeNpy(Deno.readFileSync(${JSON.stringify(input.queriesPath)}), "queries.npy");
    const queries = q.data.slice(0, ${input.batch} * q.cols);
    const before = hwm();
    const index = await DenseIndex.load(${JSON.stringify(input.dir)});
    await index.search(queries, ${input.k}, { rescore: ${rescore} });
    console.log(hwm() - before);
    await index.close();
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", script],
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return Number(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1));
}
