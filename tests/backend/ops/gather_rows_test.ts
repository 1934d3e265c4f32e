import { deepEqual, equal } from "node:assert/strict";
import { setBackend } from "../../../backend/set_backend.ts";
import { tf } from "../../../backend/tf.ts";
import { GATHER_ROWS_KERNEL, gatherRows } from "../../../backend/ops/gather_rows.ts";
import { resolveAttentionImplementation } from "../../../backend/ops/attention_implementation.ts";

Deno.test("gatherRows is tf.gather on a backend without its kernel, and under a gradient tape", async () => {
  await setBackend("cpu");
  equal(tf.getKernel(GATHER_ROWS_KERNEL, "cpu"), undefined);
  const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
  const rows = gatherRows(table, [2, 0]);
  deepEqual(Array.from(rows.dataSync()), [5, 6, 1, 2]);
  // Gradients flow through it: d/dtable of sum(rows) counts how often each row was taken.
  const grad = tf.grad((t: tf.Tensor) => tf.sum(gatherRows(t as tf.Tensor2D, [2, 0, 2])))(table);
  deepEqual(Array.from(grad.dataSync()), [1, 1, 0, 0, 2, 2]);
  tf.dispose([table, rows, grad]);
});

Deno.test("the wasm backend registers gatherRows' kernel and prefers per-head attention", async () => {
  await setBackend("wasm");
  try {
    equal(typeof tf.getKernel(GATHER_ROWS_KERNEL, "wasm")?.kernelFunc, "function");
    equal(resolveAttentionImplementation("auto"), "per-head");
    equal(resolveAttentionImplementation("batched"), "batched");
    const table = tf.tensor2d([[1, 2], [3, 4], [5, 6]]);
    const profile = await tf.profile(() => gatherRows(table, [1, 1]).dispose());
    deepEqual(profile.kernelNames, [GATHER_ROWS_KERNEL]);
    table.dispose();
  } finally {
    await setBackend("cpu");
  }
  equal(resolveAttentionImplementation("auto"), "batched");
  equal(resolveAttentionImplementation(undefined), "batched");
});
