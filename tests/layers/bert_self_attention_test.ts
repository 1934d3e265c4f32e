import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import {
  attentionMaskBias,
  BertSelfAttention,
  FLOAT32_MIN,
  setAttentionImplementation,
} from "../../layers/bert_self_attention.ts";

Deno.test("attention masks become transformers' additive bias (1 - mask) * finfo.min", () => {
  equal(FLOAT32_MIN, -3.4028234663852886e38);
  equal(Math.fround(FLOAT32_MIN), FLOAT32_MIN);
  const bias = tf.tidy(() =>
    attentionMaskBias(tf.tensor2d([[1, 1, 0], [1, 0, 0]], undefined, "int32"))
  );
  deepEqual(bias.shape, [2, 1, 1, 3]);
  deepEqual(Array.from(bias.dataSync()), [0, 0, FLOAT32_MIN, 0, FLOAT32_MIN, FLOAT32_MIN]);
  bias.dispose();
});

Deno.test("per-head and batched attention agree (values, probabilities, masking)", () => {
  const layer = new BertSelfAttention({
    hiddenSize: 8,
    numAttentionHeads: 2,
    attentionProbsDropoutProb: 0.1,
    name: "att",
  });
  layer.build([null, null, 8]);
  const x = tf.randomNormal([3 * 5, 8], 0, 1, "float32", 7) as tf.Tensor2D;
  const mask = tf.tensor2d([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], undefined, "int32");
  const bias = attentionMaskBias(mask);
  const run = (impl: "batched" | "per-head"): number[][] => {
    setAttentionImplementation(impl);
    const out = layer.forward(x, bias, 3, 5, { training: false, counter: 0 }, true);
    const values = [Array.from(out.context.dataSync()), Array.from(out.probs!.dataSync())];
    deepEqual(out.probs!.shape, [3, 2, 5, 5]);
    tf.dispose([out.context, out.probs!]);
    return values;
  };
  try {
    const [c1, p1] = run("batched");
    const [c2, p2] = run("per-head");
    c1!.forEach((v, i) => ok(Math.abs(v - c2![i]!) < 1e-6, `context ${i}`));
    p1!.forEach((v, i) => ok(Math.abs(v - p2![i]!) < 1e-6, `probs ${i}`));
    // Masked keys get zero probability.
    equal(p2![3], 0);
    throws(() => setAttentionImplementation("fast" as never), {
      name: "RangeError",
      message: /"auto", "batched" or "per-head": received "fast"/,
    });
  } finally {
    setAttentionImplementation("auto");
    tf.dispose([x, mask, bias]);
    for (const w of layer.weights) w.dispose();
  }
});
