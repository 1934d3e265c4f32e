import { deepEqual, equal, notDeepEqual, ok, rejects, throws } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { readSafetensors } from "../../io/safetensors.ts";
import { DPRConfig } from "../../models/config.ts";
import { DPRContextEncoder } from "../../models/dpr_context_encoder.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { FIXTURES } from "./golden_helpers.ts";

/** A small config that is not the fixtures' (projection, another activation, 3 token types). */
const SMALL = new DPRConfig({
  vocabSize: 40,
  hiddenSize: 16,
  numHiddenLayers: 2,
  numAttentionHeads: 4,
  intermediateSize: 24,
  hiddenAct: "gelu_new",
  maxPositionEmbeddings: 12,
  typeVocabSize: 3,
  projectionDim: 8,
  padTokenId: 0,
});

const IDS = [[2, 5, 9, 7, 0, 0], [3, 4, 1, 8, 6, 11]];

function values(t: tf.Tensor): number[] {
  return Array.from(t.dataSync());
}

Deno.test("random init is seeded: same seed same weights, other seed other weights", () => {
  const a = new DPRQuestionEncoder(SMALL, { seed: 7 });
  const b = new DPRQuestionEncoder(SMALL, { seed: 7 });
  const c = new DPRQuestionEncoder(SMALL, { seed: 8 });
  try {
    const sa = a.stateDict();
    const sb = b.stateDict();
    const sc = c.stateDict();
    const key = "question_encoder.bert_model.encoder.layer.1.attention.self.key.weight";
    deepEqual(sa.get(key)!.data, sb.get(key)!.data);
    notDeepEqual(sa.get(key)!.data, sc.get(key)!.data);
    // Different matrices of one model are different draws.
    const q = "question_encoder.bert_model.encoder.layer.1.attention.self.query.weight";
    notDeepEqual(sa.get(q)!.data, sa.get(key)!.data);
    // LayerNorm gains are ones, biases zeros, matrices normal(0, initializerRange).
    const ln = sa.get("question_encoder.bert_model.embeddings.LayerNorm.weight")!.data;
    ok(ln.every((v) => v === 1));
    ok(sa.get("question_encoder.encode_proj.bias")!.data.every((v) => v === 0));
    const words = sa.get("question_encoder.bert_model.embeddings.word_embeddings.weight")!.data;
    const std = Math.sqrt(words.reduce((s, v) => s + v * v, 0) / words.length);
    ok(Math.abs(std - 0.02) < 0.003, `std ${std}`);
  } finally {
    a.dispose();
    b.dispose();
    c.dispose();
  }
});

Deno.test("stateDict reproduces the fixture checkpoint exactly (names, layout, fused qkv)", async () => {
  for (const name of ["dpr-question_encoder-tiny", "dpr-ctx_encoder-tiny", "dpr-reader-tiny"]) {
    const dir = `${FIXTURES}models/${name}`;
    const file = readSafetensors(await Deno.readFile(`${dir}/model.safetensors`));
    const model = name.includes("reader")
      ? await DPRReader.fromPretrained(dir)
      : name.includes("ctx")
      ? await DPRContextEncoder.fromPretrained(dir)
      : await DPRQuestionEncoder.fromPretrained(dir);
    try {
      const mine = model.stateDict();
      deepEqual([...mine.keys()].sort(), [...file.keys()].sort());
      for (const [key, raw] of file) {
        deepEqual(mine.get(key)!.shape, raw.shape, key);
        deepEqual(mine.get(key)!.data, raw.data, key);
      }
    } finally {
      model.dispose();
    }
  }
});

