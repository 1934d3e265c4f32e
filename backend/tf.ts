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

// tfjs-backend-cpu prints a banner urging tfjs-node when it sees `process` (Deno defines it) on
// its first tensor. Marking the backend as already used skips just that banner; the `PROD` flag
// would also hide every other tfjs warning. The engine builds a fresh instance when it first
// picks a backend, so pick cpu (the only one registered yet, and the default) now and mark the
// instance the engine will use.
const cpuBackend = tf.engine().backend as { firstUse?: boolean };
if (tf.getBackend() === "cpu") cpuBackend.firstUse = false;

export { tf, tfl };
