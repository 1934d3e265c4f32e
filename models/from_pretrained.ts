/**
 * Loading a model folder in Hugging Face layout (`config.json` + `model.safetensors`, or
 * `pytorch_model.bin`) and checking it holds the class being loaded.
 *
 * Until the conversion module's `resolvePretrained` (hub ids, URLs, caches) lands, this reads a
 * local folder path or any {@linkcode FileSource}.
 * @module
 */
import { type FileSource, LocalFolderSource, readJson } from "../convert/file_source.ts";
import { readPytorchCheckpoint } from "../convert/pytorch_pickle.ts";
import { readSafetensors } from "../convert/safetensors.ts";
import type { StateDict } from "../convert/state_dict.ts";
import { DPRConfig } from "./config.ts";
import type { LoadStateDictOptions } from "./hf_weight_map.ts";

/** Where a pretrained model comes from: a local folder path or a {@linkcode FileSource}. */
export type PretrainedSource = string | FileSource;

/** Options of `fromPretrained`. */
export interface FromPretrainedOptions extends LoadStateDictOptions {
  /**
   * Skip the check of `config.json`'s `architectures` against the class being loaded.
   * Default false: loading e.g. a DPRContextEncoder checkpoint as DPRQuestionEncoder throws.
   */
  ignoreArchitecture?: boolean;
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
 * @param source a local folder path or a FileSource
 * @param className the class being loaded, e.g. `"DPRQuestionEncoder"`
 * @throws Error when files are missing; TypeError when the checkpoint holds another class
 */
export async function readPretrained(
  source: PretrainedSource,
  className: string,
  options: FromPretrainedOptions = {},
): Promise<PretrainedParts> {
  const files = typeof source === "string" ? new LocalFolderSource(source) : source;
  const json = await readJson(files, "config.json");
  if (json === null) {
    throw new Error(`Cannot load ${className} from ${files.description}: config.json is missing`);
  }
  const config = DPRConfig.fromJSON(json);
  const architectures = config.architectures;
  if (
    options.ignoreArchitecture !== true && architectures.length > 0 &&
    !architectures.includes(className)
  ) {
    // transformers does not check this (its issue 9725) and silently loads random weights.
    throw new TypeError(
      `Cannot load ${className} from ${files.description}: config.json's architectures is ${
        JSON.stringify(architectures)
      }, so it holds a ${architectures.join(" / ")} checkpoint, not a ${className}`,
    );
  }
  const safetensors = await files.readFile("model.safetensors");
  let stateDict: StateDict;
  if (safetensors !== null) {
    stateDict = readSafetensors(safetensors, {
      description: `${files.description}/model.safetensors`,
    });
  } else {
    const bin = await files.readFile("pytorch_model.bin");
    if (bin === null) {
      throw new Error(
        `Cannot load ${className} from ${files.description}: neither model.safetensors nor pytorch_model.bin is there`,
      );
    }
    stateDict = await readPytorchCheckpoint(bin, {
      description: `${files.description}/pytorch_model.bin`,
    });
  }
  return { config, stateDict, source: files };
}