Deno.test("non-default config: projection, gelu_new, 3 token types; state dict round trip", () => {
  const a = new DPRContextEncoder(SMALL, { seed: 1 });
  const b = new DPRContextEncoder(SMALL, { seed: 2 });
  try {
    const sd = a.stateDict();
    deepEqual(sd.get("ctx_encoder.encode_proj.weight")!.shape, [8, 16]);
    deepEqual(sd.get("ctx_encoder.bert_model.embeddings.token_type_embeddings.weight")!.shape, [
      3,
      16,
    ]);
    const inputs = { inputIds: IDS, tokenTypeIds: [[0, 1, 2, 2, 0, 0], [0, 0, 1, 1, 2, 2]] };
    const outA = a.forward(inputs);
    const before = b.forward(inputs);
    deepEqual(outA.poolerOutput.shape, [2, 8]);
    notDeepEqual(values(before.poolerOutput), values(outA.poolerOutput));
    b.loadStateDict(sd);
    const after = b.forward(inputs);
    deepEqual(values(after.poolerOutput), values(outA.poolerOutput));
    tf.dispose([outA.poolerOutput, before.poolerOutput, after.poolerOutput]);
  } finally {
    a.dispose();
    b.dispose();
  }
});

Deno.test("tensor inputs give the same result as arrays; encoders mask padding by default", () => {
  const model = new DPRQuestionEncoder(SMALL, { seed: 3 });
  try {
    const fromArrays = model.forward({ inputIds: IDS });
    const ids = tf.tensor2d(IDS, undefined, "int32");
    const mask = tf.tensor2d(IDS.map((r) => r.map((v) => (v === 0 ? 0 : 1))), undefined, "int32");
    const fromTensors = model.forward({ inputIds: ids, attentionMask: mask });
    const unmasked = model.forward({
      inputIds: IDS,
      attentionMask: [[1, 1, 1, 1, 1, 1], [
        1,
        1,
        1,
        1,
        1,
        1,
      ]],
    });
    deepEqual(values(fromTensors.poolerOutput), values(fromArrays.poolerOutput));
    notDeepEqual(values(unmasked.poolerOutput), values(fromArrays.poolerOutput));
    tf.dispose([ids, mask, fromArrays.poolerOutput, fromTensors.poolerOutput]);
    tf.dispose(unmasked.poolerOutput);
  } finally {
    model.dispose();
  }
});

Deno.test("bad inputs: clear errors before any tensor is made", () => {
  const model = new DPRQuestionEncoder(SMALL, { seed: 0 });
  const reader = new DPRReader(new DPRConfig({ ...SMALL, projectionDim: 0, extra: {} }));
  try {
    const before = tf.memory().numTensors;
    const cases: [() => unknown, RegExp, string][] = [
      [() => model.forward({}), /exactly one of inputIds and inputsEmbeds: received neither/, "T"],
      [
        () => model.forward({ inputIds: [[1]], inputsEmbeds: [[[...Array(16).fill(0)]]] }),
        /received both/,
        "T",
      ],
      [
        () => model.forward({ inputIds: [[1, 40]] }),
        /inputIds must be token ids in \[0, 40\)/,
        "R",
      ],
      [() => model.forward({ inputIds: [[1, -1]] }), /received -1/, "R"],
      [() => model.forward({ inputIds: [[1, 2.5]] }), /must hold integers: received 2.5/, "T"],
      [
        () => model.forward({ inputIds: [Array(13).fill(1)] }),
        /at most maxPositionEmbeddings 12: received 13/,
        "R",
      ],
      [
        () => model.forward({ inputIds: [[1, 2]], tokenTypeIds: [[0, 3]] }),
        /tokenTypeIds must be in \[0, 3\) \(typeVocabSize\): received 3/,
        "R",
      ],
      [
        () => model.forward({ inputIds: [[1, 2]], attentionMask: [[1, 1, 1]] }),
        /attentionMask must have the shape of inputIds \[1,2\]: received \[1,3\]/,
        "T",
      ],
      [
        () => model.forward({ inputIds: [[1, 2]], tokenTypeIds: [[0], [0]] }),
        /tokenTypeIds must have the shape/,
        "T",
      ],
      [
        () => model.forward({ inputIds: [[1, 2]], attentionMask: [[1, 2]] }),
        /only 0 and 1: received 2/,
        "R",
      ],
      [() => model.forward({ inputIds: [[1, 2], [3]] }), /must be rectangular/, "T"],
      [
        () => model.forward({ inputIds: [1, 2] as unknown as number[][] }),
        /inputIds must be a 2-D array/,
        "T",
      ],
      [() => model.forward({ inputIds: [[]] }), /at least 1: received \[1, 0\]/, "R"],
      [
        () => model.forward({ inputsEmbeds: [[[1, 2, 3]]] }),
        /inputsEmbeds must be \[batch, seq, 16\]/,
        "T",
      ],
      [
        () => reader.forward({ inputIds: [[1, 2]], tokenTypeIds: [[0, 0]] } as never),
        /DPRReader: it takes no tokenTypeIds/,
        "T",
      ],
    ];
    for (const [fn, message, kind] of cases) {
      throws(fn, { name: kind === "T" ? "TypeError" : "RangeError", message });
    }
    equal(tf.memory().numTensors, before, "no tensor was created by a rejected call");
    const wrongRank = tf.zeros([2, 3, 4], "int32");
    throws(() => model.forward({ inputIds: wrongRank }), /2-D \[batch, seq\]: received shape/);
    wrongRank.dispose();
  } finally {
    model.dispose();
    reader.dispose();
  }
});

