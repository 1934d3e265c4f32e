/**
 * `fromPretrained({ dtype })`: int8 and float16 weights held in their own layout, on every
 * backend, against the float32 model (pooler output cosine), plus what is refused.
 */
import { deepEqual, equal, ok, rejects, throws } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { setBackend } from "../../backend/set_backend.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { heldQuantized } from "../../layers/held_weight.ts";
import { dequantize } from "../../backend/quantized/quantized_weight.ts";
import { kernelMemory } from "../../backend/quantized/kernel_memory.ts";
import { int8Kernel } from "../../backend/wasm_kernels/int8_product.ts";
import { testBackends } from "../backend/backends.ts";
import { checkDtypesMatchFloat32, MODELS } from "./dtype_cases.ts";

for (const backend of testBackends()) {
  Deno.test(`dtype int8 / float16 on ${backend}: outputs match float32 (cosine)`, async () => {
    await checkDtypesMatchFloat32(backend);
  });
}

Deno.test("dtype int8: dense matrices and the word table are held as int8; stateDict is float32", async () => {
  await setBackend("cpu");
  const dir = `${MODELS}dpr-question_encoder-tiny`;
  const plain = await DPRQuestionEncoder.fromPretrained(dir);
  const model = await DPRQuestionEncoder.fromPretrained(dir, { dtype: "int8" });
  try {
    const block = model.encoder.layer[0]!;
    const qkv = heldQuantized(block.attention.self.qkvKernel)!;
    equal(qkv.weight.layout, "int8");
    equal(qkv.transposed, true);
    deepEqual(qkv.weight.shape, [3 * 32, 32]); // [out, in]: one scale per output channel
    equal(heldQuantized(model.embeddings.wordEmbeddings)!.weight.shape[0], 1575);
    // LayerNorm, biases and the small tables stay float32
    equal(heldQuantized(block.attention.self.qkvBias), undefined);
    equal(heldQuantized(model.embeddings.positionEmbeddings), undefined);
    equal(heldQuantized(block.outputLayer.layerNormWeight), undefined);
    // stateDict gives float32 in PyTorch's layout: the dequantized values
    const sd = model.stateDict(), ref = plain.stateDict();
    deepEqual([...sd.keys()], [...ref.keys()]);
    const key = "question_encoder.bert_model.encoder.layer.0.attention.self.key.weight";
    deepEqual(sd.get(key)!.shape, [32, 32]);
    const values = dequantize(qkv.weight).subarray(32 * 32, 64 * 32);
    deepEqual([...sd.get(key)!.data], [...values]);
    const refKey = ref.get(key)!.data;
    for (let i = 0; i < refKey.length; i++) {
      const scale = qkv.weight.scales![32 + Math.floor(i / 32)]!; // within half a step
      ok(Math.abs(refKey[i]! - values[i]!) <= scale / 2 + 1e-7, `${i}`);
    }
  } finally {
    model.dispose();
    plain.dispose();
  }
});

Deno.test("dtype: an unknown dtype is refused by name, and nothing stays allocated", async () => {
  await setBackend("cpu");
  const before = tf.memory().numTensors;
  await rejects(
    // @ts-expect-error: an unknown dtype is refused at run time too
    DPRQuestionEncoder.fromPretrained(`${MODELS}dpr-question_encoder-tiny`, { dtype: "int4" }),
    /dtype "int4".*float32, float16, int8/,
  );
  equal(tf.memory().numTensors, before);
});

Deno.test({
  name:
    "dtype int8 on wasm: dispose() gives the kernel memory back at once, and the weights refuse use",
  ignore: kernelMemory() === undefined,
  async fn() {
    await setBackend("wasm", { wasmThreads: 1 });
    try {
      const memory = kernelMemory()!;
      const dir = `${MODELS}dpr-question_encoder-tiny`;
      const before = memory.liveBytes;
      const model = await DPRQuestionEncoder.fromPretrained(dir, { dtype: "int8" });
      const { poolerOutput } = model.forward({ inputIds: [[101, 759, 102]] });
      const first = await poolerOutput.data();
      poolerOutput.dispose();
      const weight = heldQuantized(model.encoder.layer[0]!.intermediate.denseKernel)!.weight;
      ok(memory.liveBytes > before, "the int8 matrices (and their row sums) are in kernel memory");
      model.dispose();
      equal(memory.liveBytes, before, "every block freed by dispose(), not left to the collector");
      ok(weight.disposed);
      equal(weight.data.length, 0);
      throws(
        () =>
          int8Kernel()!.product(new Float32Array(32), 1, weight, undefined, new Float32Array(37)),
        /int8 weight was disposed/,
      );
      throws(() => model.forward({ inputIds: [[101, 759, 102]] }), /disposed/);
      // a model loaded next reuses the blocks and computes the same
      const again = await DPRQuestionEncoder.fromPretrained(dir, { dtype: "int8" });
      const second = again.forward({ inputIds: [[101, 759, 102]] });
      deepEqual(await second.poolerOutput.data(), first);
      second.poolerOutput.dispose();
      again.dispose();
      equal(memory.liveBytes, before);
    } finally {
      await setBackend("cpu");
    }
  },
});
