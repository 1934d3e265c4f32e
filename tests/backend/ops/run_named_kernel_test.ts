import assert from "node:assert/strict";
import { tf } from "../../../backend/tf.ts";
import { givenInputs, runNamedKernel } from "../../../backend/ops/run_named_kernel.ts";

Deno.test("givenInputs leaves out the optional inputs not given", () => {
  const x = tf.scalar(1);
  try {
    assert.deepEqual(Object.keys(givenInputs({ x, bias: null, residual: undefined })), ["x"]);
  } finally {
    x.dispose();
  }
});

Deno.test("runNamedKernel runs the active backend's kernel with its inputs and attributes", async () => {
  await tf.setBackend("cpu");
  const kernelName = "DprTestScaledSum";
  tf.registerKernel({
    kernelName,
    backendName: "cpu",
    kernelFunc: ({ inputs, attrs, backend }) => {
      const cpu = backend as unknown as {
        readSync(id: object): Float32Array;
        makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo;
      };
      const { a, b } = inputs as { a: tf.TensorInfo; b?: tf.TensorInfo };
      const { scale } = attrs as unknown as { scale: { by: number } };
      const av = cpu.readSync(a.dataId), bv = b === undefined ? null : cpu.readSync(b.dataId);
      return cpu.makeTensorInfo(
        [av.length],
        "float32",
        av.map((v, i) => (v + (bv?.[i] ?? 0)) * scale.by),
      );
    },
  });
  try {
    tf.tidy(() => {
      const a = tf.tensor1d([1, 2]), b = tf.tensor1d([10, 20]);
      const both = runNamedKernel(kernelName, { a, b }, { scale: { by: 2 } });
      assert.deepEqual([...both.dataSync()], [22, 44]);
      const one = runNamedKernel(kernelName, { a, b: null }, { scale: { by: 3 } });
      assert.deepEqual([...one.dataSync()], [3, 6]);
    });
  } finally {
    tf.unregisterKernel(kernelName, "cpu");
  }
});
