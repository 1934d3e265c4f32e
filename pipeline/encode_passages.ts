/**
 * Encoding a passage collection into a {@link DenseIndex}, at scale: sharded, resumable jobs and a
 * merge step.
 *
 * The collection is cut, in file order, into chunks of `chunkSize` passages; chunk `c` belongs to
 * shard `c % numShards`. A collection too small to give every shard a chunk is sharded by passage
 * instead: its chunks shrink to `floor(passages / numShards)` (each job counts the passages first,
 * reading no further than the first `(numShards - 1) * chunkSize`). A shard job streams the whole
 * file, encodes only its own chunks, and writes each finished chunk as a small index folder,
 * atomically (written under a temporary name, then renamed). After a crash, running the same job
 * again skips the chunks already on disk, once it has checked that each was encoded from the
 * passages the file holds now (a SHA-256 of each chunk's passages is kept beside it; a finished
 * shard keeps one of the whole collection): a changed file is refused, naming the chunk, never
 * mixed with the old chunks.
 *
 * ```
 * <out>/shards/shard-<s>-of-<n>/job.json       the job's settings (checked on resume)
 * <out>/shards/shard-<s>-of-<n>/chunk-000012/  chunk 12, a DenseIndex folder
 * <out>/shards/shard-<s>-of-<n>/chunk-000012.sha256  the digest of the passages it holds
 * <out>/shards/shard-<s>-of-<n>/done.json      written last: {"totalPassages", "totalChunks",
 *                                               "passagesSha256"}
 * ```
 *
 * `mergeShards(out)` checks that every shard is done and every chunk present, then writes the
 * merged index (rows in file order, metadata `{title, text}`) to `<out>` itself.
 *
 * With an `index` in place of `outDir` (a {@link VectorIndex} such as a Postgres table), each
 * chunk is written into it as one `upsert` (ids, vectors, `{title, text}`, and each passage's
 * position in the file as its row); a chunk counts as done when every one of its ids is stored, so
 * a re-run skips finished chunks and rewrites a partial one, and shards on many machines write
 * into the same index with no merge step. An index with a job ledger (Postgres: `<table>_dpr_job`)
 * keeps the job's settings and each chunk's digest beside the rows, so that a re-run with another
 * model, other options or changed passages is refused there too (see `index_job.ts`); the number
 * of shards may change between runs.
 * @module
 */
import { DenseIndex, type VectorStorage } from "../index/dense_index.ts";
import type { VectorIndex } from "../index/vector_index.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import { pathExists } from "../io/path_exists.ts";
import {
  type DenseEncoder,
  embedEncoded,
  type PassageTokenTypes,
  tokenizePassage,
} from "./dense_encoder.ts";
import { type Passage, type PassageFormat, readPassages } from "./passages.ts";
import {
  checkChunkDigest,
  PassageDigest,
  passageFileDigest,
  writeChunkDigest,
} from "./passage_digest.ts";
import { ProgressBar } from "./progress.ts";
import { claimIndexJob, indexChunkDone, writeIndexChunk } from "./index_job.ts";

/** Options of an encoding job. */
export interface EncodeJobOptions {
  /** The passage file (TSV or JSONL, optionally gzipped). */
  passages: string;
  /** The output folder; shards go to `<outDir>/shards/`. Give this or `index`. */
  outDir?: string;
  /**
   * The index to write each chunk into (e.g. Postgres), in place of chunk folders; its dimension
   * must be the encoder's. Give this or `outDir`.
   */
  index?: VectorIndex;
  /** The context encoder. */
  encoder: DenseEncoder;
  /** This job's shard, 0-based (default 0). */
  shardId?: number;
  /** Number of shards (default 1). */
  numShards?: number;
  /** Passages per chunk, the unit of resumption (default 1000). */
  chunkSize?: number;
  /** Passages per model call (default 32). */
  batchSize?: number;
  /** Passage token types: "zeros" (default, as original DPR) or "pair" (as HF's tokenizer). */
  tokenTypes?: PassageTokenTypes;
  /** Passage file format (default: from the file name). */
  format?: PassageFormat;
  /** Show a progress bar on stderr (default true). */
  progress?: boolean;
  /** Settings that must not change between a run and its resumption, e.g. the model names. */
  fingerprint?: Record<string, unknown>;
  /** Called after each chunk is written (testing, throttling). */
  afterChunk?: (chunk: number) => Promise<void> | void;
}

