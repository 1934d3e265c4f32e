/**
 * The `dpr` command line: build a passage index, merge shards, ask questions, evaluate, serve.
 * Run it from JSR with `deno run -A jsr:@dpr/dpr/cli <command>` (from a clone: `deno task dpr`);
 * `dpr <command> --help` prints a command's options.
 *
 * ```
 * deno run -A jsr:@dpr/dpr/cli index <passages.tsv|.jsonl> <index-dir> [--num-shards N ...]
 * deno run -A jsr:@dpr/dpr/cli merge <index-dir>
 * deno run -A jsr:@dpr/dpr/cli ask <index-dir> "question" [--top-k 10] [--retrieve-only]
 * deno run -A jsr:@dpr/dpr/cli eval <index-dir> <qa-file> [--match string|regex] [--no-reader]
 * deno run -A jsr:@dpr/dpr/cli serve <index-dir> [--port 8000] [--cors-origin <origin>]
 * ```
 *
 * Models: `--models <dir>` (subfolders `question_encoder/`, `ctx_encoder/`, `reader/`), or each
 * with `--question-encoder`, `--ctx-encoder`, `--reader` (folder, URL or hub id); by default
 * facebook's `dpr-*-single-nq-base`, downloaded and cached on first use.
 *
 * Wherever an index folder goes, a `postgres://` (or `postgresql://`) URL names a Postgres +
 * pgvector table instead; the password comes from the URL or `PGPASSWORD` and is never printed.
 * @module
 */
import { isFile } from "../io/path_exists.ts";
import { setBackend, type SetBackendOptions } from "../backend/set_backend.ts";
import type { BackendName } from "../backend/backend_name.ts";
import { exactMatchRate, retrievalAccuracy } from "../eval/retrieval_accuracy.ts";
import { readQaFile } from "../eval/qa_file.ts";
import { type DprModelSources, loadDenseEncoder } from "../pipeline/dpr_models.ts";
import { WEIGHT_DTYPES, type WeightDtype } from "../models/hf_weight_map.ts";
import { mergeShards, runEncodeJob } from "../pipeline/encode_passages.ts";
import { OpenDomainQA } from "../pipeline/open_domain_qa.ts";
import type { PassageTokenTypes } from "../pipeline/dense_encoder.ts";
import { createHandler, type HandlerOptions, serveGuarded } from "../server/handler.ts";
import { isPostgresUrl, type OpenIndexOptions } from "../index/open_index.ts";
import { redactUrl } from "../index/pg_url.ts";
import {
  finishPostgresJob,
  hnswOption,
  mergePostgres,
  openPostgresTarget,
  POSTGRES_OPTIONS,
  targetOptions,
} from "./postgres_target.ts";
import { intOption, parseArgs, stringOption, UsageError } from "./args.ts";
import {
  keepOriginalsOption,
  SEARCH_INDEX_OPTIONS,
  searchIndexOptions,
  storageOption,
} from "./index_options.ts";
import { COMMAND_USAGE, USAGE } from "./usage.ts";

export { COMMAND_USAGE, USAGE } from "./usage.ts";

const MODEL_OPTIONS = {
  models: "string",
  "question-encoder": "string",
  "ctx-encoder": "string",
  reader: "string",
  "max-length": "string",
  dtype: "string",
  backend: "string",
  "blas-prepack": "boolean",
  "no-blas-prepack": "boolean",
  "no-wasm-fma": "boolean",
  help: "boolean",
} as const;

function modelSources(options: Record<string, string | boolean>): DprModelSources {
  const sources: DprModelSources = {};
  const models = stringOption(options, "models");
  if (models !== undefined) sources.models = models;
  const q = stringOption(options, "question-encoder");
  if (q !== undefined) sources.questionEncoder = q;
  const c = stringOption(options, "ctx-encoder");
  if (c !== undefined) sources.contextEncoder = c;
  const r = stringOption(options, "reader");
  if (r !== undefined) sources.reader = r;
  const dtype = stringOption(options, "dtype");
  if (dtype !== undefined) {
    if (!(WEIGHT_DTYPES as readonly string[]).includes(dtype)) {
      throw new UsageError(
        `--dtype must be one of ${WEIGHT_DTYPES.join(", ")}: received ${JSON.stringify(dtype)}`,
      );
    }
    sources.dtype = dtype as WeightDtype;
  }
  if (options["max-length"] !== undefined) {
    sources.maxLength = intOption(options, "max-length", 512, 3);
  }
  return sources;
}

