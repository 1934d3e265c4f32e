import assert from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { setBackend } from "../../backend/set_backend.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRContextEncoder } from "../../models/dpr_context_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { testBackends } from "../backend/backends.ts";

const FIXTURES = new URL("../fixtures/models/", import.meta.url).pathname;
const inputs = {
  inputIds: [[101, 1054, 1003, 996, 1007, 102], [101, 592, 102, 0, 0, 0]],
  attentionMask: [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]],
};

for (const backend of testBackends()) {
  Deno.test(`forwardAsync on ${backend}: forward's pooled output, a pause before each layer, no tensor left`, async () => {
    await setBackend(backend);
    for (
      const [cls, name] of [
        [DPRQuestionEncoder, "dpr-question_encoder-tiny"],
        [DPRContextEncoder, "dpr-ctx_encoder-tiny"],
      ] as const
    ) {
      const model = await cls.fromPretrained(`${FIXTURES}${name}`);
      try {
        const expected = model.forward(inputs).poolerOutput;
        const before = tf.memory().numTensors;
        let pauses = 0;
        // Other work runs during the pauses: a timer set now fires before the pass ends.
        let timerRan = false;
        setTimeout(() => timerRan = true, 0);
        const { poolerOutput } = await model.forwardAsync(inputs, async () => {
          pauses++;
          await new Promise((resolve) => setTimeout(resolve, 0));
        });
        assert.equal(pauses, 2 * model.config.numHiddenLayers, "before attention and feed-forward");
        assert.ok(timerRan, "the event loop turned during the pass");
        assert.deepEqual(poolerOutput.shape, expected.shape);
        assert.deepEqual(Array.from(await poolerOutput.data()), Array.from(await expected.data()));
        poolerOutput.dispose();
        assert.equal(tf.memory().numTensors, before, "every intermediate tensor is freed");
        expected.dispose();
      } finally {
        model.dispose();
      }
    }
    const reader = await DPRReader.fromPretrained(`${FIXTURES}dpr-reader-tiny`);
    try {
      const expected = reader.forward(inputs);
      const before = tf.memory().numTensors;
      let pauses = 0;
      const out = await reader.forwardAsync(inputs, () => {
        pauses++;
        return new Promise((resolve) => setTimeout(resolve, 0));
      });
      assert.equal(pauses, 2 * reader.config.numHiddenLayers);
      for (const key of ["startLogits", "endLogits", "relevanceLogits"] as const) {
        assert.deepEqual(Array.from(await out[key].data()), Array.from(await expected[key].data()));
      }
      tf.dispose([out.startLogits, out.endLogits, out.relevanceLogits]);
      assert.equal(tf.memory().numTensors, before, "every intermediate tensor is freed");
      tf.dispose([expected.startLogits, expected.endLogits, expected.relevanceLogits]);
    } finally {
      reader.dispose();
    }
    await setBackend("cpu");
  });
}

Deno.test("forwardAsync: a batch over the step budget runs in more steps, to the same values", async () => {
  await setBackend("cpu");
  const close = (got: Float32Array, want: Float32Array) => {
    assert.equal(got.length, want.length);
    for (let i = 0; i < want.length; i++) {
      assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5, `value ${i}: ${got[i]} vs ${want[i]}`);
    }
  };
  const count = () => {
    const counter = {
      pauses: 0,
      pause: () => {
        counter.pauses++;
        return Promise.resolve();
      },
    };
    return counter;
  };
  const model = await DPRQuestionEncoder.fromPretrained(`${FIXTURES}dpr-question_encoder-tiny`);
  const reader = await DPRReader.fromPretrained(`${FIXTURES}dpr-reader-tiny`);
  try {
    const layers = model.config.numHiddenLayers;
    const before = tf.memory().numTensors;
    const whole = count();
    const expected = await model.forwardAsync(inputs, whole.pause);
    assert.equal(whole.pauses, 2 * layers, "the default budget keeps this small batch whole");
    // A budget of one multiply-add: each sequence's attention and each row's feed-forward part
    // is a step of its own (the last layer's feed-forward part runs on the 2 [CLS] rows).
    const split = count();
    const { poolerOutput } = await model.forwardAsync(inputs, split.pause, {
      stepMultiplyAdds: 1,
    });
    const rows = inputs.inputIds.length * inputs.inputIds[0]!.length;
    assert.equal(split.pauses, layers * 2 + layers * 1 + (layers - 1) * (rows - 1) + 1);
    close(
      await poolerOutput.data() as Float32Array,
      await expected.poolerOutput.data() as Float32Array,
    );
    tf.dispose([poolerOutput, expected.poolerOutput]);
    assert.equal(tf.memory().numTensors, before, "every step's tensors are freed");

    const wanted = reader.forward(inputs);
    const steps = count();
    const out = await reader.forwardAsync(inputs, steps.pause, { stepMultiplyAdds: 1 });
    assert.ok(steps.pauses > 2 * reader.config.numHiddenLayers);
    for (const key of ["startLogits", "endLogits", "relevanceLogits"] as const) {
      close(await out[key].data() as Float32Array, await wanted[key].data() as Float32Array);
    }
    tf.dispose([out.startLogits, out.endLogits, out.relevanceLogits]);
    tf.dispose([wanted.startLogits, wanted.endLogits, wanted.relevanceLogits]);
    await assert.rejects(
      model.forwardAsync(inputs, undefined, { stepMultiplyAdds: 0 }),
      /stepMultiplyAdds must be positive: received 0/,
    );
    assert.equal(tf.memory().numTensors, before, "nothing is left");
  } finally {
    model.dispose();
    reader.dispose();
  }
});

Deno.test("forwardAsync: a model disposed during a pause is refused, and nothing is left", async () => {
  await setBackend("cpu");
  const before = tf.memory().numTensors;
  const model = await DPRQuestionEncoder.fromPretrained(`${FIXTURES}dpr-question_encoder-tiny`);
  let disposed = false;
  await assert.rejects(() =>
    model.forwardAsync(inputs, async () => {
      if (!disposed) {
        disposed = true;
        model.dispose();
        await Promise.resolve();
      }
    })
  );
  assert.equal(tf.memory().numTensors, before, "the weights and the pass's tensors are all freed");
});
