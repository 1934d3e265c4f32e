/**
 * `DPRModelOptions`: the options every DPR model constructor takes, in a file of their own so the
 * loader (`from_pretrained.ts`) can name them without importing a model.
 * @module
 */

/** Options of a model constructor. */
export interface DPRModelOptions {
  /** Seed of the random initialisation. Default 0 (deterministic). */
  seed?: number;
  /** Start every weight at zero instead (fast; for weights about to be loaded). Default false. */
  zeroInit?: boolean;
}