Deno.test("training applies dropout, seeded and reproducible; eval is deterministic", () => {
  const model = new DPRQuestionEncoder(SMALL, { seed: 4 });
  try {
    const run = (opts: { training?: boolean; seed?: number }): number[] => {
      const out = model.forward({ inputIds: IDS }, opts);
      const v = values(out.poolerOutput);
      out.poolerOutput.dispose();
      return v;
    };
    const eval1 = run({});
    deepEqual(run({}), eval1);
    const train1 = run({ training: true, seed: 11 });
    notDeepEqual(train1, eval1);
    deepEqual(run({ training: true, seed: 11 }), train1);
    notDeepEqual(run({ training: true, seed: 12 }), train1);
    notDeepEqual(run({ training: true }), eval1);
  } finally {
    model.dispose();
  }
});

Deno.test("gradients reach every weight (encoder with projection, reader)", () => {
  const encoder = new DPRQuestionEncoder(SMALL, { seed: 5 });
  const reader = new DPRReader(new DPRConfig({ ...SMALL, projectionDim: 0, extra: {} }), {
    seed: 6,
  });
  try {
    const before = tf.memory().numTensors;
    const direction = tf.randomNormal([2, 8], 0, 1, "float32", 3);
    const encVars = encoder.trainableWeights.map((w) => w.read() as tf.Variable);
    const enc = tf.variableGrads(() => {
      const out = encoder.forward({
        inputIds: IDS,
        tokenTypeIds: [[0, 1, 2, 0, 0, 0], [
          2,
          2,
          1,
          1,
          0,
          0,
        ]],
      }, { training: true, seed: 1 });
      // A random direction: a plain sum would be blind to weights before a LayerNorm.
      return tf.sum(tf.mul(out.poolerOutput, direction)) as tf.Scalar;
    }, encVars);
    equal(Object.keys(enc.grads).length, encVars.length);
    for (const v of encVars) {
      const size = tf.tidy(() => tf.max(tf.abs(enc.grads[v.name]!)).dataSync()[0]!);
      ok(size > 0, `no gradient for ${v.name}`);
    }
    tf.dispose([enc.value, direction, ...Object.values(enc.grads)]);
    const readVars = reader.trainableWeights.map((w) => w.read() as tf.Variable);
    const rd = tf.variableGrads(() => {
      const out = reader.forward({ inputIds: IDS });
      const w = tf.range(1, 7); // position weights: a plain sum of softmax-free logits is fine too
      const spans = tf.add(tf.sum(tf.mul(out.startLogits, w)), tf.sum(tf.square(out.endLogits)));
      return tf.add(spans, tf.sum(out.relevanceLogits)) as tf.Scalar;
    }, readVars);
    equal(Object.keys(rd.grads).length, readVars.length);
    for (const v of readVars) {
      const size = tf.tidy(() => tf.max(tf.abs(rd.grads[v.name]!)).dataSync()[0]!);
      ok(size > 0, `no gradient for ${v.name}`);
    }
    tf.dispose([rd.value, ...Object.values(rd.grads)]);
    equal(tf.memory().numTensors, before, "gradient computation leaked tensors");
  } finally {
    encoder.dispose();
    reader.dispose();
  }
});

