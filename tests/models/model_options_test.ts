import { equal, ok, rejects, throws } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { DPRConfig } from "../../models/config.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { FIXTURES } from "./golden_helpers.ts";

const SMALL = new DPRConfig({
  vocabSize: 40,
  hiddenSize: 16,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  intermediateSize: 24,
  maxPositionEmbeddings: 12,
});

const IDS = [[2, 5, 9, 7, 0, 0], [3, 4, 1, 8, 6, 11]];

/** The pooler output and how many matrix products ran (per-head attention runs one per head). */
async function run(model: DPRQuestionEncoder): Promise<{ out: number[]; products: number }> {
  let out: number[] = [];
  const profile = await tf.profile(() => {
    const { poolerOutput } = model.forward({ inputIds: IDS });
    out = Array.from(poolerOutput.dataSync());
    poolerOutput.dispose();
  });
  const products = profile.kernels.filter((k) => k.name === "BatchMatMul").length;
  return { out, products };
}

Deno.test("the attention option of a model chooses batched or per-head attention, same results", async () => {
  const batched = new DPRQuestionEncoder(SMALL, { seed: 3, attention: "batched" });
  const perHead = new DPRQuestionEncoder(SMALL, { seed: 3, attention: "per-head" });
  try {
    equal(batched.attention, "batched");
    const a = await run(batched);
    const b = await run(perHead);
    ok(b.products > a.products, `per-head ${b.products} products, batched ${a.products}`);
    a.out.forEach((v, i) => ok(Math.abs(v - b.out[i]!) < 1e-5, `output ${i}`));
  } finally {
    batched.dispose();
    perHead.dispose();
  }
});

Deno.test("a bad attention option is refused, naming the model and the value", async () => {
  throws(() => new DPRQuestionEncoder(SMALL, { attention: "fast" as never }), {
    name: "RangeError",
    message:
      /Cannot build DPRQuestionEncoder: attention must be "auto", "batched" or "per-head": received "fast"/,
  });
  await rejects(
    DPRReader.fromPretrained(`${FIXTURES}models/dpr-reader-tiny`, { attention: "x" as never }),
    { name: "RangeError", message: /Cannot build DPRReader: attention must be/ },
  );
  const reader = await DPRReader.fromPretrained(`${FIXTURES}models/dpr-reader-tiny`, {
    attention: "per-head",
  });
  equal(reader.encoder.attention, "per-head");
  reader.dispose();
});
