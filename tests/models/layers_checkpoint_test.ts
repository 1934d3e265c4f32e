// A converted layers-model folder is read in the layers' own names and layouts and planned
// straight into the model's variables (no PyTorch-name round trip).
import { deepEqual, equal, ok } from "node:assert/strict";
import { convertCheckpoint } from "../../convert/convert.ts";
import { LocalFolderSource } from "../../io/file_source.ts";
import { openWeights, resolvePretrained } from "../../io/resolve.ts";
import { pytorchNamedSource } from "../../io/layers_source.ts";
import { collectTensors } from "../../io/tensor_source.ts";
import { readSafetensors } from "../../io/safetensors.ts";
import { DPRConfig } from "../../models/config.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { planLayersLoad } from "../../models/layers_checkpoint.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;

Deno.test("a converted layers-model folder is read in the layers' own names and goes straight into them", async () => {
  const root = await Deno.makeTempDir();
  try {
    const from = `${MODELS}dpr-reader-tiny`;
    await convertCheckpoint(from, `${root}/tfjs`);
    const { tensors, format } = await openWeights(new LocalFolderSource(`${root}/tfjs`));
    const config = DPRConfig.fromJSON(JSON.parse(await Deno.readTextFile(`${from}/config.json`)));
    const model = new DPRReader(config, { placeholders: true });
    try {
      equal(format, "tfjs");
      ok(tensors.layersBindings !== undefined);
      // No checkpoint (PyTorch) name: the layers' weights, e.g. one fused query/key/value kernel.
      ok(![...tensors.shapes.keys()].some((k) => k.startsWith("span_predictor.")));
      const plan = planLayersLoad(model.weightBindings(), tensors);
      ok(plan !== null, "the folder's layout is the model's");
      const fused = plan.find((s) => s.group.length === 3 && s.group[0]!.transpose)!;
      deepEqual(tensors.shapes.get(fused.weight), fused.variable.shape);
      // A model whose layout differs (one variable bound differently) is not planned.
      const bindings = model.weightBindings();
      bindings[0] = { ...bindings[0]!, transpose: !bindings[0]!.transpose };
      equal(planLayersLoad(bindings, tensors), null);
    } finally {
      tensors.close();
      model.dispose();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a layers-model folder read under PyTorch names gives the checkpoint back exactly", async () => {
  const root = await Deno.makeTempDir();
  try {
    const from = `${MODELS}dpr-reader-tiny`;
    await convertCheckpoint(from, `${root}/tfjs`);
    const { tensors } = await openWeights(new LocalFolderSource(`${root}/tfjs`));
    try {
      const named = await collectTensors(pytorchNamedSource(tensors));
      deepEqual(named, readSafetensors(await Deno.readFile(`${from}/model.safetensors`)));
    } finally {
      tensors.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a folder whose layout is not the model's loads by its PyTorch names instead", async () => {
  const root = await Deno.makeTempDir();
  try {
    const from = `${MODELS}dpr-reader-tiny`;
    await convertCheckpoint(from, `${root}/tfjs`);
    // Bind layer 0's query and key the other way round: no longer the model's own layout.
    const path = `${root}/tfjs/model.json`;
    const json = JSON.parse(await Deno.readTextFile(path));
    const bindings = json.userDefinedMetadata.dpr.bindings as {
      key: string;
      part?: { index: number };
    }[];
    const query = bindings.find((b) => b.key.endsWith("layer.0.attention.self.query.weight"))!;
    const key = bindings.find((b) => b.key.endsWith("layer.0.attention.self.key.weight"))!;
    [query.part!.index, key.part!.index] = [key.part!.index, query.part!.index];
    await Deno.writeTextFile(path, JSON.stringify(json));
    const { stateDict } = await resolvePretrained(`${root}/tfjs`);
    const model = await DPRReader.fromPretrained(`${root}/tfjs`);
    try {
      const loaded = model.stateDict();
      deepEqual(loaded, stateDict);
      // The swap took: the model's query weight is the checkpoint's key weight.
      const original = readSafetensors(await Deno.readFile(`${from}/model.safetensors`));
      deepEqual(loaded.get(query.key), original.get(key.key));
    } finally {
      model.dispose();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
