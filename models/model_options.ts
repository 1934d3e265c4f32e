/**
 * `DPRModelOptions`: the options every DPR model constructor takes, in a file of their own so the
 * loader (`from_pretrained.ts`) can name them without importing a model.
 * @module
 */
import type { AttentionImplementation } from "../backend/ops/attention_implementation.ts";

/** Options of a model constructor. */
export interface DPRModelOptions {
  /** Seed of the random initialisation. Default 0 (deterministic). */
  seed?: number;
  /** Start every weight at zero instead (fast; for weights about to be loaded). Default false. */
  zeroInit?: boolean;
  /**
   * How attention is computed: `"batched"` (4-D matmuls; best where batched matmuls are native,
   * e.g. GPUs), `"per-head"` (2-D matmuls per sequence and head; best on wasm) or `"auto"` (what
   * the active backend prefers: per-head on wasm, batched elsewhere). Results agree to float
   * rounding. Default: the process default, `"auto"`.
   */
  attention?: AttentionImplementation;
  /**
   * Create the weights without values, for a loader that writes each one's final value (what
   * `fromPretrained` does): the model is never held as zeros. Default false.
   */
  placeholders?: boolean;
}
