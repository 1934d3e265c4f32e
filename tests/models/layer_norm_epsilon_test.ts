// Pins BERT's LayerNorm epsilon (1e-12, the DPRConfig default) through the whole model path, on
// every backend. The usual parity cases cannot: their LayerNorm inputs have variance near 1,
// where an epsilon of 1e-5 (PyTorch's default) moves outputs by ~1e-5, under any sensible bound.
// Here every LayerNorm sees variance ~1e-6 (its gamma is 1e-3 and every dense weight is zero, so
// each block is LayerNorm(residual)), and epsilon 1e-5 changes the output by a factor of ~3.
import assert from "node:assert/strict";
import { setBackend } from "../../backend/set_backend.ts";
import type { StateDict } from "../../io/state_dict.ts";
import { DPRConfig } from "../../models/config.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { seeded } from "../seeded.ts";
import { testBackends } from "../backend/backends.ts";
import { missingOpenBlas } from "../backend/blas/libraries.ts";

const H = 16;
const GAMMA = 1e-3;
const config = new DPRConfig({
  vocabSize: 40,
  hiddenSize: H,
  numHiddenLayers: 2,
  numAttentionHeads: 2,
  intermediateSize: 32,
  maxPositionEmbeddings: 16,
}); // layerNormEps left to its default
const inputIds = [[2, 7, 11, 19, 23, 5], [3, 31, 17, 13, 0, 0]];
const attentionMask = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]];

/** Zero weights; word embeddings, LayerNorm betas random in [-1e-3, 1e-3); gammas 1e-3. */
function weights(names: Iterable<[string, { shape: number[]; data: Float32Array }]>): StateDict {
  const out: StateDict = new Map();
  let seed = 1;
  for (const [name, { shape, data }] of names) {
    let values: Float32Array = new Float32Array(data.length);
    if (name.endsWith("word_embeddings.weight")) values = seeded(data.length, seed++, GAMMA);
    else if (name.endsWith("LayerNorm.weight")) values.fill(GAMMA);
    else if (name.endsWith("LayerNorm.bias")) values = seeded(data.length, seed++, GAMMA);
    out.set(name, { shape, data: values });
  }
  return out;
}

/** LayerNorm of one row in float64 with BERT's epsilon. */
function layerNorm(row: Float64Array, gamma: Float32Array, beta: Float32Array): Float64Array {
  const mean = row.reduce((a, b) => a + b, 0) / row.length;
  const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
  const scale = 1 / Math.sqrt(variance + 1e-12);
  return row.map((x, i) => (x - mean) * scale * gamma[i]! + beta[i]!);
}

/** The [CLS] vector of each sequence: the embedding LayerNorm then two per layer, in float64. */
function reference(sd: StateDict): Float64Array[] {
  const get = (suffix: string): Float32Array =>
    [...sd].find(([name]) => name.endsWith(suffix))![1].data;
  const word = get("embeddings.word_embeddings.weight");
  return inputIds.map((ids) => {
    let h: Float64Array = Float64Array.from(word.subarray(ids[0]! * H, (ids[0]! + 1) * H));
    h = layerNorm(h, get("embeddings.LayerNorm.weight"), get("embeddings.LayerNorm.bias"));
    for (let layer = 0; layer < config.numHiddenLayers; layer++) {
      // Attention and feed-forward outputs are zero (zero weights and biases): each block is
      // LayerNorm(0 + residual).
      for (const block of ["attention.output", "output"]) {
        const prefix = `encoder.layer.${layer}.${block}.LayerNorm`;
        h = layerNorm(h, get(`${prefix}.weight`), get(`${prefix}.bias`));
      }
    }
    return h;
  });
}

const backends: string[] = testBackends();
if (!backends.includes("blas") && missingOpenBlas("LayerNorm epsilon on blas") === undefined) {
  backends.push("blas");
}

for (const backend of backends) {
  // blas: OpenBLAS stays loaded for the process on purpose (pin_library.ts), which Deno 2.5's
  // resource sanitizer counts as a leak.
  const options = { sanitizeResources: backend !== "blas" };
  Deno.test(
    `LayerNorm epsilon is BERT's 1e-12 end to end on ${backend} (low-variance input)`,
    options,
    async () => {
      assert.equal(config.layerNormEps, 1e-12);
      await setBackend(backend as "cpu");
      const model = new DPRQuestionEncoder(config, { seed: 1 });
      try {
        const sd = weights(model.stateDict());
        model.loadStateDict(sd);
        const want = reference(sd);
        const { poolerOutput } = model.forward({ inputIds, attentionMask });
        const got = await poolerOutput.array() as number[][];
        poolerOutput.dispose();
        for (let b = 0; b < want.length; b++) {
          let worst = 0;
          let largest = 0;
          for (let i = 0; i < H; i++) {
            worst = Math.max(worst, Math.abs(got[b]![i]! - want[b]![i]!));
            largest = Math.max(largest, Math.abs(want[b]![i]!));
          }
          // Float32 rounding gives ~1e-6 relative; epsilon 1e-5 instead of 1e-12 gives ~0.7.
          assert.ok(worst <= 1e-4 * largest, `${backend} row ${b}: ${worst} vs ${largest}`);
        }
      } finally {
        model.dispose();
        await setBackend("cpu");
      }
    },
  );
}

Deno.test("the low-variance case is sensitive: epsilon 1e-5 in the reference moves it by > 10%", () => {
  const row = Float64Array.from(seeded(H, 9, GAMMA));
  const gamma = new Float32Array(H).fill(1);
  const beta = new Float32Array(H);
  const bert = layerNorm(row, gamma, beta);
  const mean = row.reduce((a, b) => a + b, 0) / H;
  const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / H;
  const torch = row.map((x) => (x - mean) / Math.sqrt(variance + 1e-5));
  const moved = Math.max(...bert.map((x, i) => Math.abs(x - torch[i]!)));
  assert.ok(moved > 0.1 * Math.max(...bert.map(Math.abs)), `moved ${moved}`);
});