/** What an encoding job did. */
export interface EncodeJobResult {
  /** The shard's folder ("" when the job writes into an `index`). */
  shardDir: string;
  /** Chunks encoded in this run. */
  chunksWritten: number;
  /** Chunks found finished from an earlier run. */
  chunksSkipped: number;
  /** Passages encoded in this run. */
  passagesEncoded: number;
  /** Passages in the whole collection. */
  totalPassages: number;
  /** Chunks in the whole collection. */
  totalChunks: number;
  /**
   * Passages per chunk: the job's `chunkSize`, or fewer when the collection had fewer chunks of
   * that size than shards (then it is sharded by passage).
   */
  chunkSize: number;
}

interface JobSettings {
  passages: string;
  shardId: number;
  numShards: number;
  chunkSize: number;
  tokenTypes: PassageTokenTypes;
  fingerprint: Record<string, unknown>;
  /** Size of the passage file: a resumed job must read the same collection. */
  passagesBytes: number;
  /** The encoder's vector length. */
  encoderDim: number;
}

/** The folder of shard `shardId` of `numShards` under `outDir`. */
export function shardDir(outDir: string, shardId: number, numShards: number): string {
  return `${outDir.replace(/\/+$/, "")}/shards/shard-${shardId}-of-${numShards}`;
}

function chunkName(chunk: number): string {
  return `chunk-${String(chunk).padStart(6, "0")}`;
}

