/**
 * `DPRContextEncoder`: the passage (context) tower of DPR (transformers' `DPRContextEncoder`).
 * @module
 */
import { ARCHITECTURE_PREFIXES } from "../io/checkpoint_keys.ts";
import type { DPRConfig } from "./config.ts";
import { DPREncoder, type DPRModelOptions } from "./dpr_encoder.ts";
import {
  type FromPretrainedOptions,
  loadPretrained,
  type PretrainedSource,
} from "./from_pretrained.ts";

/**
 * Encodes passages to vectors (`poolerOutput`). Checkpoint names start with
 * `ctx_encoder.bert_model.` (and `ctx_encoder.encode_proj.`).
 *
 * @example
 * ```ts
 * import { DPRConfig } from "@dpr/dpr";
 * import { DPRContextEncoder } from "@dpr/dpr";
 * const config = new DPRConfig({
 *   vocabSize: 50, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16,
 * });
 * const model = new DPRContextEncoder(config, { seed: 1 });
 * const { poolerOutput } = model.forward({ inputIds: [[1, 5, 7]] });
 * console.log(poolerOutput.shape); // [1, 8]
 * poolerOutput.dispose();
 * model.dispose();
 * ```
 */
export class DPRContextEncoder extends DPREncoder {
  /**
   * Creates the object; see the arguments.
   * @param config the model configuration
   * @param options seed of the random initialisation
   */
  constructor(config: DPRConfig, options: DPRModelOptions = {}) {
    super(config, options, {
      name: "DPRContextEncoder",
      bertPrefix: `${ARCHITECTURE_PREFIXES.DPRContextEncoder}bert_model.`,
      projPrefix: ARCHITECTURE_PREFIXES.DPRContextEncoder,
    });
  }

  /**
   * Loads a transformers `DPRContextEncoder` folder (`config.json` + `model.safetensors` or
   * `pytorch_model.bin`).
   * @param source a local folder path or a FileSource
   * @param options load options
   * @returns the model with the checkpoint's weights
   * @throws TypeError when the folder holds another architecture or mismatched weights
   */
  static async fromPretrained(
    source: PretrainedSource,
    options: FromPretrainedOptions = {},
  ): Promise<DPRContextEncoder> {
    return await loadPretrained(source, "DPRContextEncoder", DPRContextEncoder, options);
  }
}
