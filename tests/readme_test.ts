// The README's examples, run against the tiny fixture checkpoints instead of the facebook ones.
import { deepEqual, equal, ok } from "node:assert/strict";
import {
  DPRContextEncoder,
  DPRContextEncoderTokenizer,
  loadDenseEncoder,
  mergeShards,
  OpenDomainQA,
  runEncodeJob,
  setBackend,
  tf,
} from "../mod.ts";

const MODELS = new URL("./fixtures/models/", import.meta.url).pathname;

Deno.test("README: strings in, vectors out, with using", async () => {
  await setBackend("cpu");
  const before = tf.memory().numTensors;
  {
    using passages = await loadDenseEncoder("context", { models: MODELS });
    const vectors = await passages.encodePassages([
      { title: "Deno", text: "Deno is a runtime." },
      { title: "Paris", text: "Paris is in France." },
    ]);
    equal(vectors.length, 2);
    ok(vectors.every((v) => v instanceof Float32Array && v.length === passages.dim));
    using questions = await loadDenseEncoder("question", { models: MODELS });
    const [question] = await questions.encodeQuestions(["where is paris?"]);
    equal(question!.length, questions.dim);
  }
  equal(tf.memory().numTensors, before, "using freed both encoders");
});

Deno.test("README: encode passages with a context encoder", async () => {
  await setBackend("cpu");
  const model = `${MODELS}dpr-ctx_encoder-tiny`;
  const before = tf.memory().numTensors;
  {
    const tokenizer = await DPRContextEncoderTokenizer.fromPretrained(model);
    using encoder = await DPRContextEncoder.fromPretrained(model);
    const batch = tokenizer.encode(["Deno is a runtime.", "Paris is in France."], {
      padding: true,
      returnTensors: "tf",
    });
    const { poolerOutput } = encoder.forward(batch);
    deepEqual(poolerOutput.shape, [2, encoder.config.hiddenSize]);
    const rows = await poolerOutput.array() as number[][];
    ok(rows.every((r) => r.every(Number.isFinite)));
    tf.dispose([poolerOutput, batch.inputIds, batch.attentionMask!, batch.tokenTypeIds!]);
  }
  equal(tf.memory().numTensors, before, "the example leaves no tensor behind");
});

Deno.test("README: index passages, then answer questions with exact passage ranges", async () => {
  await setBackend("cpu");
  const dir = await Deno.makeTempDir();
  try {
    const passages = `${dir}/passages.tsv`;
    await Deno.writeTextFile(
      passages,
      "id\ttext\ttitle\n1\tThe telephone was patented in 1876 by a teacher.\tTelephone\n" +
        "2\tPenicillin was found in a mould on a dish left open.\tPenicillin\n",
    );
    const encoder = await loadDenseEncoder("context", { models: MODELS });
    await runEncodeJob({ passages, outDir: `${dir}/index`, encoder, progress: false });
    encoder.dispose();
    await mergeShards(`${dir}/index`);
    const tensorsBefore = tf.memory().numTensors;
    {
      await using qa = await OpenDomainQA.fromPretrained({ index: `${dir}/index`, models: MODELS });
      const answers = await qa.answer("who invented the telephone?", { topK: 2 });
      ok(answers.length > 0);
      for (const a of answers) {
        ok(["1", "2"].includes(a.passageId));
        equal(a.passageText.slice(a.start!, a.end!), a.text);
      }
    }
    equal(tf.memory().numTensors, tensorsBefore, "await using frees every model weight");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
