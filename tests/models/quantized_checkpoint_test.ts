/**
 * A quantized model saved quantized (`keepDtype`) reloads quantized, bit for bit; files with a
 * missing or inconsistent scale tensor are refused by its name.
 */
import { deepEqual, equal, rejects } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { setBackend } from "../../backend/set_backend.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { heldQuantized } from "../../layers/held_weight.ts";
import { readSafetensors } from "../../io/safetensors.ts";
import { type EncodedTensor, writeSafetensors } from "../../io/safetensors_write.ts";
import type { RawTensor } from "../../io/state_dict.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;
const QUESTION = `${MODELS}dpr-question_encoder-tiny`;

Deno.test("keepDtype: int8 and float16 models reload quantized to the same values, bit for bit", async () => {
  await setBackend("cpu");
  const dir = await Deno.makeTempDir();
  try {
    for (const dtype of ["int8", "float16"] as const) {
      const model = await DPRQuestionEncoder.fromPretrained(QUESTION, { dtype });
      await model.savePretrained(`${dir}/${dtype}`, { keepDtype: true });
      const again = await DPRQuestionEncoder.fromPretrained(`${dir}/${dtype}`); // no dtype given
      const plain = await DPRQuestionEncoder.fromPretrained(`${dir}/${dtype}`, {
        dtype: "float32",
      });
      try {
        const pairs = [
          [
            model.encoder.layer[1]!.attention.self.qkvKernel,
            again.encoder.layer[1]!.attention.self.qkvKernel,
          ],
          [model.embeddings.wordEmbeddings, again.embeddings.wordEmbeddings],
        ] as const;
        for (const [a, b] of pairs) {
          const x = heldQuantized(a)!.weight, y = heldQuantized(b)!.weight;
          equal(y.layout, dtype);
          deepEqual(y.data, x.data);
          deepEqual(y.scales, x.scales);
        }
        // float32 on request: the dequantized values, as stateDict gives them
        const want = model.stateDict(), got = plain.stateDict();
        for (const [key, tensor] of want) deepEqual(got.get(key)!.data, tensor.data, key);
        const ids = { inputIds: [[101, 7, 8, 102]] };
        const [p, q] = [model.forward(ids).poolerOutput, again.forward(ids).poolerOutput];
        deepEqual(await q.data(), await p.data());
        tf.dispose([p, q]);
      } finally {
        model.dispose();
        again.dispose();
        plain.dispose();
      }
    }
    // the reader too; a file saved without keepDtype is float32
    const reader = await DPRReader.fromPretrained(`${MODELS}dpr-reader-tiny`, { dtype: "int8" });
    await reader.savePretrained(`${dir}/reader`, { keepDtype: true });
    await reader.savePretrained(`${dir}/reader-plain`);
    const back = await DPRReader.fromPretrained(`${dir}/reader`);
    const plainBack = await DPRReader.fromPretrained(`${dir}/reader-plain`);
    const kernel = (r: DPRReader) => r.encoder.encoder.layer[0]!.outputLayer.denseKernel;
    deepEqual(heldQuantized(kernel(back))!.weight.data, heldQuantized(kernel(reader))!.weight.data);
    equal(heldQuantized(kernel(plainBack)), undefined);
    tf.dispose([]);
    reader.dispose();
    back.dispose();
    plainBack.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a quantized file with a missing or inconsistent scale tensor is refused by name", async () => {
  await setBackend("cpu");
  const dir = await Deno.makeTempDir();
  try {
    const model = await DPRQuestionEncoder.fromPretrained(QUESTION, { dtype: "int8" });
    await model.savePretrained(`${dir}/ok`, { keepDtype: true });
    model.dispose();
    const bytes = await Deno.readFile(`${dir}/ok/model.safetensors`);
    const config = await Deno.readTextFile(`${dir}/ok/config.json`);
    const key = "question_encoder.bert_model.encoder.layer.0.intermediate.dense.weight";
    // Rewrite the file without one scale, then with a scale of the wrong length.
    const { tensors, metadata } = rawTensors(bytes);
    for (
      const [label, change, message] of [
        [
          "missing",
          (t: Map<string, Entry>) => t.delete(`${key}_scale`),
          /dense\.weight_scale is missing/,
        ],
        [
          "short",
          (t: Map<string, Entry>) =>
            t.set(`${key}_scale`, { shape: [3], data: new Float32Array(3) }),
          /scale tensor .*dense\.weight_scale must be F32 \[37\].*\[3\]/,
        ],
      ] as const
    ) {
      const copy = new Map(tensors);
      change(copy);
      await Deno.mkdir(`${dir}/${label}`);
      await Deno.writeTextFile(`${dir}/${label}/config.json`, config);
      await Deno.writeFile(
        `${dir}/${label}/model.safetensors`,
        writeSafetensors(copy as unknown as Map<string, RawTensor | EncodedTensor>, { metadata }),
      );
      const before = tf.memory().numTensors;
      await rejects(DPRQuestionEncoder.fromPretrained(`${dir}/${label}`), message);
      equal(tf.memory().numTensors, before, "nothing half-loaded stays");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

type Entry = {
  shape: number[];
  data: Float32Array | Int8Array | Uint16Array;
  dtype?: "I8" | "F16";
};

/** The tensors of a safetensors file as the writer takes them (I8 / F16 kept). */
function rawTensors(
  bytes: Uint8Array,
): { tensors: Map<string, Entry>; metadata: Record<string, string> } {
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
  const start = 8 + n;
  const tensors = new Map<string, Entry>();
  const floats = readSafetensors(bytes);
  for (const [name, info] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const { dtype, shape, data_offsets: [a, b] } = info as {
      dtype: string;
      shape: number[];
      data_offsets: [number, number];
    };
    const slice = bytes.slice(start + a, start + b);
    if (dtype === "I8") {
      tensors.set(name, { shape, data: new Int8Array(slice.buffer), dtype: "I8" });
    } else if (dtype === "F16") {
      tensors.set(name, { shape, data: new Uint16Array(slice.buffer), dtype: "F16" });
    } else tensors.set(name, { shape, data: floats.get(name)!.data });
  }
  return { tensors, metadata: header.__metadata__ };
}
