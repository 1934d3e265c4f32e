/**
 * The demo: indexes the passages in `data/demo_passages.tsv` (written for this project), then
 * answers a few questions with DPR's retriever and reader. Run it from JSR with
 * `deno run -A jsr:@dpr/dpr/demo` (the data files come with the package), or `deno task demo`
 * from a clone.
 *
 * ```
 * deno run -A jsr:@dpr/dpr/demo                    # facebook's single-nq-base models, fetched once
 * deno run -A jsr:@dpr/dpr/demo --models <dir>     # offline: question_encoder/, ctx_encoder/, reader/
 * deno run -A jsr:@dpr/dpr/demo --question "who discovered penicillin?"
 * deno run -A jsr:@dpr/dpr/demo --index-dir demo-index   # keep (and reuse) the index
 * ```
 * @module
 */
import { setBackend } from "../backend/set_backend.ts";
import type { BackendName } from "../backend/backend_name.ts";
import { DenseIndex } from "../index/dense_index.ts";
import { readQaFile } from "../eval/qa_file.ts";
import { retrievalAccuracy } from "../eval/retrieval_accuracy.ts";
import {
  type DprModelSources,
  loadDenseEncoder,
  loadPassageReader,
} from "../pipeline/dpr_models.ts";
import { mergeShards, runEncodeJob } from "../pipeline/encode_passages.ts";
import { OpenDomainQA } from "../pipeline/open_domain_qa.ts";
import { parseArgs, stringOption, UsageError } from "./args.ts";
import { formatAnswer } from "./main.ts";

const DATA = new URL("../data/", import.meta.url);

const DEMO_USAGE = `Usage: demo [--models <dir>] [--question <q>]... [--index-dir <dir>]
  [--question-encoder <src>] [--ctx-encoder <src>] [--reader <src>] [--backend <name>]
(demo is "deno run -A jsr:@dpr/dpr/demo"; in a clone of the repository: "deno task demo")

Indexes data/demo_passages.tsv and answers questions. Without --models, facebook's
dpr-*-single-nq-base models are fetched and cached on first use; --models <dir> uses local folders
<dir>/question_encoder, <dir>/ctx_encoder and <dir>/reader (Hugging Face layout).`;

/** A file path for a data file: itself when local, else a downloaded copy (run from a URL). */
async function localCopy(url: URL, dir: string): Promise<string> {
  if (url.protocol === "file:") return decodeURIComponent(url.pathname);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Cannot fetch ${url}: HTTP ${response.status}`);
  const path = `${dir}/${url.pathname.split("/").at(-1)}`;
  await Deno.writeFile(path, new Uint8Array(await response.arrayBuffer()));
  return path;
}

/**
 * Runs the demo.
 * @param args command-line arguments
 * @returns the exit status
 */
export async function demo(args: readonly string[]): Promise<number> {
  let tempDir: string | null = null;
  try {
    const questions: string[] = [];
    const rest: string[] = [];
    for (let i = 0; i < args.length; i++) {
      if (args[i] === "--question") {
        const q = args[++i];
        if (q === undefined || q.trim() === "") throw new UsageError("--question needs a question");
        questions.push(q);
      } else rest.push(args[i]!);
    }
    const { positionals, options } = parseArgs(rest, {
      models: "string",
      "question-encoder": "string",
      "ctx-encoder": "string",
      reader: "string",
      "index-dir": "string",
      backend: "string",
      help: "boolean",
    });
    if (options.help === true) {
      console.log(DEMO_USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${positionals[0]}`);
    const sources: DprModelSources = {
      models: stringOption(options, "models"),
      questionEncoder: stringOption(options, "question-encoder"),
      contextEncoder: stringOption(options, "ctx-encoder"),
      reader: stringOption(options, "reader"),
    };
    try {
      await setBackend(stringOption(options, "backend") as BackendName | undefined);
    } catch (error) {
      if (error instanceof RangeError) throw new UsageError(error.message);
      throw error;
    }

    tempDir = await Deno.makeTempDir({ prefix: "dpr-demo-" });
    const passages = await localCopy(new URL("demo_passages.tsv", DATA), tempDir);
    const questionsFile = await localCopy(new URL("demo_questions.tsv", DATA), tempDir);
    const indexDir = stringOption(options, "index-dir") ?? `${tempDir}/index`;
    let index: DenseIndex;
    const started = performance.now();
    console.log("Loading models...");
    const [questionEncoder, reader] = await Promise.all([
      loadDenseEncoder("question", sources),
      loadPassageReader(sources),
    ]);
    try {
      index = await DenseIndex.load(indexDir);
      console.log(`Using the index in ${indexDir} (${index.size} passages).`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      console.log(`Indexing ${passages}...`);
      const contextEncoder = await loadDenseEncoder("context", sources);
      await runEncodeJob({ passages, outDir: indexDir, encoder: contextEncoder, batchSize: 8 });
      index = await mergeShards(indexDir);
      await Deno.remove(`${indexDir}/shards`, { recursive: true });
      console.log(
        `Indexed ${index.size} passages in ${((performance.now() - started) / 1000).toFixed(1)} s.`,
      );
    }
    const qa = new OpenDomainQA({ questionEncoder, reader, index });

    const qaPairs = await readQaFile(questionsFile);
    const asked = questions.length > 0 ? questions : qaPairs.slice(0, 4).map((p) => p.question);
    for (const question of asked) {
      const answers = await qa.answer(question, { topK: 5, numSpans: 3, maxAnswerLength: 10 });
      console.log(`\nQ: ${question}`);
      for (const [i, a] of answers.entries()) console.log(`  ${formatAnswer(i, a)}`);
    }
    if (questions.length === 0) {
      const retrieved = await qa.retrieveMany(qaPairs.map((p) => p.question), 5);
      const acc = retrievalAccuracy(
        qaPairs.map((p) => p.answers),
        retrieved.map((hits) => hits.map((h) => h.text)),
        [1, 5],
      );
      console.log(
        `\nRetrieval on ${qaPairs.length} demo questions: top-1 ${
          (100 * acc.topK[1]!).toFixed(0)
        }%, ` +
          `top-5 ${(100 * acc.topK[5]!).toFixed(0)}%`,
      );
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`demo: ${error.message}\nRun "demo --help" for usage.`);
      return 2;
    }
    console.error(`demo: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    if (tempDir !== null) await Deno.remove(tempDir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) Deno.exit(await demo(Deno.args));