Deno.test("no tensor leaks: forward with every output, training, and after dispose", () => {
  const model = new DPRContextEncoder(SMALL, { seed: 9 });
  const before = tf.memory().numTensors;
  const embeds = tf.randomNormal([2, 6, 16]);
  for (const training of [false, true]) {
    const out = model.forward({
      inputsEmbeds: embeds,
      attentionMask: [[1, 1, 1, 0, 0, 0], [
        1,
        1,
        1,
        1,
        1,
        1,
      ]],
    }, { outputHiddenStates: true, outputAttentions: true, training });
    equal(out.hiddenStates!.length, 3);
    equal(out.attentions!.length, 2);
    deepEqual(out.attentions![0]!.shape, [2, 4, 6, 6]);
    tf.dispose(out as unknown as tf.TensorContainer);
  }
  embeds.dispose();
  equal(tf.memory().numTensors, before);
  const weights = model.weights.length;
  ok(weights > 0);
  model.dispose();
  equal(tf.memory().numTensors, before - weights, "dispose frees every weight");
  throws(() => model.forward({ inputIds: [[1]] }), /it was disposed/);
});

Deno.test("loadStateDict lists every missing, unexpected and misshaped key; writes nothing", () => {
  const model = new DPRQuestionEncoder(SMALL, { seed: 1 });
  const other = new DPRQuestionEncoder(SMALL, { seed: 2 });
  try {
    const first = model.forward({ inputIds: IDS });
    const reference = values(first.poolerOutput);
    first.poolerOutput.dispose();
    const sd = other.stateDict();
    sd.delete("question_encoder.encode_proj.bias");
    sd.set("question_encoder.bert_model.extra.weight", { shape: [1], data: new Float32Array(1) });
    sd.set("question_encoder.bert_model.encoder.layer.0.intermediate.dense.weight", {
      shape: [16, 24],
      data: new Float32Array(16 * 24),
    });
    // Ignorable keys are skipped.
    sd.set("question_encoder.bert_model.embeddings.position_ids", {
      shape: [1, 12],
      data: new Float32Array(12),
    });
    sd.set("question_encoder.bert_model.pooler.dense.weight", {
      shape: [16, 16],
      data: new Float32Array(256),
    });
    throws(() => model.loadStateDict(sd), (error: Error) => {
      ok(error instanceof TypeError);
      ok(error.message.includes("missing keys: question_encoder.encode_proj.bias"));
      ok(error.message.includes("unexpected keys: question_encoder.bert_model.extra.weight"));
      ok(error.message.includes("layer.0.intermediate.dense.weight (expected [24,16]"));
      ok(!error.message.includes("position_ids") && !error.message.includes("pooler"));
      return true;
    });
    const out = model.forward({ inputIds: IDS });
    deepEqual(values(out.poolerOutput), reference, "a failed load wrote nothing");
    out.poolerOutput.dispose();
    // Context encoder names are not question encoder names.
    const ctx = new DPRContextEncoder(SMALL);
    throws(() => model.loadStateDict(ctx.stateDict()), /missing keys: question_encoder\./);
    ctx.dispose();
  } finally {
    model.dispose();
    other.dispose();
  }
});

Deno.test("fromPretrained checks config.json's architectures (transformers issue 9725)", async () => {
  await rejects(
    DPRQuestionEncoder.fromPretrained(`${FIXTURES}models/dpr-ctx_encoder-tiny`),
    {
      name: "TypeError",
      message:
        /Cannot load DPRQuestionEncoder .*DPRContextEncoder checkpoint, not a DPRQuestionEncoder/,
    },
  );
  await rejects(DPRReader.fromPretrained(`${FIXTURES}models/dpr-question_encoder-tiny`), {
    message: /not a DPRReader/,
  });
  await rejects(
    DPRContextEncoder.fromPretrained(`${FIXTURES}models/no-such-model`),
    /Cannot resolve .*no-such-model/,
  );
});

Deno.test("the reader rejects a projectionDim its heads cannot read", () => {
  throws(() => new DPRReader(SMALL), {
    name: "RangeError",
    message: /projectionDim must be 0 or hiddenSize 16.*received 8/,
  });
});
