/**
 * `saveSafetensors`: writes a model back in Hugging Face's layout (`model.safetensors` with
 * PyTorch names and layouts, plus `config.json`), so a model changed here loads in transformers.
 * @module
 */
import { writeFileAtomic } from "./atomic_write.ts";
import { hfJson } from "./hf_json.ts";
import { writeSafetensors } from "./safetensors.ts";
import type { EncodedTensor } from "./safetensors_write.ts";
import type { RawTensor, StateDict } from "./state_dict.ts";

/** What `saveSafetensors` needs from a model: its weights, and its config for `config.json`. */
export interface StateDictModel {
  /** The weights with PyTorch names and layouts. */
  stateDict(): StateDict;
  /** The model's configuration; `toJSON()` gives `config.json`'s object. */
  readonly config?: { toJSON(): Record<string, unknown> };
  /** The model's architecture, whose `name` fills `architectures` when the config lacks it. */
  readonly architecture?: { name: string };
  /**
   * The weights as the model holds them (int8 / float16 matrices kept), with the dtype to record
   * in the file's metadata; what {@linkcode SaveSafetensorsOptions.keepDtype} saves.
   */
  heldStateDict?(): {
    tensors: ReadonlyMap<string, RawTensor | EncodedTensor>;
    dtype: string;
  };
}

/** Options of {@linkcode saveSafetensors}. */
export interface SaveSafetensorsOptions {
  /**
   * Save a quantized model's matrices as they are held (int8 with `<name>_scale` tensors, or
   * float16), recorded in the file's metadata (`dpr_dtype`) so that it loads quantized again, to
   * the same values bit for bit. Default false: every tensor float32 (dequantized), as
   * transformers reads.
   */
  keepDtype?: boolean;
}

/**
 * Saves a model's weights as safetensors. A path ending in `.safetensors` gets just that file;
 * any other path is a folder that gets `model.safetensors` and `config.json` (Hugging Face
 * layout). Files are written atomically.
 *
 * @example
 * ```ts ignore
 * import { saveSafetensors } from "@dpr/dpr";
 * await saveSafetensors(model, "out/my-question-encoder");
 * ```
 * @param model anything with `stateDict()` (our DPR models)
 * @param path a `.safetensors` file or a folder
 * @param options whether to keep a quantized model's dtype
 */
export async function saveSafetensors(
  model: StateDictModel,
  path: string,
  options: SaveSafetensorsOptions = {},
): Promise<void> {
  let bytes: Uint8Array;
  if (options.keepDtype === true && model.heldStateDict !== undefined) {
    const { tensors, dtype } = model.heldStateDict();
    const metadata: Record<string, string> = { format: "pt" };
    if (dtype !== "float32") metadata["dpr_dtype"] = dtype;
    bytes = writeSafetensors(tensors, { metadata });
  } else {
    bytes = writeSafetensors(model.stateDict(), { metadata: { format: "pt" } });
  }
  if (path.endsWith(".safetensors")) {
    await writeFileAtomic(path, bytes);
    return;
  }
  await Deno.mkdir(path, { recursive: true });
  await writeFileAtomic(`${path}/model.safetensors`, bytes);
  if (model.config !== undefined) {
    const config = { ...model.config.toJSON() };
    if (!Array.isArray(config.architectures) && model.architecture !== undefined) {
      config.architectures = [model.architecture.name];
    }
    config.model_type ??= "dpr";
    await writeFileAtomic(`${path}/config.json`, hfJson(config));
  }
}
