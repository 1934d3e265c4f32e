/**
 * The one place the project imports TensorFlow.js from, so every module shares one engine.
 *
 * `tf` is tfjs-core with the cpu backend registered; `tfl` is tfjs-layers. Other backends are
 * loaded on demand by `setBackend` (see `set_backend.ts`).
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";

/**
 * Skips tfjs-backend-cpu's first-use banner on `backend`. That backend (and every backend built
 * on it, such as "blas") prints a banner urging tfjs-node when it sees `process` (Deno defines
 * it) on its first tensor. Marking the instance as already used skips just that banner; the
 * `PROD` flag would also hide every other tfjs warning.
 * @param backend a backend instance (one without the banner is left as it is)
 */
export function skipNodeBanner(backend: unknown): void {
  const instance = backend as { firstUse?: boolean };
  if (instance.firstUse === true) instance.firstUse = false;
}

// The engine builds a fresh instance when it first picks a backend, so pick cpu (the only one
// registered yet, and the default) now (reading `backend` picks it; `getBackend()` alone does
// not) and mark the instance the engine will use.
const firstBackend = tf.engine().backend;
if (tf.getBackend() === "cpu") skipNodeBanner(firstBackend);

export { tf, tfl };
