import { deepEqual, equal, ok } from "node:assert/strict";
import { tf, tfl } from "../../backend/tf.ts";
import { DPRConfig } from "../../models/config.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { readerLayersModel } from "../../models/layers_model.ts";

const CONFIG = new DPRConfig({
  vocabSize: 30,
  hiddenSize: 8,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  intermediateSize: 12,
  maxPositionEmbeddings: 10,
  projectionDim: 4,
  hiddenAct: "relu",
});
const IDS = [[1, 4, 9, 2, 0], [1, 7, 3, 8, 5]];
const MASK = IDS.map((row) => row.map((v) => (v === 0 ? 0 : 1)));
const TYPES = [[0, 0, 1, 1, 0], [0, 1, 1, 1, 1]];

function closeTo(a: Float32Array | Int32Array | Uint8Array, b: ArrayLike<number>): void {
  equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) ok(Math.abs(a[i]! - b[i]!) < 1e-5, `index ${i}`);
}

/** Saves `model` to memory and loads it back with tf.loadLayersModel. */
async function roundTrip(model: tfl.LayersModel): Promise<tfl.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((artifacts) => {
    saved = artifacts;
    return Promise.resolve({
      modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" },
    });
  }));
  ok(saved !== undefined);
  return await tfl.loadLayersModel(tf.io.fromMemory(saved));
}

Deno.test("encoder LayersModel matches forward and survives save / loadLayersModel", async () => {
  const encoder = new DPRQuestionEncoder(CONFIG, { seed: 3 });
  const layersModel = encoder.toLayersModel();
  const inputs = [
    tf.tensor2d(IDS, undefined, "int32"),
    tf.tensor2d(MASK, undefined, "int32"),
    tf.tensor2d(TYPES, undefined, "int32"),
  ];
  try {
    const eager = encoder.forward({ inputIds: IDS, tokenTypeIds: TYPES });
    const functional = layersModel.predict(inputs) as tf.Tensor;
    deepEqual(functional.shape, [2, 4]);
    closeTo(functional.dataSync(), eager.poolerOutput.dataSync());
    const reloaded = await roundTrip(layersModel);
    // Same weights by name, none left over.
    deepEqual(
      reloaded.weights.map((w) => w.originalName).sort(),
      layersModel.weights.map((w) => w.originalName).sort(),
    );
    const again = reloaded.predict(inputs) as tf.Tensor;
    closeTo(again.dataSync(), eager.poolerOutput.dataSync());
    tf.dispose([eager.poolerOutput, functional, again]);
    reloaded.dispose();
  } finally {
    tf.dispose(inputs);
    encoder.dispose();
  }
});

Deno.test("reader LayersModel matches forward and survives save / loadLayersModel", async () => {
  const reader = new DPRReader(new DPRConfig({ ...CONFIG, projectionDim: 0, extra: {} }), {
    seed: 4,
  });
  const layersModel = readerLayersModel(reader);
  const inputs = [tf.tensor2d(IDS, undefined, "int32"), tf.tensor2d(MASK, undefined, "int32")];
  try {
    const eager = reader.forward({ inputIds: IDS, attentionMask: MASK });
    const reloaded = await roundTrip(layersModel);
    const outs = reloaded.predict(inputs) as tf.Tensor[];
    equal(outs.length, 3);
    closeTo(outs[0]!.dataSync(), eager.startLogits.dataSync());
    closeTo(outs[1]!.dataSync(), eager.endLogits.dataSync());
    closeTo(outs[2]!.dataSync(), eager.relevanceLogits.dataSync());
    tf.dispose([eager.startLogits, eager.endLogits, eager.relevanceLogits, ...outs]);
    reloaded.dispose();
  } finally {
    tf.dispose(inputs);
    reader.dispose();
  }
});
