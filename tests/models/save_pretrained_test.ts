// Models' savePretrained: model.safetensors and config.json as transformers writes them (the same
// tensors as the fixture checkpoints transformers saved, a config that transformers reads), and a
// reload here gives the same weights bit for bit.
import assert from "node:assert/strict";
import { DPRContextEncoder } from "../../models/dpr_context_encoder.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { readSafetensors } from "../../io/safetensors.ts";
import type { StateDict } from "../../io/state_dict.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;

interface Saveable {
  stateDict(): StateDict;
  savePretrained(dir: string): Promise<void>;
  dispose(): void;
}

const CASES: Array<[string, (dir: string) => Promise<Saveable>]> = [
  ["dpr-question_encoder-tiny", (dir) => DPRQuestionEncoder.fromPretrained(dir)],
  ["dpr-ctx_encoder-tiny", (dir) => DPRContextEncoder.fromPretrained(dir)],
  ["dpr-reader-tiny", (dir) => DPRReader.fromPretrained(dir)],
];

/** Keys transformers adds to config.json that say which library wrote it, not the model. */
const PROVENANCE = ["transformers_version", "torch_dtype"];

function withoutProvenance(config: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(config).filter(([k]) => !PROVENANCE.includes(k)));
}

function assertSameTensors(got: StateDict, want: StateDict): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [key, tensor] of want) {
    const other = got.get(key)!;
    assert.deepEqual(other.shape, tensor.shape, key);
    assert.deepEqual(
      new Uint8Array(other.data.buffer, other.data.byteOffset, other.data.byteLength),
      new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength),
      key,
    );
  }
}

for (const [name, load] of CASES) {
  Deno.test(`${name}: savePretrained writes transformers' files; reloading gives the same weights`, async () => {
    const dir = await Deno.makeTempDir();
    const model = await load(`${MODELS}${name}`);
    let reloaded: Saveable | undefined;
    try {
      await model.savePretrained(dir);
      const want = readSafetensors(await Deno.readFile(`${MODELS}${name}/model.safetensors`));
      assertSameTensors(readSafetensors(await Deno.readFile(`${dir}/model.safetensors`)), want);
      const config = JSON.parse(await Deno.readTextFile(`${dir}/config.json`));
      const original = JSON.parse(await Deno.readTextFile(`${MODELS}${name}/config.json`));
      assert.deepEqual(withoutProvenance(config), withoutProvenance(original));
      reloaded = await load(dir);
      assertSameTensors(reloaded.stateDict(), model.stateDict());
    } finally {
      model.dispose();
      reloaded?.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
