// Loading float32 weights into their final storage: the values land exactly (transposed Linear
// weights, the fused query/key/value kernel, tensors read in several blocks of rows) on cpu and
// wasm, and on wasm no temporary copy of a weight passes through tfjs's heap.
import assert from "node:assert/strict";
import { DPRConfig } from "../../models/config.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { setBackend } from "../../backend/set_backend.ts";
import type { StateDict } from "../../io/state_dict.ts";
import { runInChild } from "../backend/backends.ts";

// Word embeddings [8300, 64] and the intermediate kernel ([8200, 64] in PyTorch's layout) are
// over a million values each: the loader reads them in several blocks of rows.
const CONFIG = new DPRConfig({
  vocabSize: 8300,
  hiddenSize: 64,
  numHiddenLayers: 1,
  numAttentionHeads: 2,
  intermediateSize: 16400,
  maxPositionEmbeddings: 40,
});

async function writeModel(): Promise<{ dir: string; want: StateDict }> {
  const dir = await Deno.makeTempDir();
  const model = new DPRQuestionEncoder(CONFIG, { seed: 5 });
  try {
    await model.savePretrained(dir);
    return { dir, want: model.stateDict() };
  } finally {
    model.dispose();
  }
}

function assertSameTensors(got: StateDict, want: StateDict, where: string): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [key, tensor] of want) {
    const other = got.get(key)!;
    assert.deepEqual(other.shape, tensor.shape, `${where}: ${key}`);
    assert.ok(
      other.data.every((x, i) => Object.is(x, tensor.data[i])),
      `${where}: ${key} differs`,
    );
  }
}

Deno.test({
  name: "a float32 checkpoint lands bit for bit on cpu and wasm (transposed, fused, in blocks)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { dir, want } = await writeModel();
    try {
      for (const backend of ["cpu", "wasm"] as const) {
        await setBackend(backend);
        const model = await DPRQuestionEncoder.fromPretrained(dir);
        try {
          assertSameTensors(model.stateDict(), want, backend);
        } finally {
          model.dispose();
        }
      }
    } finally {
      await setBackend("cpu");
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("on wasm a float32 load puts each weight into tfjs's heap once, with no temporary", async () => {
  const { dir } = await writeModel();
  try {
    const { peak, held, weights } = await runInChild(
      new URL("./landing_cases.ts", import.meta.url),
      "loadHeapPeak",
      [dir],
    ) as { peak: number; held: number; weights: number };
    // What the model holds is its weights (and a few bytes of placeholders and scalars).
    assert.ok(held >= weights && held < weights + 64 * 1024, `held ${held}, weights ${weights}`);
    // Before, a transposed weight passed through the heap twice (as read, then transposed).
    assert.ok(peak < held + 64 * 1024, `peak ${peak}, held after loading ${held}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
