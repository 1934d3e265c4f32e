/**
 * `fromPretrained({ dtype })`: int8 and float16 weights held in their own layout, on every
 * backend, against the float32 model (pooler output cosine), plus what is refused.
 */
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { setBackend } from "../../backend/set_backend.ts";
import { DPRContextEncoder } from "../../models/dpr_context_encoder.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { heldQuantized } from "../../layers/held_weight.ts";
import { dequantize } from "../../backend/quantized/quantized_weight.ts";
import { testBackends } from "../backend/backends.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;
const IDS = [[101, 7, 99, 300, 1200, 55, 102, 0], [101, 1500, 3, 4, 102, 0, 0, 0]];
const FLOOR = { int8: 0.999, float16: 0.99999 } as const;

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

type Dtype = "float32" | "int8" | "float16";

/** Every output of one forward pass, flattened, for each dtype. */
async function outputs(kind: string, dtype: Dtype): Promise<number[][]> {
  if (kind === "reader") {
    const reader = await DPRReader.fromPretrained(`${MODELS}dpr-reader-tiny`, { dtype });
    const out = reader.forward({ inputIds: IDS });
    const values: number[][] = [];
    for (const t of [out.startLogits, out.endLogits, out.relevanceLogits]) {
      values.push([...await t.data()]);
    }
    tf.dispose([out.startLogits, out.endLogits, out.relevanceLogits]);
    reader.dispose();
    return values;
  }
  const model = kind === "question"
    ? await DPRQuestionEncoder.fromPretrained(`${MODELS}dpr-question_encoder-tiny`, { dtype })
    : await DPRContextEncoder.fromPretrained(`${MODELS}dpr-ctx_encoder-tiny`, { dtype });
  const { poolerOutput } = model.forward({ inputIds: IDS });
  const rows = await poolerOutput.array() as number[][];
  poolerOutput.dispose();
  model.dispose();
  return rows;
}

for (const backend of testBackends()) {
  Deno.test(`dtype int8 / float16 on ${backend}: outputs match float32 (cosine)`, async () => {
    await setBackend(backend);
    try {
      const before = tf.memory().numTensors;
      for (const kind of ["question", "context", "reader"]) {
        const plain = await outputs(kind, "float32");
        for (const dtype of ["int8", "float16"] as const) {
          const got = await outputs(kind, dtype);
          got.forEach((row, i) => {
            const c = cosine(row, plain[i]!);
            ok(c >= FLOOR[dtype], `${kind} ${dtype} output ${i}: cosine ${c}`);
          });
        }
      }
      equal(tf.memory().numTensors, before, "every tensor freed");
    } finally {
      await setBackend("cpu");
    }
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
