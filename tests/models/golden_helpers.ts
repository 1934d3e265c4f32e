/**
 * Shared helpers of the model tests: reading the Hugging Face golden fixtures and comparing
 * tensors with them.
 * @module
 */
import { AssertionError } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import type { DPRInputs } from "../../models/inputs.ts";

/** A tensor in the fixtures' JSON form. */
export interface GoldenTensor {
  dtype: "float32" | "int64";
  shape: number[];
  data: number[];
}

/** One replayable case. */
export interface GoldenCase {
  name: string;
  inputs: Record<string, GoldenTensor>;
  outputs: Record<string, GoldenTensor | GoldenTensor[]>;
}

/** A `golden/models/<name>.json` file. */
export interface GoldenFile {
  model_class: string;
  config: Record<string, unknown>;
  cases: GoldenCase[];
}

/** The fixtures folder. */
export const FIXTURES: string = new URL("../fixtures/", import.meta.url).pathname;

/** The three checkpoint names. */
export const CHECKPOINTS = [
  "dpr-question_encoder-tiny",
  "dpr-ctx_encoder-tiny",
  "dpr-reader-tiny",
] as const;

/** Reads `golden/models/<name>.json`. */
export function readGolden(name: string): GoldenFile {
  return JSON.parse(Deno.readTextFileSync(`${FIXTURES}golden/models/${name}.json`));
}

/** Nested arrays of an integer golden tensor [B, T]. */
function toMatrix(t: GoldenTensor): number[][] {
  const [rows, cols] = t.shape as [number, number];
  return Array.from({ length: rows }, (_, r) => t.data.slice(r * cols, (r + 1) * cols));
}

/**
 * The forward inputs of a case. Ids and masks go in as nested arrays, embeddings as a tensor
 * (the caller disposes `inputsEmbeds` when it is a tensor).
 */
export function caseInputs(c: GoldenCase): DPRInputs {
  const out: DPRInputs = {};
  const i = c.inputs;
  if (i["input_ids"]) out.inputIds = toMatrix(i["input_ids"]);
  if (i["attention_mask"]) out.attentionMask = toMatrix(i["attention_mask"]);
  if (i["token_type_ids"]) out.tokenTypeIds = toMatrix(i["token_type_ids"]);
  if (i["inputs_embeds"]) {
    out.inputsEmbeds = tf.tensor(i["inputs_embeds"].data, i["inputs_embeds"].shape, "float32");
  }
  return out;
}

/** Largest absolute difference between `actual` and `expected`; throws on shape mismatch. */
export async function maxAbsDiff(
  actual: tf.Tensor,
  expected: GoldenTensor,
  label: string,
): Promise<number> {
  if (
    actual.shape.length !== expected.shape.length ||
    actual.shape.some((d, k) => d !== expected.shape[k])
  ) {
    throw new AssertionError({
      message: `${label}: shape [${actual.shape}] != expected [${expected.shape}]`,
    });
  }
  // Async read: webgpu buffers cannot be read synchronously in Deno.
  const values = await actual.data();
  let worst = 0;
  for (let k = 0; k < values.length; k++) {
    const d = Math.abs(values[k]! - Math.fround(expected.data[k]!));
    if (!(d <= worst)) worst = Number.isNaN(d) ? Infinity : d;
  }
  return worst;
}

/** Asserts `actual` is within `tolerance` of `expected` everywhere. */
export async function assertClose(
  actual: tf.Tensor,
  expected: GoldenTensor,
  tolerance: number,
  label: string,
): Promise<void> {
  const worst = await maxAbsDiff(actual, expected, label);
  if (!(worst <= tolerance)) {
    throw new AssertionError({
      message: `${label}: max |difference| ${worst} exceeds ${tolerance}`,
    });
  }
}