function checkInt(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Cannot run encoding job: ${name} must be an integer >= ${min}: received ${value}`,
    );
  }
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + "\n");
}

/**
 * Runs (or resumes) one shard of an encoding job.
 *
 * @example
 * ```ts ignore
 * import { mergeShards, runEncodeJob } from "@dpr/dpr";
 * import { loadDenseEncoder } from "@dpr/dpr";
 * const encoder = await loadDenseEncoder("context", { models: "models" });
 * for (const shardId of [0, 1]) {
 *   await runEncodeJob({ passages: "psgs.tsv", outDir: "idx", encoder, shardId, numShards: 2 });
 * }
 * await mergeShards("idx"); // idx/index.json, idx/vectors.npy, idx/ids.jsonl, idx/metadata.jsonl
 * ```
 * @param options the job
 * @returns counts of what was done
 */
export async function runEncodeJob(options: EncodeJobOptions): Promise<EncodeJobResult> {
  const shardId = options.shardId ?? 0;
  const numShards = options.numShards ?? 1;
  const requestedChunkSize = options.chunkSize ?? 1000;
  const batchSize = options.batchSize ?? 32;
  const tokenTypes = options.tokenTypes ?? "zeros";
  checkInt("numShards", numShards, 1);
  checkInt("shardId", shardId, 0);
  checkInt("chunkSize", requestedChunkSize, 1);
  checkInt("batchSize", batchSize, 1);
  if (shardId >= numShards) {
    throw new RangeError(
      `Cannot run encoding job: shardId must be below numShards ${numShards}: received ${shardId}`,
    );
  }
  const target = options.index;
  if ((target === undefined) === (options.outDir === undefined)) {
    throw new TypeError(
      "Cannot run encoding job: give either outDir (chunk folders) or index (write into it)",
    );
  }
  if (target !== undefined && target.dim !== options.encoder.dim) {
    throw new RangeError(
      `Cannot run encoding job: the index holds vectors of dimension ${target.dim}, the encoder ` +
        `gives ${options.encoder.dim}`,
    );
  }
  let fileSize = 0;
  try {
    fileSize = (await Deno.stat(options.passages)).size;
  } catch (error) {
    throw new Deno.errors.NotFound(
      `Cannot run encoding job: cannot read passages ${options.passages}: ${
        (error as Error).message
      }`,
    );
  }
  const dir = target === undefined ? shardDir(options.outDir!, shardId, numShards) : "";
  const settings: JobSettings = {
    passages: options.passages,
    shardId,
    numShards,
    chunkSize: requestedChunkSize,
    tokenTypes,
    fingerprint: options.fingerprint ?? {},
    passagesBytes: fileSize,
    encoderDim: options.encoder.dim,
  };
  if (target === undefined) await prepareShardDir(dir, settings);

  const chunkSize = await effectiveChunkSize(options, numShards, requestedChunkSize);
  if (target !== undefined) {
    // What all shards of the job share (each shard's number, and the count of shards, may differ).
    const { fingerprint, tokenTypes, encoderDim } = settings;
    await claimIndexJob(target, { fingerprint, tokenTypes, chunkSize, encoderDim });
  }
  const result: EncodeJobResult = {
    shardDir: dir,
    chunkSize,
    chunksWritten: 0,
    chunksSkipped: 0,
    passagesEncoded: 0,
    totalPassages: 0,
    totalChunks: 0,
  };
  const donePath = `${dir}/done.json`;
  if (target === undefined && await pathExists(donePath)) {
    const done = JSON.parse(await Deno.readTextFile(donePath));
    // A finished shard reads nothing more, so check the file against the one it encoded.
    const now = await passageFileDigest(options.passages, options.format);
    if (done.passagesSha256 !== now) {
      throw new RangeError(
        `Cannot reuse the finished encoding job in ${dir}: it was encoded from other passages ` +
          `than ${options.passages} holds now (sha256 ${
            done.passagesSha256 ?? "not recorded"
          }, now ${now}). Refused, nothing was overwritten: encode into another output folder, ` +
          `or remove ${dir} to start this shard again`,
      );
    }
    result.totalPassages = done.totalPassages;
    result.totalChunks = done.totalChunks;
    return result;
  }

  let bytesRead = 0;
  const bar = new ProgressBar(options.progress ?? true);
  let seen = 0;
  let skippedPassages = 0;
  const state = () => {
    const fraction = fileSize > 0 ? bytesRead / fileSize : 0;
    const estimatedTotal = fraction > 0 ? seen / fraction : undefined;
    return {
      label: numShards > 1 ? `shard ${shardId}/${numShards}` : "",
      done: result.passagesEncoded,
      skipped: skippedPassages,
      total: estimatedTotal === undefined ? undefined : estimatedTotal / numShards,
    };
  };

  const flush = async (chunk: number, passages: Passage[], digest: string): Promise<void> => {
    if (chunk % numShards !== shardId) return;
    const ids = passages.map((p) => p.id);
    const chunkPath = `${dir}/${chunkName(chunk)}`;
    const stored = target === undefined
      ? await pathExists(chunkPath)
      : await indexChunkDone(target, chunk, ids, digest, options.passages);
    if (stored) {
      if (target === undefined) await checkChunkDigest(dir, chunkName(chunk), digest);
      result.chunksSkipped++;
      skippedPassages += passages.length;
      return;
    }
    const encoded = passages.map((p) =>
      tokenizePassage(options.encoder, p.title, p.text, tokenTypes)
    );
    const vectors = await embedEncoded(options.encoder, encoded, batchSize);
    const metadata = passages.map((p) => ({ title: p.title, text: p.text }));
    if (target === undefined) {
      const index = new DenseIndex(options.encoder.dim);
      index.add(ids, vectors, metadata);
      await writeChunkDigest(dir, chunkName(chunk), digest);
      await index.save(chunkPath);
    } else {
      const rows = passages.map((_, i) => chunk * chunkSize + i);
      await writeIndexChunk(target, chunk, digest, { ids, vectors, metadata, rows });
    }
    result.chunksWritten++;
    result.passagesEncoded += passages.length;
    bar.update(state());
    await options.afterChunk?.(chunk);
  };

  let chunk = 0;
  let buffer: Passage[] = [];
  const digest = new PassageDigest();
  for await (
    const passage of readPassages(options.passages, {
      format: options.format,
      onBytes: (b) => bytesRead = b,
    })
  ) {
    seen++;
    digest.add(passage);
    // Passages of other shards' chunks are only counted (and hashed), never kept.
    if (chunk % numShards === shardId) buffer.push(passage);
    else buffer.length++;
    if (buffer.length === chunkSize) {
      await flush(chunk, buffer, digest.endChunk());
      buffer = [];
      chunk++;
    }
  }
  if (buffer.length > 0) {
    await flush(chunk, buffer, digest.endChunk());
    chunk++;
  }
  result.totalPassages = seen;
  result.totalChunks = chunk;
  bar.finish(state());
  if (target === undefined) {
    await writeJsonAtomic(donePath, {
      totalPassages: seen,
      totalChunks: chunk,
      passagesSha256: digest.endCollection(),
    });
  }
  return result;
}

/** Creates or checks a shard folder: its job.json, and no leftovers of a crash mid-write. */
async function prepareShardDir(dir: string, settings: JobSettings): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const jobPath = `${dir}/job.json`;
  if (await pathExists(jobPath)) {
    const previous = JSON.parse(await Deno.readTextFile(jobPath));
    const { passages: _p, ...prevRest } = previous as JobSettings;
    const { passages: _q, ...nowRest } = settings;
    if (JSON.stringify(prevRest) !== JSON.stringify(nowRest)) {
      throw new RangeError(
        `Cannot resume the encoding job in ${dir}: its settings ${JSON.stringify(prevRest)} ` +
          `differ from this run's ${JSON.stringify(nowRest)}; use another output folder`,
      );
    }
  } else {
    await writeJsonAtomic(jobPath, settings);
  }
  // Leftovers of a crash mid-write are never valid chunks.
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.includes(".tmp-")) {
      await Deno.remove(`${dir}/${entry.name}`, { recursive: true });
    }
  }
}

