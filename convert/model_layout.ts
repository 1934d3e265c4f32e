/**
 * Builds the {@linkcode LayersLayout} of a DPR model from its `config.json`: the model class
 * named by `architectures` is built once with zero weights, its tfjs layers model gives the
 * topology and weight names, its rename table gives the bindings, and it is freed again before
 * any checkpoint is read.
 * @module
 */
import { DPRConfig } from "../models/config.ts";
import { DPRContextEncoder } from "../models/dpr_context_encoder.ts";
import { DPRQuestionEncoder } from "../models/dpr_question_encoder.ts";
import { DPRReader } from "../models/dpr_reader.ts";
import type { LayersLayout } from "../io/layers_layout.ts";

/** The architectures a layout can be built for. */
export const LAYOUT_ARCHITECTURES: readonly string[] = [
  "DPRQuestionEncoder",
  "DPRContextEncoder",
  "DPRReader",
];

/**
 * Describes the layers model of the architecture `config.architectures[0]`.
 * @param config the parsed `config.json`
 * @returns topology, weights and bindings
 * @throws TypeError for an unknown architecture or an invalid config
 */
export function describeLayout(config: Record<string, unknown>): LayersLayout {
  const architectures = config.architectures;
  const name = Array.isArray(architectures) ? architectures[0] : undefined;
  const dprConfig = DPRConfig.fromJSON(config);
  const model = name === "DPRQuestionEncoder"
    ? new DPRQuestionEncoder(dprConfig, { zeroInit: true })
    : name === "DPRContextEncoder"
    ? new DPRContextEncoder(dprConfig, { zeroInit: true })
    : name === "DPRReader"
    ? new DPRReader(dprConfig, { zeroInit: true })
    : null;
  if (model === null) {
    throw new TypeError(
      `Cannot describe a model: config.json's architectures must name one of ${
        LAYOUT_ARCHITECTURES.join(", ")
      }: received ${JSON.stringify(architectures)}`,
    );
  }
  try {
    const layersModel = model.toLayersModel();
    const topology = layersModel.toJSON(null, false);
    const weights = layersModel.weights.map((w) => ({ name: w.originalName, shape: [...w.shape] }));
    const bindings = model.weightBindings().map((b) => {
      const binding: LayersLayout["bindings"][number] = {
        key: b.key,
        weight: b.variable.originalName,
        transpose: b.transpose,
      };
      if (b.part !== undefined) binding.part = { index: b.part.index, count: b.part.count };
      return binding;
    });
    return { topology, weights: weights as { name: string; shape: number[] }[], bindings };
  } finally {
    model.dispose();
  }
}