async function chooseBackend(options: Record<string, string | boolean>): Promise<void> {
  const name = stringOption(options, "backend");
  try {
    const backendOptions: SetBackendOptions = {};
    if (options["no-blas-prepack"] === true) backendOptions.blasPrepack = false;
    else if (options["blas-prepack"] === true) backendOptions.blasPrepack = true;
    if (options["no-wasm-fma"] === true) backendOptions.wasmFma = false;
    await setBackend(name as BackendName | undefined, backendOptions);
  } catch (error) {
    if (error instanceof RangeError) throw new UsageError(error.message);
    throw error;
  }
}

function need(positionals: string[], count: number, what: string): void {
  if (positionals.length !== count) {
    throw new UsageError(
      `${what} takes ${count} argument${count === 1 ? "" : "s"}: received ${positionals.length}` +
        (positionals.length > 0
          ? ` (${positionals.map((p) => JSON.stringify(redactUrl(p))).join(", ")})`
          : ""),
    );
  }
}

async function commandIndex(args: string[]): Promise<number> {
  const { positionals, options } = parseArgs(args, {
    ...MODEL_OPTIONS,
    "shard-id": "string",
    "num-shards": "string",
    batch: "string",
    "chunk-size": "string",
    "token-types": "string",
    "no-progress": "boolean",
    "keep-shards": "boolean",
    "throttle-ms": "string",
    storage: "string",
    "keep-originals": "boolean",
    ...POSTGRES_OPTIONS,
  });
  need(positionals, 2, "index");
  const [passages, indexDir] = positionals as [string, string];
  const numShards = intOption(options, "num-shards", 1);
  const shardId = intOption(options, "shard-id", 0, 0);
  if (shardId >= numShards) {
    throw new UsageError(`--shard-id must be below --num-shards ${numShards}: received ${shardId}`);
  }
  const tokenTypes = stringOption(options, "token-types") ?? "zeros";
  if (tokenTypes !== "zeros" && tokenTypes !== "pair") {
    throw new UsageError(
      `--token-types must be zeros or pair: received ${JSON.stringify(tokenTypes)}`,
    );
  }
  if (!(await isFile(passages))) throw new UsageError(`passage file ${passages} does not exist`);
  const storage = storageOption(options);
  const keepOriginals = keepOriginalsOption(options, storage, indexDir);
  const batchSize = intOption(options, "batch", 32);
  const chunkSize = intOption(options, "chunk-size", 1000);
  const throttle = intOption(options, "throttle-ms", 0, 0);
  const hnsw = targetOptions(indexDir, options);
  await chooseBackend(options);
  const sources = modelSources(options);
  const encoder = await loadDenseEncoder("context", sources);
  const target = await openPostgresTarget(indexDir, encoder.dim, stringOption(options, "storage"));
  const result = await runEncodeJob({
    passages,
    ...(target === undefined ? { outDir: indexDir } : { index: target }),
    encoder,
    shardId,
    numShards,
    batchSize,
    chunkSize,
    tokenTypes: tokenTypes as PassageTokenTypes,
    progress: options["no-progress"] !== true,
    fingerprint: {
      contextEncoder: String(sources.contextEncoder ?? sources.models ?? "default"),
      maxLength: encoder.maxLength,
      dim: encoder.dim,
    },
    afterChunk: throttle > 0 ? () => new Promise((r) => setTimeout(r, throttle)) : undefined,
  }).catch(async (error) => {
    await target?.close();
    throw error;
  });
  console.error(
    `shard ${shardId} of ${numShards}: ${result.chunksWritten} chunks encoded, ` +
      `${result.chunksSkipped} already done; the collection has ${result.totalPassages} passages`,
  );
  if (result.chunkSize !== chunkSize) {
    console.error(
      `the collection makes fewer than ${numShards} chunks of ${chunkSize} passages: sharded by ` +
        `passage instead, ${result.chunkSize} per chunk`,
    );
  }
  if (numShards > 1 && result.chunksWritten + result.chunksSkipped === 0) {
    console.error(
      `shard ${shardId} of ${numShards} has no passages: ${result.totalPassages} passages make ` +
        `${result.totalChunks} chunks (use fewer shards)`,
    );
  }
  if (target !== undefined) return await finishPostgresJob(target, numShards, hnsw);
  if (numShards === 1) {
    const index = await mergeShards(indexDir, indexDir, { storage, keepOriginals });
    if (options["keep-shards"] !== true) {
      await Deno.remove(`${indexDir}/shards`, { recursive: true });
    }
    console.error(
      `index written to ${indexDir}: ${index.size} passages, dimension ${index.dim}, ` +
        `${index.storage} vectors`,
    );
  } else {
    console.error(`when all ${numShards} shards are done: dpr merge ${indexDir}`);
  }
  return 0;
}

