/**
 * The dtype checks shared by the in-process tests (cpu, wasm) and the webgpu child
 * (dtype_webgpu_test.ts): pooler outputs (and the reader's logits) of int8 / float16 models
 * against float32, by cosine.
 * @module
 */
import { equal, ok } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { type ConcreteBackendName, setBackend } from "../../backend/set_backend.ts";
import { DPRContextEncoder } from "../../models/dpr_context_encoder.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { heldQuantized } from "../../layers/held_weight.ts";

/** The fixture models' folder. */
export const MODELS: string = new URL("../fixtures/models/", import.meta.url).pathname;
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

/**
 * On `backend`: every fixture model's int8 and float16 outputs against its float32 ones
 * (cosine >= 0.999 and >= 0.99999), and every tensor freed.
 * @param backend the backend to run on
 */
export async function checkDtypesMatchFloat32(backend: ConcreteBackendName): Promise<void> {
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
}

/**
 * The device copies of a quantized model's weights: made by its first forward pass on a
 * device backend (one per weight), freed by `dispose()`.
 * @param backend a backend whose quantized kernel uploads the weights (webgpu)
 */
export async function checkDeviceCopiesFreed(backend: ConcreteBackendName): Promise<void> {
  await setBackend(backend);
  try {
    const model = await DPRQuestionEncoder.fromPretrained(`${MODELS}dpr-question_encoder-tiny`, {
      dtype: "int8",
    });
    const qkv = heldQuantized(model.encoder.layer[0]!.attention.self.qkvKernel)!.weight;
    equal(qkv.deviceCopies, 0, "nothing uploaded before a forward pass");
    for (let pass = 0; pass < 2; pass++) {
      const { poolerOutput } = model.forward({ inputIds: IDS });
      await poolerOutput.data();
      poolerOutput.dispose();
    }
    equal(qkv.deviceCopies, 1, "uploaded once");
    model.dispose();
    equal(qkv.deviceCopies, 0, "freed with the model");
  } finally {
    await setBackend("cpu");
  }
}
