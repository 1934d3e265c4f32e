/**
 * The pieces the checkpoint loaders share: one checkpoint tensor bound to one of our weights, and
 * the dtypes a model can hold its weights in.
 * @module
 */
import type { tfl } from "../backend/tf.ts";

/** One checkpoint tensor bound to (a slice of) one of our weights. */
export interface WeightBinding {
  /** Full PyTorch name, e.g. `question_encoder.bert_model.embeddings.word_embeddings.weight`. */
  key: string;
  /** Our weight. */
  variable: tfl.LayerVariable;
  /**
   * PyTorch Linear weights are [out, in]; ours are stored [in, out] so every matmul is a plain
   * 2-D `x @ W` with no `transposeB`.
   */
  transpose: boolean;
  /** For fused weights: this tensor is slice `index` of `count` equal slices of the last axis. */
  part?: { index: number; count: number };
}

/** How a model holds its weights: float32, or its dense layers quantized (see the options). */
export type WeightDtype = "float32" | "float16" | "int8";

/** The dtypes, for validating user input. */
export const WEIGHT_DTYPES: readonly WeightDtype[] = ["float32", "float16", "int8"];

/**
 * Checks a dtype option.
 * @param owner names the model in the message
 * @param dtype the option's value
 * @returns the dtype ("float32" when undefined)
 * @throws TypeError naming the value when it is not one of {@linkcode WEIGHT_DTYPES}
 */
export function checkDtype(owner: string, dtype: unknown): WeightDtype {
  if (dtype === undefined) return "float32";
  if (!WEIGHT_DTYPES.includes(dtype as WeightDtype)) {
    throw new TypeError(
      `Cannot load ${owner} with dtype ${JSON.stringify(dtype)}: it must be one of ` +
        WEIGHT_DTYPES.join(", "),
    );
  }
  return dtype as WeightDtype;
}

/**
 * The bindings of each variable (fused weights have several), in slice order.
 * @param bindings a model's rename table
 * @returns the bindings grouped by the variable they fill
 */
export function groupBindings(
  bindings: readonly WeightBinding[],
): Map<tfl.LayerVariable, WeightBinding[]> {
  const groups = new Map<tfl.LayerVariable, WeightBinding[]>();
  for (const binding of bindings) {
    const group = groups.get(binding.variable) ?? [];
    group.push(binding);
    groups.set(binding.variable, group);
  }
  for (const group of groups.values()) {
    group.sort((a, b) => (a.part?.index ?? 0) - (b.part?.index ?? 0));
  }
  return groups;
}

/**
 * Values read at once when a large table is quantized as it is read (4 MB of float32): each
 * block is quantized in a task of its own (about 12 ms on one core here), the buffer reused.
 */
export const CHUNK_ELEMENTS: number = 1 << 20;
