// The packed-weight concept on the cpu backend, with a packer that keeps a kernel transposed
// (transposed_weight.ts): the linear ops read it through its plain matrix, gradients never see
// it, and only the active backend's packer is asked.
import assert from "node:assert/strict";
import { tf } from "../../../backend/tf.ts";
import {
  packWeight,
  readsPacked,
  unregisterWeightPacker,
} from "../../../backend/ops/packed_weight.ts";
import { useTransposedPacker } from "./transposed_weight.ts";
import { linear, linearGeluErf, linearLayerNorm } from "../../../backend/ops/fused_ops.ts";
import { seeded } from "../../seeded.ts";

Deno.test("packWeight asks the active backend's packer, for float32 [in, out] kernels only", async () => {
  await tf.setBackend("cpu");
  const kernel = tf.tensor2d(seeded(12, 1), [3, 4]);
  try {
    assert.equal(packWeight(kernel, 8), undefined); // no packer
    useTransposedPacker(4);
    assert.equal(packWeight(kernel, 2), undefined); // too few rows for this packer
    const packed = packWeight(kernel, 8)!;
    assert.deepEqual(packed.shape, [3, 4]);
    assert.ok(readsPacked(packed));
    assert.deepEqual([...packed.unpack()], [...kernel.dataSync()]);
    assert.equal(packWeight(tf.cast(kernel, "int32"), 8), undefined);
    // Under a gradient tape nothing is packed, and packed weights are read plain.
    tf.grad((x: tf.Tensor) => {
      assert.equal(packWeight(kernel, 8), undefined);
      assert.equal(readsPacked(packed), false);
      return tf.sum(x);
    })(tf.scalar(1));
    packed.dispose();
    assert.equal(readsPacked(packed), false);
  } finally {
    unregisterWeightPacker("cpu");
    kernel.dispose();
  }
});

Deno.test("linear ops with a packed kernel equal the plain kernel's (composite on cpu)", async () => {
  await tf.setBackend("cpu");
  useTransposedPacker(1);
  try {
    tf.tidy(() => {
      const x = tf.tensor2d(seeded(2 * 3, 2), [2, 3]);
      const kernel = tf.tensor2d(seeded(3 * 4, 3), [3, 4]);
      const bias = tf.tensor1d(seeded(4, 4));
      const packed = packWeight(kernel, 2)!;
      const same = (a: tf.Tensor, b: tf.Tensor): void =>
        assert.deepEqual([...a.dataSync()], [...b.dataSync()]);
      same(linear(x, packed, bias), linear(x, kernel, bias));
      same(linearGeluErf(x, packed, bias), linearGeluErf(x, kernel, bias));
      const residual = tf.tensor2d(seeded(2 * 4, 5), [2, 4]);
      const gamma = tf.tensor1d(seeded(4, 6)), beta = tf.tensor1d(seeded(4, 7));
      same(
        linearLayerNorm(x, packed, bias, gamma, beta, 1e-12, residual),
        linearLayerNorm(x, kernel, bias, gamma, beta, 1e-12, residual),
      );
    });
  } finally {
    unregisterWeightPacker("cpu");
  }
});
