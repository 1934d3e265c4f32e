/**
 * `resolvePretrained`: finds a model's `config.json` and weights wherever they are (a local
 * folder in Hugging Face or converted layout, an http(s) URL of a converted folder, or a hub id)
 * and reads the weights into a state dict with PyTorch names and layouts.
 * @module
 */
import type { NonFiniteOption } from "./finite_weights.ts";
import { type FileSource, openSourceFile } from "./file_source.ts";
import type { HubOptions } from "./hub_source.ts";
import { pytorchNamedSource } from "./layers_source.ts";
import { pytorchSource } from "./pytorch_source.ts";
import { resolveSource } from "./resolve_source.ts";
import { openShardedSafetensors, SAFETENSORS_INDEX_NAME } from "./safetensors_sharded.ts";
import { safetensorsSource } from "./safetensors_source.ts";
import type { StateDict } from "./state_dict.ts";
import { collectTensors, type TensorSource } from "./tensor_source.ts";
import { openTfjsWeights } from "./tfjs_source.ts";
import { UrlSource } from "./url_source.ts";

export { resolveSource };

/** Options of {@linkcode resolvePretrained}: where to download from and cache, and
 * `allowNonFinite` (load weights holding NaN or infinities instead of refusing them). */
export interface PretrainedOptions extends HubOptions, NonFiniteOption {}

/** The weight files a folder may hold, in the order they are tried. */
export type WeightFormat = "safetensors" | "sharded-safetensors" | "pytorch" | "tfjs";

/** What {@linkcode resolvePretrained} finds. */
export interface ResolvedPretrained {
  /** The parsed `config.json`. */
  config: Record<string, unknown>;
  /** The weights with PyTorch names and layouts, as float32. */
  stateDict: StateDict;
  /** Where the files came from; tokenizers can read theirs from it too. */
  source: FileSource;
  /** Which weight file was read. */
  format: WeightFormat;
}

/**
 * Reads a folder's `config.json`, which must hold a JSON object.
 * @param files the folder
 * @param context the start of error messages, e.g. "Cannot load a model from x"
 * @returns the parsed object
 * @throws {RangeError} when the file is absent
 * @throws {SyntaxError} when it is not JSON
 * @throws {TypeError} when it holds something other than an object (`null` included)
 */
export async function readConfigObject(
  files: FileSource,
  context: string,
): Promise<Record<string, unknown>> {
  const bytes = await files.readFile("config.json");
  if (bytes === null) {
    throw new RangeError(
      `${context}: it has no config.json (is the path, URL or hub id right?)`,
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new SyntaxError(
      `${context}: config.json is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new TypeError(
      `${context}: config.json must be a JSON object: received ${
        Array.isArray(config) ? "an array" : JSON.stringify(config)?.slice(0, 40)
      }`,
    );
  }
  return config as Record<string, unknown>;
}

/**
 * Opens a folder's weights for reading one tensor at a time: `model.safetensors`, then
 * `model.safetensors.index.json` (shards), then `pytorch_model.bin`, then a converted folder's
 * `model.json` (tried first for URL sources, which normally serve converted folders). Every
 * format is read by byte ranges (from disk, the hub cache, or an HTTP server that answers range
 * requests) and never held whole; a converted layers-model folder keeps the layers' own names
 * (see `TensorSource.layersBindings`).
 * @param source the folder
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through (refused by default)
 * @returns the tensors (close them when done) and which file they came from
 * @throws RangeError when the folder holds none of those files
 */
export async function openWeights(
  source: FileSource,
  nonFinite: NonFiniteOption = {},
): Promise<{ tensors: TensorSource; format: WeightFormat }> {
  if (source instanceof UrlSource) {
    const tfjs = await openTfjsWeights(source, nonFinite);
    if (tfjs !== null) return { tensors: tfjs, format: "tfjs" };
  }
  const single = await openSourceFile(source, "model.safetensors");
  if (single !== null) {
    return { tensors: await safetensorsSource(single, nonFinite), format: "safetensors" };
  }
  const sharded = await openShardedSafetensors(source, SAFETENSORS_INDEX_NAME, nonFinite);
  if (sharded !== null) return { tensors: sharded, format: "sharded-safetensors" };
  const bin = await openSourceFile(source, "pytorch_model.bin");
  if (bin !== null) return { tensors: await pytorchSource(bin, nonFinite), format: "pytorch" };
  if (!(source instanceof UrlSource)) {
    const tfjs = await openTfjsWeights(source, nonFinite);
    if (tfjs !== null) return { tensors: tfjs, format: "tfjs" };
  }
  throw new RangeError(
    `Cannot load weights from ${source.description}: it holds none of model.safetensors, ` +
      `${SAFETENSORS_INDEX_NAME}, pytorch_model.bin, model.json`,
  );
}

/**
 * Reads a folder's weights whole, under PyTorch names (see {@linkcode openWeights} for the
 * order tried), one tensor at a time.
 * @param source the folder
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through (refused by default)
 * @returns the weights and which file they came from
 */
export async function readWeights(
  source: FileSource,
  nonFinite: NonFiniteOption = {},
): Promise<{ stateDict: StateDict; format: WeightFormat }> {
  const { tensors, format } = await openWeights(source, nonFinite);
  try {
    const named = tensors.layersBindings === undefined ? tensors : pytorchNamedSource(tensors);
    return { stateDict: await collectTensors(named), format };
  } finally {
    tensors.close();
  }
}

/**
 * Resolves a pretrained model: its `config.json` and its weights as a state dict.
 *
 * - a local folder: Hugging Face layout (`model.safetensors`, sharded safetensors or
 *   `pytorch_model.bin`) or a folder written by `convertCheckpoint`;
 * - an `http(s)://` URL of such a folder: fetched, nothing written to disk;
 * - a hub id `org/name`: read through the Hugging Face cache (`~/.cache/huggingface/hub`,
 *   shared with Python's tools), downloaded there first from the Hugging Face hub (or
 *   `HF_ENDPOINT`) when missing; later loads work offline.
 *
 * @example
 * ```ts ignore
 * import { resolvePretrained } from "@dpr/dpr";
 * const { config, stateDict } = await resolvePretrained("tests/fixtures/models/dpr-reader-tiny");
 * console.log(config.architectures, stateDict.size);
 * ```
 * @param source a folder path, URL, hub id or FileSource
 * @param options revision, cache folder, fetch, endpoint, token, offline, progress
 * @returns config, weights, the file source and the weight format
 */
export async function resolvePretrained(
  source: string | FileSource,
  options: PretrainedOptions = {},
): Promise<ResolvedPretrained> {
  const files = await resolveSource(source, options);
  const config = await readConfigObject(files, `Cannot load a model from ${files.description}`);
  const { stateDict, format } = await readWeights(files, options);
  return { config, stateDict, source: files, format };
}