async function commandMerge(args: string[]): Promise<number> {
  const { positionals, options } = parseArgs(args, {
    help: "boolean",
    storage: "string",
    "keep-originals": "boolean",
    ...POSTGRES_OPTIONS,
  });
  need(positionals, 1, "merge");
  if (isPostgresUrl(positionals[0]!)) {
    if (options.storage !== undefined) {
      throw new UsageError("--storage for a Postgres table is chosen when dpr index creates it");
    }
    keepOriginalsOption(options, "float16", positionals[0]!);
    await mergePostgres(positionals[0]!, hnswOption(options));
    return 0;
  }
  const storage = storageOption(options);
  const keepOriginals = keepOriginalsOption(options, storage, positionals[0]!);
  const index = await mergeShards(positionals[0]!, positionals[0]!, { storage, keepOriginals });
  console.error(
    `index written to ${positionals[0]}: ${index.size} passages, dimension ${index.dim}, ` +
      `${index.storage} vectors`,
  );
  return 0;
}

async function loadQa(
  indexDir: string,
  options: Record<string, string | boolean>,
  noReader: boolean,
  indexOptions: OpenIndexOptions,
): Promise<OpenDomainQA> {
  await chooseBackend(options);
  return await OpenDomainQA.fromPretrained({
    ...modelSources(options),
    index: indexDir,
    indexOptions,
    noReader,
  });
}

async function commandAsk(args: string[]): Promise<number> {
  const { positionals, options } = parseArgs(args, {
    ...MODEL_OPTIONS,
    "top-k": "string",
    "num-spans": "string",
    "max-answer-length": "string",
    "retrieve-only": "boolean",
    json: "boolean",
    ...SEARCH_INDEX_OPTIONS,
  });
  need(positionals, 2, "ask");
  const indexOptions = searchIndexOptions(options, positionals[0]!);
  const [indexDir, question] = positionals as [string, string];
  if (question.trim() === "") throw new UsageError("the question is empty");
  const topK = intOption(options, "top-k", 10);
  const numSpans = intOption(options, "num-spans", 3);
  const maxAnswerLength = intOption(options, "max-answer-length", 10);
  const retrieveOnly = options["retrieve-only"] === true;
  await using qa = await loadQa(indexDir, options, retrieveOnly, indexOptions);
  if (retrieveOnly) {
    const hits = await qa.retrieve(question, topK);
    if (options.json === true) console.log(JSON.stringify({ question, hits }, null, 2));
    else {
      console.log(`Q: ${question}`);
      for (const [i, h] of hits.entries()) {
        console.log(`${i + 1}. [${h.score.toFixed(3)}] ${h.id} ${h.title}: ${h.text}`);
      }
    }
    return 0;
  }
  const answers = await qa.answer(question, { topK, numSpans, maxAnswerLength });
  if (options.json === true) {
    console.log(JSON.stringify({ question, answers }, null, 2));
  } else {
    console.log(`Q: ${question}`);
    for (const [i, a] of answers.entries()) console.log(formatAnswer(i, a));
  }
  return 0;
}

/** One answer as a readable line. */
export function formatAnswer(
  i: number,
  a: {
    text: string;
    score: number;
    passageId: string;
    title: string;
    start: number | null;
    end: number | null;
  },
): string {
  const where = a.start === null ? "" : ` chars ${a.start}-${a.end}`;
  return `${i + 1}. ${JSON.stringify(a.text)}  (score ${
    a.score.toFixed(2)
  }; passage ${a.passageId} "${a.title}"${where})`;
}

