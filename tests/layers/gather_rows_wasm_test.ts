import { deepEqual, equal, ok, throws } from "node:assert/strict";
import { setBackend } from "../../backend/set_backend.ts";
import { tf } from "../../backend/tf.ts";
import { gatherRows } from "../../layers/bert_base_layer.ts";
import { DPRConfig } from "../../models/config.ts";
import { DPRReader } from "../../models/dpr_reader.ts";

// On wasm, gatherRows copies rows out of wasm memory unless gradients are being recorded.
async function onWasm(fn: () => void): Promise<void> {
  await setBackend("wasm");
  try {
    fn();
  } finally {
    await setBackend("cpu");
  }
}

Deno.test("gatherRows on wasm equals tf.gather and rejects rows outside the table", async () => {
  await onWasm(() => {
    const table = tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    const fast = gatherRows(table, [2, 0, 2, 1]);
    const slow = tf.gather(table, [2, 0, 2, 1]);
    deepEqual(fast.shape, [4, 3]);
    deepEqual(fast.dataSync(), slow.dataSync());
    throws(() => gatherRows(table, [3]), {
      name: "RangeError",
      message: /row 3: the table has 3 rows/,
    });
    tf.dispose([table, fast, slow]);
  });
});

Deno.test("gatherRows on wasm copies rows inside wasm memory: outputs outlive the table", async () => {
  await onWasm(() => {
    const table = tf.tensor2d(Float32Array.from({ length: 512 * 6 }, (_, i) => i), [512, 6]);
    const rows = gatherRows(table, [0, 1, 511, 1]);
    const none = gatherRows(table, []);
    table.dispose();
    deepEqual(rows.shape, [4, 6]);
    deepEqual(
      [...rows.dataSync()],
      [0, 1, 511, 1].flatMap((r) => Array.from({ length: 6 }, (_, c) => r * 6 + c)),
    );
    deepEqual(none.shape, [0, 6]);
    equal(none.dataSync().length, 0);
    tf.dispose([rows, none]);
  });
});

Deno.test("on wasm, gradients reach every weight (per-head attention, one-hot gathers)", async () => {
  await onWasm(() => {
    const reader = new DPRReader(
      new DPRConfig({
        vocabSize: 20,
        hiddenSize: 8,
        numHiddenLayers: 1,
        numAttentionHeads: 2,
        intermediateSize: 8,
        maxPositionEmbeddings: 8,
      }),
      { seed: 2 },
    );
    try {
      const before = tf.memory().numTensors;
      const vars = reader.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => {
        const out = reader.forward({ inputIds: [[1, 4, 6, 0], [1, 9, 3, 2]] }, {
          training: true,
          seed: 5,
        });
        const spans = tf.add(tf.sum(tf.square(out.startLogits)), tf.sum(tf.square(out.endLogits)));
        return tf.add(spans, tf.sum(tf.square(out.relevanceLogits))) as tf.Scalar;
      }, vars);
      equal(Object.keys(grads).length, vars.length);
      for (const v of vars) {
        const size = tf.tidy(() => tf.max(tf.abs(grads[v.name]!)).dataSync()[0]!);
        ok(size > 0, `no gradient for ${v.name}`);
      }
      tf.dispose([value, ...Object.values(grads)]);
      equal(tf.memory().numTensors, before);
    } finally {
      reader.dispose();
    }
  });
});

Deno.test("a model built on cpu gives the same outputs after switching to wasm", async () => {
  await setBackend("cpu");
  const reader = new DPRReader(
    new DPRConfig({
      vocabSize: 20,
      hiddenSize: 8,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
      intermediateSize: 8,
      maxPositionEmbeddings: 8,
    }),
    { seed: 3 },
  );
  const ids = [[1, 4, 6, 0], [1, 9, 3, 2]];
  try {
    const onCpu = reader.forward({ inputIds: ids });
    const expected = Array.from(onCpu.startLogits.dataSync());
    tf.dispose([onCpu.startLogits, onCpu.endLogits, onCpu.relevanceLogits]);
    await setBackend("wasm");
    for (let run = 0; run < 2; run++) {
      // First run: weights still on cpu (moved by tf.gather); second: read from wasm memory.
      const out = reader.forward({ inputIds: ids });
      const got = out.startLogits.dataSync();
      expected.forEach((v, i) => ok(Math.abs(v - got[i]!) < 1e-5, `run ${run} index ${i}`));
      tf.dispose([out.startLogits, out.endLogits, out.relevanceLogits]);
    }
  } finally {
    reader.dispose();
    await setBackend("cpu");
  }
});
