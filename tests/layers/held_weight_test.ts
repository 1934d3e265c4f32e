// Layers hold the dense kernels the active backend packs (here the cpu backend with a packer that
// keeps kernels transposed, transposed_weight.ts): the variable then holds a placeholder, reading
// the weight back gives it bit for bit, and it goes back into its variable plain when the backend
// stops reading it, when a tfjs LayersModel shares it, or when new values are written.
import assert from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { unregisterWeightPacker } from "../../backend/ops/packed_weight.ts";
import { BertIntermediate } from "../../layers/bert_intermediate.ts";
import {
  disposeWeights,
  heldPacked,
  keepPlain,
  plainWeight,
  readDense,
  writePlain,
} from "../../layers/held_weight.ts";
import { useTransposedPacker } from "../backend/ops/transposed_weight.ts";

function layer(): BertIntermediate {
  const built = new BertIntermediate({
    hiddenSize: 3,
    intermediateSize: 4,
    hiddenAct: "gelu",
    seed: 5,
  });
  built.build([null, null, 3]);
  return built;
}

const values = (t: tf.Tensor): number[] => [...t.dataSync()];

Deno.test("a layer holds its kernel packed from its first product the packer takes", async () => {
  await tf.setBackend("cpu");
  const dense = layer();
  const before = values(dense.denseKernel.read());
  const x = tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [4, 3]);
  const want = dense.forward(x);
  const made = useTransposedPacker(4);
  try {
    const small = dense.forward(tf.slice(x, [0, 0], [2, 3]) as tf.Tensor2D);
    assert.equal(heldPacked(dense.denseKernel), undefined); // 2 rows: kept plain
    small.dispose();
    const got = dense.forward(x);
    assert.deepEqual(values(got), values(want));
    assert.equal(made.length, 1);
    assert.equal(heldPacked(dense.denseKernel), made[0]);
    assert.equal(dense.denseKernel.read().dataSync().length, 1); // a placeholder: no second copy
    assert.deepEqual(tf.tidy(() => values(plainWeight(dense.denseKernel))), before);
    // Packed once: the next products read the same packed weight.
    dense.forward(x).dispose();
    assert.equal(made.length, 1);
    // The backend stops reading it: the layer puts the plain matrix back into the variable.
    made[0]!.revoke();
    assert.equal(readDense(dense.denseKernel), dense.denseKernel.read());
    assert.equal(heldPacked(dense.denseKernel), undefined);
    assert.deepEqual(values(dense.denseKernel.read()), before);
    assert.equal(made[0]!.active, false);
    got.dispose();
  } finally {
    unregisterWeightPacker("cpu");
    want.dispose();
    x.dispose();
    disposeWeights(dense.weights);
  }
});

Deno.test("keepPlain, writePlain and disposeWeights drop a packed kernel", async () => {
  await tf.setBackend("cpu");
  const made = useTransposedPacker(1);
  const dense = layer();
  try {
    const before = values(dense.denseKernel.read());
    const x = tf.ones([2, 3]) as tf.Tensor2D;
    dense.forward(x).dispose();
    assert.ok(heldPacked(dense.denseKernel) !== undefined);
    keepPlain(dense.denseKernel);
    assert.equal(heldPacked(dense.denseKernel), undefined);
    assert.deepEqual(values(dense.denseKernel.read()), before);
    dense.forward(x).dispose();
    assert.equal(heldPacked(dense.denseKernel), undefined); // kept plain from now on
    assert.equal(made.length, 1);

    const other = layer();
    other.forward(x).dispose();
    assert.equal(made.length, 2);
    const fresh = tf.zeros([3, 4]);
    writePlain(other.denseKernel, fresh);
    assert.equal(heldPacked(other.denseKernel), undefined);
    assert.deepEqual(values(other.denseKernel.read()), new Array(12).fill(0));
    other.forward(x).dispose();
    const again = heldPacked(other.denseKernel)!;
    disposeWeights([other.denseKernel]);
    assert.equal(again.active, false);
    assert.equal(heldPacked(other.denseKernel), undefined);
    fresh.dispose();
    x.dispose();
  } finally {
    unregisterWeightPacker("cpu");
    disposeWeights(dense.weights);
  }
});