async function commandEval(args: string[]): Promise<number> {
  const { positionals, options } = parseArgs(args, {
    ...MODEL_OPTIONS,
    match: "string",
    "no-reader": "boolean",
    "reader-top-k": "string",
    limit: "string",
    json: "boolean",
    ...SEARCH_INDEX_OPTIONS,
  });
  need(positionals, 2, "eval");
  const indexOptions = searchIndexOptions(options, positionals[0]!);
  const [indexDir, qaFile] = positionals as [string, string];
  const match = stringOption(options, "match") ?? "string";
  if (match !== "string" && match !== "regex") {
    throw new UsageError(`--match must be string or regex: received ${JSON.stringify(match)}`);
  }
  if (!(await isFile(qaFile))) throw new UsageError(`QA file ${qaFile} does not exist`);
  const readerTopK = intOption(options, "reader-top-k", 10);
  let pairs = await readQaFile(qaFile);
  const limit = options.limit === undefined
    ? pairs.length
    : intOption(options, "limit", pairs.length);
  pairs = pairs.slice(0, limit);
  if (pairs.length === 0) throw new UsageError(`QA file ${qaFile} has no questions`);
  const noReader = options["no-reader"] === true;
  await using qa = await loadQa(indexDir, options, noReader, indexOptions);
  const ks = [1, 5, 20, 100];
  const texts: string[][] = [];
  for (let i = 0; i < pairs.length; i += 64) {
    const batch = pairs.slice(i, i + 64);
    const results = await qa.retrieveMany(batch.map((p) => p.question), 100);
    for (const hits of results) texts.push(hits.map((h) => h.text));
  }
  const retrieval = retrievalAccuracy(pairs.map((p) => p.answers), texts, ks, match);
  let em: number | null = null;
  if (!noReader) {
    const predictions: string[] = [];
    for (const p of pairs) {
      const [best] = await qa.answer(p.question, { topK: readerTopK, numSpans: 1 });
      predictions.push(best?.text ?? "");
    }
    em = exactMatchRate(predictions, pairs.map((p) => p.answers));
  }
  const passages = await qa.index.count();
  const report = {
    questions: pairs.length,
    passages,
    match,
    topK: Object.fromEntries(ks.map((k) => [k, retrieval.topK[k]])),
    readerExactMatch: em,
  };
  if (options.json === true) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(`${pairs.length} questions, ${passages} passages, ${match} matching`);
    for (const k of ks) console.log(`top-${k} accuracy: ${(100 * retrieval.topK[k]!).toFixed(2)}%`);
    if (em !== null) {
      console.log(`reader exact match (top-${readerTopK} passages): ${(100 * em).toFixed(2)}%`);
    }
  }
  return 0;
}

async function commandServe(args: string[]): Promise<number> {
  const { positionals, options } = parseArgs(args, {
    ...MODEL_OPTIONS,
    port: "string",
    hostname: "string",
    "no-reader": "boolean",
    "cors-origin": "string",
    quiet: "boolean",
    "body-timeout": "string",
    "request-timeout": "string",
    "header-timeout": "string",
    "idle-timeout": "string",
    "max-connections": "string",
    ...SEARCH_INDEX_OPTIONS,
  });
  need(positionals, 1, "serve");
  const indexOptions = searchIndexOptions(options, positionals[0]!);
  const port = intOption(options, "port", 8000, 0, 65535);
  const hostname = stringOption(options, "hostname") ?? "127.0.0.1";
  const noReader = options["no-reader"] === true;
  const handlerOptions: HandlerOptions = {
    ...modelSources(options),
    noReader,
    bodyTimeoutMs: intOption(options, "body-timeout", 10_000),
    requestTimeoutMs: intOption(options, "request-timeout", 30_000),
    log: options.quiet !== true,
  };
  const guard = {
    port,
    hostname,
    headerTimeoutMs: intOption(options, "header-timeout", 10_000),
    idleTimeoutMs: intOption(options, "idle-timeout", 60_000),
    maxConnections: intOption(options, "max-connections", 4096),
  };
  const cors = stringOption(options, "cors-origin");
  if (cors !== undefined) handlerOptions.cors = cors;
  // Options are checked before the models load.
  createHandler({ ...handlerOptions, index: positionals[0]! });
  const qa = await loadQa(positionals[0]!, options, noReader, indexOptions);
  const server = serveGuarded(guard, createHandler({ qa, ...handlerOptions }));
  await server.finished;
  return 0;
}

/**
 * Runs the CLI.
 * @param args the arguments after the program name
 * @returns the exit status (0 ok, 1 failure, 2 usage error)
 */
export async function main(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  const commands: Record<string, (args: string[]) => Promise<number>> = {
    index: commandIndex,
    merge: commandMerge,
    ask: commandAsk,
    eval: commandEval,
    serve: commandServe,
  };
  if (command === undefined || command === "--help" || command === "-h") {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "help") {
    const topic = rest[0];
    if (topic === undefined) console.log(USAGE);
    else if (COMMAND_USAGE[topic] !== undefined) console.log(COMMAND_USAGE[topic]);
    else return usageError("dpr", `no command ${JSON.stringify(topic)}`, "dpr --help");
    return 0;
  }
  const run = commands[command];
  if (run === undefined) {
    return usageError("dpr", `unknown command ${JSON.stringify(command)}`, "dpr --help");
  }
  const end = rest.indexOf("--");
  const options = end === -1 ? rest : rest.slice(0, end);
  if (options.includes("--help") || options.includes("-h")) {
    console.log(COMMAND_USAGE[command]);
    return 0;
  }
  try {
    return await run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      return usageError(`dpr ${command}`, error.message, `dpr ${command} --help`);
    }
    console.error(`dpr ${command}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

/** A usage mistake: one line saying what is wrong, one naming the help; exit status 2. */
function usageError(who: string, message: string, help: string): number {
  console.error(`${who}: ${message}\nRun "${help}" for usage.`);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
