/**
 * `resolvePretrained`: finds a model's `config.json` and weights wherever they are (a local
 * folder in Hugging Face or converted layout, an http(s) URL of a converted folder, or a hub id)
 * and reads the weights into a state dict with PyTorch names and layouts.
 * @module
 */
import type { NonFiniteOption } from "./finite_weights.ts";
import { openFileReader } from "./byte_reader.ts";
import type { FileSource } from "./file_source.ts";
import { LocalFolderSource, readJson } from "./file_source.ts";
import type { HubOptions } from "./hub_source.ts";
import { HubSource } from "./hub_source.ts";
import { resolveSource } from "./resolve_source.ts";
import { UrlSource } from "./url_source.ts";
import type { LayoutBinding } from "./layers_layout.ts";
import { fromLayersWeights } from "./layers_layout.ts";
import { readPytorchCheckpoint } from "./pytorch_pickle.ts";
import { readSafetensors, readSafetensorsFile } from "./safetensors.ts";
import { readShardedSafetensors, SAFETENSORS_INDEX_NAME } from "./safetensors_sharded.ts";
import type { StateDict } from "./state_dict.ts";
import { readTfjsWeights } from "./tfjs_artifacts.ts";
import { safetensorsFileSource, stateDictSource, type TensorSource } from "./tensor_source.ts";

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

/** Returns a local path for `name` when the source keeps files on disk, else null. */
async function localPath(source: FileSource, name: string): Promise<string | null | undefined> {
  if (source instanceof LocalFolderSource) {
    try {
      const info = await Deno.stat(`${source.path}/${name}`);
      return info.isFile ? `${source.path}/${name}` : null;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return null;
      throw error;
    }
  }
  if (source instanceof HubSource) return await source.localPath(name);
  return undefined; // no disk: read through readFile
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
 * Reads a folder's weights: `model.safetensors`, then `model.safetensors.index.json` (shards),
 * then `pytorch_model.bin`, then a converted folder's `model.json` (tried first for URL sources,
 * which normally serve converted folders).
 * @param source the folder
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through (safetensors and
 *   pytorch_model.bin; they are refused by default)
 * @returns the weights and which file they came from
 */
export async function readWeights(
  source: FileSource,
  nonFinite: NonFiniteOption = {},
): Promise<{ stateDict: StateDict; format: WeightFormat }> {
  const { allowNonFinite } = nonFinite;
  const tryTfjs = async (): Promise<StateDict | null> => {
    const modelJson = await readJson(source, "model.json");
    if (modelJson === null) return null;
    const json = modelJson as {
      format?: unknown;
      weightsManifest?: unknown;
      userDefinedMetadata?: { dpr?: { bindings?: unknown } };
    };
    if (json.weightsManifest === undefined) {
      throw new TypeError(`Cannot read model.json in ${source.description}: no weightsManifest`);
    }
    const weights = await readTfjsWeights(source, json.weightsManifest);
    if (json.format !== "layers-model") return weights; // PyTorch names and layouts already
    const bindings = json.userDefinedMetadata?.dpr?.bindings;
    if (!Array.isArray(bindings)) {
      throw new TypeError(
        `Cannot read model.json in ${source.description}: a layers model without the ` +
          `userDefinedMetadata.dpr.bindings this converter writes; its weights cannot be named`,
      );
    }
    return fromLayersWeights(weights, bindings as LayoutBinding[], source.description);
  };
  if (source instanceof UrlSource) {
    const sd = await tryTfjs();
    if (sd !== null) return { stateDict: sd, format: "tfjs" };
  }
  const safetensors = await localPath(source, "model.safetensors");
  if (typeof safetensors === "string") {
    return {
      stateDict: await readSafetensorsFile(safetensors, {
        description: `model.safetensors in ${source.description}`,
        allowNonFinite,
      }),
      format: "safetensors",
    };
  }
  if (safetensors === undefined) {
    const bytes = await source.readFile("model.safetensors");
    if (bytes !== null) {
      return {
        // The downloaded bytes are ours: share them rather than copy (one copy in memory).
        stateDict: readSafetensors(bytes, {
          description: `model.safetensors in ${source.description}`,
          share: true,
          allowNonFinite,
        }),
        format: "safetensors",
      };
    }
  }
  const sharded = await readShardedSafetensors(
    source,
    SAFETENSORS_INDEX_NAME,
    (file) => localPath(source, file),
    nonFinite,
  );
  if (sharded !== null) return { stateDict: sharded, format: "sharded-safetensors" };
  const bin = await localPath(source, "pytorch_model.bin");
  const description = `pytorch_model.bin in ${source.description}`;
  if (typeof bin === "string") {
    const reader = await openFileReader(bin);
    try {
      const stateDict = await readPytorchCheckpoint(reader, { description, allowNonFinite });
      return { stateDict, format: "pytorch" };
    } finally {
      reader.close();
    }
  }
  if (bin === undefined) {
    const bytes = await source.readFile("pytorch_model.bin");
    if (bytes !== null) {
      const stateDict = await readPytorchCheckpoint(bytes, { description, allowNonFinite });
      return { stateDict, format: "pytorch" };
    }
  }
  if (!(source instanceof UrlSource)) {
    const sd = await tryTfjs();
    if (sd !== null) return { stateDict: sd, format: "tfjs" };
  }
  throw new RangeError(
    `Cannot load weights from ${source.description}: it holds none of model.safetensors, ` +
      `${SAFETENSORS_INDEX_NAME}, pytorch_model.bin, model.json`,
  );
}

/**
 * A folder's weights as a {@linkcode TensorSource}: a local `model.safetensors` (also one in the
 * hub cache) is read tensor by tensor from disk; every other format is read as
 * {@linkcode readWeights} does and served from memory.
 * @param source the folder
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through (refused by default)
 * @returns the tensors (close them when done) and which file they came from
 */
export async function openWeights(
  source: FileSource,
  nonFinite: NonFiniteOption = {},
): Promise<{ tensors: TensorSource; format: WeightFormat }> {
  const description = `model.safetensors in ${source.description}`;
  if (!(source instanceof UrlSource)) {
    const safetensors = await localPath(source, "model.safetensors");
    if (typeof safetensors === "string") {
      return {
        tensors: await safetensorsFileSource(safetensors, description, nonFinite),
        format: "safetensors",
      };
    }
  }
  const { stateDict, format } = await readWeights(source, nonFinite);
  return { tensors: stateDictSource(stateDict, `the weights in ${source.description}`), format };
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