/**
 * The chunk size a job uses: `chunkSize`, or `floor(passages / numShards)` when the collection
 * holds at most `(numShards - 1) * chunkSize` passages (too few chunks for every shard: sharding
 * by passage instead). Counting stops past that bound, so a large collection is not read twice.
 */
async function effectiveChunkSize(
  options: EncodeJobOptions,
  numShards: number,
  chunkSize: number,
): Promise<number> {
  if (numShards === 1) return chunkSize;
  const bound = (numShards - 1) * chunkSize;
  let count = 0;
  for await (const _ of readPassages(options.passages, { format: options.format })) {
    if (++count > bound) return chunkSize;
  }
  return Math.max(1, Math.floor(count / numShards));
}

/** Options of {@link mergeShards}. */
export interface MergeOptions {
  /**
   * How the merged index stores vectors: "float32" (default), "float16" or "int8" (the chunks
   * stay float32, so each vector is converted once).
   */
  storage?: VectorStorage;
  /**
   * float16 and int8: also save the float32 vectors (`originals.npy`), which searches read by rows
   * to re-score their candidates (`DenseIndexOptions.keepOriginals`). Default false.
   */
  keepOriginals?: boolean;
}

/**
 * Merges the finished shards of a job in `outDir` into one index, saved to `indexDir`
 * (default `outDir`).
 * @param outDir the job's output folder (holding `shards/`)
 * @param indexDir where to save the merged index (default `outDir`)
 * @param options the merged index's storage type
 * @returns the merged index
 */
export async function mergeShards(
  outDir: string,
  indexDir: string = outDir,
  options: MergeOptions = {},
): Promise<DenseIndex> {
  const root = `${outDir.replace(/\/+$/, "")}/shards`;
  const shards = new Map<number, number>(); // shardId -> numShards
  try {
    for await (const entry of Deno.readDir(root)) {
      const m = /^shard-(\d+)-of-(\d+)$/.exec(entry.name);
      if (entry.isDirectory && m) shards.set(Number(m[1]), Number(m[2]));
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new Deno.errors.NotFound(
        `Cannot merge: ${root} does not exist (run the index job first)`,
      );
    }
    throw error;
  }
  const counts = new Set(shards.values());
  if (counts.size !== 1) {
    throw new RangeError(
      `Cannot merge ${root}: expected shards of one job, found shard counts ${
        counts.size === 0 ? "none" : [...counts].join(", ")
      }`,
    );
  }
  const numShards = [...counts][0]!;
  let totals: { totalPassages: number; totalChunks: number; passagesSha256?: string } | null = null;
  const problems: string[] = [];
  for (let s = 0; s < numShards; s++) {
    const dir = shardDir(outDir, s, numShards);
    if (!shards.has(s)) {
      problems.push(`shard ${s} has not started`);
      continue;
    }
    if (!(await pathExists(`${dir}/done.json`))) {
      problems.push(`shard ${s} is not finished`);
      continue;
    }
    const done = JSON.parse(await Deno.readTextFile(`${dir}/done.json`));
    if (totals !== null && totals.totalChunks !== done.totalChunks) {
      problems.push(`shard ${s} saw ${done.totalChunks} chunks, others ${totals.totalChunks}`);
    }
    if (totals !== null && totals.passagesSha256 !== done.passagesSha256) {
      problems.push(`shard ${s} was encoded from another passage file than shard 0`);
    }
    totals ??= done;
  }
  if (problems.length > 0 || totals === null) {
    throw new RangeError(`Cannot merge ${root}: ${problems.join("; ")}`);
  }
  let merged: DenseIndex | null = null;
  for (let c = 0; c < totals.totalChunks; c++) {
    const path = `${shardDir(outDir, c % numShards, numShards)}/${chunkName(c)}`;
    if (!(await pathExists(path))) {
      throw new Deno.errors.NotFound(`Cannot merge ${root}: chunk ${c} is missing (${path})`);
    }
    const part = await DenseIndex.load(path);
    merged ??= new DenseIndex(part.dim, {
      storage: options.storage ?? "float32",
      keepOriginals: options.keepOriginals ?? false,
    });
    if (part.dim !== merged.dim) {
      throw new RangeError(
        `Cannot merge ${root}: chunk ${c} has dimension ${part.dim}, chunk 0 has ${merged.dim}`,
      );
    }
    // With originals kept, the chunk's float32 file lends them (read again when saving).
    await merged.append(part);
  }
  if (merged === null) throw new RangeError(`Cannot merge ${root}: the collection has no passages`);
  if (merged.size !== totals.totalPassages) {
    throw new RangeError(
      `Cannot merge ${root}: chunks hold ${merged.size} passages, the job saw ${totals.totalPassages}`,
    );
  }
  await merged.save(indexDir);
  return merged;
}
