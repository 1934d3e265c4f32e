/**
 * A Deno Deploy entrypoint: dense retrieval (`POST /search`: the question encoder and an index)
 * and answers (`POST /answer`: the reader too), plus `POST /embed` and `GET /health`.
 *
 * Deploy it as is (entrypoint `examples/deploy/main.ts` of a clone of this repository; from JSR,
 * import `jsr:@dpr/dpr` and `jsr:@dpr/dpr/staged` in place of `../../mod.ts` and
 * `../../staged.ts`), or run it locally:
 *
 * ```sh
 * DPR_MODELS=models DPR_INDEX=my-index deno run --allow-read --allow-net --allow-env examples/deploy/main.ts
 * curl -s localhost:8000/search -d '{"question": "who wrote hamlet?", "k": 3}'
 * ```
 *
 * Settings (environment variables; only `DPR_INDEX` is required):
 * - `DPR_INDEX`: the index, a folder or an http(s) URL of one (or a `postgres://` URL).
 * - `DPR_MODELS`: a folder or URL with `question_encoder/` and `reader/` inside; or each model on
 *   its own: `DPR_QUESTION_ENCODER`, `DPR_READER` (folders, URLs or hub ids). Default: facebook's
 *   `dpr-*-single-nq-base` from the Hugging Face hub.
 * - `DPR_DTYPE`: `float32` (default), `float16` or `int8`: how the weights stay in memory.
 * - `DPR_NO_READER=1`: retrieval only (the reader is never loaded; `/answer` answers 404).
 * - `DPR_NO_RESCORE=1`: an index folder kept with its float32 originals (`--keep-originals`) is
 *   searched by its quantized vectors alone; `DPR_OVERSAMPLE` (a number >= 1, default 2): the
 *   candidates per hit a re-scored search takes. Neither applies to a `postgres://` index.
 * - `DPR_WASM_THREADS`: wasm threads (default here: 1, one isolate's core); `DPR_BACKEND` as
 *   everywhere (default: auto, which is wasm on Deploy).
 * - `DPR_CORS`: the one browser origin allowed to call it (or `*`); `PORT` (default 8000).
 *
 * The models load on the first request (and stay for the isolate's life).
 * @module
 */
import type { HandlerOptions, WeightDtype } from "../../mod.ts";
import { importStaged } from "../../staged.ts";

// The package a piece at a time, a turn of the event loop between pieces: a static import would
// evaluate all of it (TensorFlow.js included) in one long task.
const { createHandler, setBackend } = await importStaged();

/** An environment variable, or undefined when unset or empty. */
function setting(name: string): string | undefined {
  const value = Deno.env.get(name)?.trim();
  return value === "" ? undefined : value;
}

const index = setting("DPR_INDEX");
if (index === undefined) {
  throw new Error("examples/deploy: set DPR_INDEX to the index (a folder or an http(s) URL)");
}
const options: HandlerOptions = { index, log: true };
const models = setting("DPR_MODELS");
if (models !== undefined) options.models = models;
const questionEncoder = setting("DPR_QUESTION_ENCODER");
if (questionEncoder !== undefined) options.questionEncoder = questionEncoder;
const reader = setting("DPR_READER");
if (reader !== undefined) options.reader = reader;
const dtype = setting("DPR_DTYPE");
if (dtype !== undefined) options.dtype = dtype as WeightDtype; // an unknown one is refused, named
options.noReader = /^(1|true|yes|on)$/i.test(setting("DPR_NO_READER") ?? "");
const oversample = setting("DPR_OVERSAMPLE");
if (oversample !== undefined && !(Number(oversample) >= 1 && Number.isFinite(Number(oversample)))) {
  throw new Error(
    `examples/deploy: DPR_OVERSAMPLE must be a number >= 1: received ${JSON.stringify(oversample)}`,
  );
}
options.indexOptions = {
  rescore: !/^(1|true|yes|on)$/i.test(setting("DPR_NO_RESCORE") ?? ""),
  ...(oversample === undefined ? {} : { oversample: Number(oversample) }),
};
const cors = setting("DPR_CORS");
if (cors !== undefined) options.cors = cors;

// One wasm thread unless DPR_WASM_THREADS says otherwise: an isolate has one core to itself, and
// each helper thread would cost about 55 MB.
await setBackend(undefined, setting("DPR_WASM_THREADS") === undefined ? { threads: 1 } : {});

Deno.serve({ port: Number(setting("PORT") ?? 8000) }, createHandler(options));
