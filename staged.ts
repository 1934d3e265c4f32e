/**
 * `@dpr/dpr` imported a piece at a time, with a turn of the event loop between the pieces.
 *
 * A static `import ... from "@dpr/dpr"` evaluates the whole module graph, TensorFlow.js
 * included, in one task: about 70 ms on a quiet 2-core machine and several hundred under load,
 * while nothing else runs. An edge function that must keep its event loop free (Deno Deploy ends
 * an isolate that holds it for a second) imports the package through
 * {@linkcode importStaged} instead: Deno's Node layer, tfjs-core, its cpu backend, tfjs-layers,
 * then this package's backends, tokenizers, readers, layers, models, index, pipeline and server
 * are each evaluated in a task of their own.
 *
 * ```ts ignore
 * import { importStaged } from "@dpr/dpr/staged";
 * import type { HandlerOptions } from "@dpr/dpr";
 *
 * const { createHandler } = await importStaged();
 * const options: HandlerOptions = { index: "my-index", models: "models" };
 * Deno.serve(createHandler(options));
 * ```
 * @module
 */
import { nextTurn } from "./backend/next_turn.ts";

/**
 * The pieces, lowest first: each import evaluates what the ones before it left (a module is
 * evaluated once, on its first import). The Node built-ins are the ones tfjs-core requires; the
 * first use of Deno's Node layer loads that layer.
 */
const PIECES: readonly (() => Promise<unknown>)[] = [
  () => import("node:util"),
  () => import("node:crypto"),
  () => import("@tensorflow/tfjs-core"),
  () => import("@tensorflow/tfjs-backend-cpu"),
  () => import("@tensorflow/tfjs-layers"),
  () => import("./backend/tf.ts"),
  () => import("./backend/set_backend.ts"),
  () => import("./tokenizer/mod.ts"),
  () => import("./io/resolve.ts"),
  () => import("./layers/bert_encoder.ts"),
  () => import("./models/dpr_question_encoder.ts"),
  () => import("./models/dpr_reader.ts"),
  () => import("./index/open_index.ts"),
  () => import("./pipeline/open_domain_qa.ts"),
  () => import("./server/handler.ts"),
];

/**
 * Imports `@dpr/dpr` (this package's `mod.ts`) a piece at a time, a turn of the event loop
 * between the pieces, so that no single task evaluates the whole module graph.
 * @returns the package's module, the same object a static import gives
 */
export async function importStaged(): Promise<typeof import("./mod.ts")> {
  for (const piece of PIECES) {
    await piece();
    await nextTurn();
  }
  return await import("./mod.ts");
}
