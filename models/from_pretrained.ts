/**
 * Loading a pretrained model (a local folder, URL or hub id, through the conversion module's
 * `resolvePretrained`) and checking it holds the class being loaded.
 * @module
 */
import type { BackendName } from "../backend/backend_name.ts";
import { setBackend } from "../backend/set_backend.ts";
import { ensureBackend } from "../backend/default_backend.ts";
import { checkArchitectures } from "../io/checkpoint_keys.ts";
import type { FileSource } from "../io/file_source.ts";
import {
  openWeights,
  type PretrainedOptions,
  readConfigObject,
  resolvePretrained,
  resolveSource,
} from "../io/resolve.ts";
import type { StateDict } from "../io/state_dict.ts";
import { DPRConfig } from "./config.ts";
import {
  checkDtype,
  loadBindingsFrom,
  type LoadStateDictOptions,
  type WeightBinding,
} from "./hf_weight_map.ts";
import type { DPRModelOptions } from "./model_options.ts";

/** Where a pretrained model comes from: a folder path, URL, hub id or a {@linkcode FileSource}. */
export type PretrainedSource = string | FileSource;

/** Options of `fromPretrained`: where to fetch from (hub options) and how to load. */
export interface FromPretrainedOptions
  extends LoadStateDictOptions, PretrainedOptions, Pick<DPRModelOptions, "attention"> {
  /**
   * Skip the check of `config.json`'s `architectures` against the class being loaded.
   * Default false: loading e.g. a DPRContextEncoder checkpoint as DPRQuestionEncoder throws.
   */
  ignoreArchitecture?: boolean;
  /**
   * Select this backend (as {@linkcode setBackend}) before the weights are created, so they live
   * on it. Default: the active backend; when no backend was ever chosen, the first load runs
   * `setBackend()` (`DPR_BACKEND`, else "auto") and prints which backend it picked to stderr.
   */
  backend?: BackendName;
}

/** Selects `options.backend`, or a backend when none was ever chosen (see `backend`). */
async function chooseBackend(options: FromPretrainedOptions): Promise<void> {
  if (options.backend !== undefined) await setBackend(options.backend);
  else await ensureBackend();
}

/** The parts of a pretrained model folder. */
export interface PretrainedParts {
  /** The parsed, validated config. */
  config: DPRConfig;
  /** The weights, PyTorch names and layout. */
  stateDict: StateDict;
  /** Where they came from. */
  source: FileSource;
}

/**
 * Reads `config.json` and the weights of `source`, and checks `architectures` names `className`.
 * @param source a folder path, URL, hub id or FileSource
 * @param className the class being loaded, e.g. `"DPRQuestionEncoder"`
 * @param options hub options and the architecture check switch
 * @returns config, weights and source
 * @throws RangeError when config.json is missing; TypeError when the checkpoint holds another
 *   class
 */
export async function readPretrained(
  source: PretrainedSource,
  className: string,
  options: FromPretrainedOptions = {},
): Promise<PretrainedParts> {
  const resolved = await resolvePretrained(source, options);
  const config = checkedConfig(resolved.config, resolved.source, className, options);
  await chooseBackend(options);
  return { config, stateDict: resolved.stateDict, source: resolved.source };
}

/** Parses `config.json` and checks its `architectures` names `className` (unless told not to). */
function checkedConfig(
  json: Record<string, unknown>,
  source: FileSource,
  className: string,
  options: FromPretrainedOptions,
): DPRConfig {
  const config = DPRConfig.fromJSON(json);
  if (options.ignoreArchitecture !== true) {
    checkArchitectures(config.architectures, className, source.description);
  }
  return config;
}

/** A model class {@linkcode loadPretrained} can build: made from a config, then given weights. */
export interface PretrainedModelClass<M> {
  /** Builds the model (here with placeholder weights, each written once by the loader). */
  new (config: DPRConfig, options: DPRModelOptions): M;
}

/** What {@linkcode loadPretrained} needs of a model instance. */
export interface LoadableModel {
  /** The model's rename table: checkpoint keys bound to its weights. */
  weightBindings(): WeightBinding[];
  /** Frees the model's tensors. */
  dispose(): void;
}

/**
 * The `fromPretrained` of the DPR models: reads `source`'s config (checking it holds
 * `className`), builds the model with placeholder weights (never zeros) and takes the checkpoint
 * into them one tensor at a time, quantized on the way when `options.dtype` asks (a local
 * `model.safetensors` is read by ranges, never whole). The model is disposed when loading fails,
 * so nothing half-loaded stays.
 * @param source a folder path, URL, hub id or FileSource
 * @param className the class being loaded, e.g. `"DPRQuestionEncoder"`
 * @param modelClass its constructor
 * @param options hub options, load options (dtype, strict) and the architecture check switch
 * @returns the model with the checkpoint's weights
 * @throws TypeError when the folder holds another architecture or mismatched weights, or the
 *   dtype is unknown
 */
export async function loadPretrained<M extends LoadableModel>(
  source: PretrainedSource,
  className: string,
  modelClass: PretrainedModelClass<M>,
  options: FromPretrainedOptions = {},
): Promise<M> {
  checkDtype(className, options.dtype);
  const files = await resolveSource(source, options);
  const json = await readConfigObject(files, `Cannot load a model from ${files.description}`);
  const config = checkedConfig(json, files, className, options);
  const { tensors } = await openWeights(files, options);
  try {
    await chooseBackend(options);
    const modelOptions: DPRModelOptions = { placeholders: true };
    if (options.attention !== undefined) modelOptions.attention = options.attention;
    const model = new modelClass(config, modelOptions);
    try {
      await loadBindingsFrom(className, model.weightBindings(), tensors, options);
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  } finally {
    tensors.close();
  }
}
