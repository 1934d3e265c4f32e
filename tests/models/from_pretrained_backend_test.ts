import { equal, rejects } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { setBackend } from "../../backend/set_backend.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";

const DIR = new URL("../fixtures/models/dpr-question_encoder-tiny", import.meta.url).pathname;

Deno.test("fromPretrained({ backend }) loads the weights onto that backend", async () => {
  await setBackend("cpu");
  const model = await DPRQuestionEncoder.fromPretrained(DIR, { backend: "wasm" });
  try {
    equal(tf.getBackend(), "wasm");
    const { poolerOutput } = model.forward({ inputIds: [[101, 7, 8, 102]] });
    equal(poolerOutput.shape[1], model.config.hiddenSize);
    poolerOutput.dispose();
  } finally {
    model.dispose();
    await setBackend("cpu");
  }
});

Deno.test("fromPretrained({ backend }) names a backend that cannot start", async () => {
  await rejects(
    DPRQuestionEncoder.fromPretrained(DIR, { backend: "node-gpu" }),
    /node-gpu/,
  );
  // @ts-expect-error: an unknown backend name is refused at run time too
  await rejects(DPRQuestionEncoder.fromPretrained(DIR, { backend: "tpu" }), RangeError);
});
