/**
 * The `dpr` command line's help texts: one overview, and one per command (`dpr <command> --help`).
 * @module
 */

/** How the program is started, for the texts. */
const RUN = `dpr is "deno run -A jsr:@dpr/dpr/cli" (in a clone of the repository: "deno task dpr")`;

const MODEL_OPTIONS = `Model options:
  --models <dir>                 folder with question_encoder/, ctx_encoder/ and reader/ subfolders
  --question-encoder <src>       a folder, an http(s) URL or a hub id (default
  --ctx-encoder <src>              facebook/dpr-{question_encoder,ctx_encoder,reader}-single-nq-base
  --reader <src>                   from the Hugging Face hub, through the Hugging Face cache)
  --max-length <n>               truncate inputs to n tokens (default: the model's limit, <= 512)
  --dtype <type>                 float32 (default), float16 or int8: how the models hold their
                                 weights (int8: dense layers per output channel, word table per row)
  --backend <name>               auto, webgpu, node-gpu, wasm, blas or cpu (default: $DPR_BACKEND or auto)
  --no-blas-prepack              on blas: leave weights plain, run OpenBLAS alone (by default, with
                                 oneDNN installed, layers hold weights packed: faster questions,
                                 no extra memory; also DPR_BLAS_PREPACK=0)
  --no-wasm-fma                  on wasm: keep tfjs's XNNPACK matrix products instead of this
                                 package's relaxed-SIMD kernel (also DPR_WASM_FMA=0)
  -h, --help                     this text`;

const RESCORE =
  `  --no-rescore                   an index folder kept with --keep-originals: rank by its quantized
                                 vectors alone (by default the best candidates are re-scored with
                                 the float32 originals); not for a Postgres table
  --oversample <x>               candidates per hit a re-scored search takes (a number >= 1,
                                 default 2)`;

const POSTGRES = `<index-dir> may be a Postgres + pgvector table, in every command:
  postgres://user@host:5432/db?table=psgs&ef_search=100&sslmode=require
(the password from PGPASSWORD or the URL, never printed; ef_search: HNSW candidates per query).
"dpr index" records its settings and chunks in <table>_dpr_job: a re-run resumes the same job and
refuses another model, other options or changed passages.`;

/** The help of each command. */
export const COMMAND_USAGE: Readonly<Record<string, string>> = {
  index: `Usage: dpr index <passages> <index-dir> [options]

Encodes a passage file (DPR TSV "id<TAB>text<TAB>title" with a header line, or JSONL
{id, text, title}; .gz allowed) into an index. ${RUN}.

Options:
  --shard-id <i> --num-shards <n>  encode only shard i of n (then run "dpr merge"); default 0 of 1
  --batch <n>                    passages per model call (default 32)
  --chunk-size <n>               passages per checkpoint chunk (default 1000); a restarted job
                                 skips the chunks already written
  --token-types zeros|pair       passage token types: all zero as original DPR (default), or the
                                 tokenizer's pair types (text = 1), as Hugging Face's tokenizer
  --no-progress                  no progress bar on stderr
  --keep-shards                  keep <index-dir>/shards after a single-shard job is merged
  --storage float32|float16|int8  how the index holds vectors (default float32): float16 halves
                                 the memory, int8 (a byte per value) quarters it; search stays exact
                                 over the stored values. With shards, give it to "dpr merge".
                                 Postgres: float32 (vector) or float16 (halfvec), at creation
  --keep-originals               with --storage float16|int8: also save the float32 vectors
                                 (originals.npy, on disk only); searches re-score their
                                 candidates with them (float32 recall, the quantized memory)
  --vector-index none|hnsw       Postgres only: exact scans (default) or an HNSW index, built
                                 after a single-shard job, or by "dpr merge" when all are done
  --hnsw-m <n>                   HNSW links per node (default 16)
  --hnsw-ef-construction <n>     HNSW build candidates (default 64)

${POSTGRES}

${MODEL_OPTIONS}`,
  merge: `Usage: dpr merge <index-dir> [--storage float32|float16|int8] [--keep-originals]

Merges the finished shards of a sharded "dpr index" job into the index; for a Postgres URL
(the shards wrote into the table), builds the vector index asked for. ${RUN}.

Options:
  --storage float32|float16|int8  how the index holds vectors (default float32)
  --keep-originals               with --storage float16|int8: also save the float32 vectors, which
                                 searches read to re-score their candidates
  --vector-index none|hnsw       Postgres only: build an HNSW index (default none: exact scans)
  --hnsw-m <n> --hnsw-ef-construction <n>  HNSW settings (default 16 and 64)
  -h, --help                     this text`,
  ask: `Usage: dpr ask <index-dir> <question> [options]

Retrieves passages for a question and reads answers from them. ${RUN}.

Options:
  --top-k <n>                    passages retrieved and read (default 10)
  --num-spans <n>                answers shown (default 3)
  --max-answer-length <n>        longest answer in tokens (default 10)
  --retrieve-only                show the passages only (the reader is never loaded)
  --json                         print JSON
${RESCORE}

${POSTGRES}

${MODEL_OPTIONS}`,
  eval: `Usage: dpr eval <index-dir> <qa-file> [options]

Top-k retrieval accuracy (k = 1, 5, 20, 100) and reader exact match on a DPR QA file
("question<TAB>['answer', ...]"; or .jsonl / DPR's .json list of {question, answers}). ${RUN}.

Options:
  --match string|regex           answer matching (default string)
  --no-reader                    retrieval accuracy only
  --reader-top-k <n>             passages read per question (default 10)
  --limit <n>                    only the first n questions
  --json                         print JSON
${RESCORE}

${POSTGRES}

${MODEL_OPTIONS}`,
  serve: `Usage: dpr serve <index-dir> [options]

HTTP server: POST /embed, /search, /answer, GET /health. ${RUN}.

Options:
  --port <n>                     default 8000
  --hostname <h>                 default 127.0.0.1
  --no-reader                    retrieval only: the reader is never loaded, /answer answers 404
  --cors-origin <origin>         allow browser calls from this origin ("https://example.com" or "*")
  --quiet                        no request log (by default one line per request on stderr)
  --body-timeout <ms>            a request body must arrive within this (default 10000); then 408
  --request-timeout <ms>         a request must be answered within this (default 30000); then 408
  --header-timeout <ms>          request headers must arrive within this (default 10000); then 408
  --idle-timeout <ms>            a connection silent both ways this long is closed (default 60000)
  --max-connections <n>          more open connections get 503 (default 4096; each takes 3 file
                                 descriptors: raise "ulimit -n" to match)
${RESCORE}

${POSTGRES}

${MODEL_OPTIONS}`,
};

/** The overview: every command, and how to get a command's own help. */
export const USAGE: string = `Usage: dpr <command> [options]
(${RUN})

Commands:
  index <passages> <index-dir>   encode a passage file into an index (sharded, resumable)
  merge <index-dir>              merge the finished shards of a sharded index job
  ask <index-dir> <question>     retrieve passages and read answers
  eval <index-dir> <qa-file>     top-k retrieval accuracy and reader exact match on a QA file
  serve <index-dir>              HTTP server: POST /embed, /search, /answer, GET /health
(<index-dir>: a folder, or a postgres:// URL of a pgvector table)

"dpr <command> --help" (or -h, or "dpr help <command>") prints a command's options.
Examples:
  deno run -A jsr:@dpr/dpr/cli index passages.tsv my-index
  deno run -A jsr:@dpr/dpr/cli ask my-index "who invented the telephone?"
`;
