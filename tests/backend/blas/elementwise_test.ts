// The "blas" backend's elementwise, reduction and layout kernels must equal the cpu backend's
// (within 1e-5 relative) on every broadcasting pattern and layout a BERT forward pass uses,
// and on the cases they hand back to the cpu kernels.
import assert from "node:assert/strict";
import { seeded } from "../../seeded.ts";
import { tf } from "../../../backend/tf.ts";
import { registerBlasBackend } from "../../../backend/blas/register.ts";
import { missingOpenBlas } from "./libraries.ts";

// Without OpenBLAS these tests are ignored (never passed), with a line saying what to install.
const noBlas = missingOpenBlas("blas elementwise") !== undefined;
const blasTest = noBlas ? Deno.test.ignore : Deno.test;

async function run(
  backend: string,
  shapes: number[][],
  f: (xs: tf.Tensor[]) => tf.Tensor,
): Promise<{ shape: number[]; dtype: string; values: number[] }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = shapes.map((s, i) => tf.tensor(seeded(tf.util.sizeFromShape(s), 3 + i, 4), s));
    const y = f(xs);
    return { shape: y.shape, dtype: y.dtype, values: Array.from(y.dataSync()) };
  });
}

// OpenBLAS alone here: the oneDNN path runs in child processes (onednn_test.ts), so that this
// test process never starts its OpenMP threads.
if (!noBlas) await registerBlasBackend({ oneDnn: false });

const cases: Array<[string, number[][], (xs: tf.Tensor[]) => tf.Tensor]> = [
  ["add same shape", [[3, 4, 5], [3, 4, 5]], ([a, b]) => tf.add(a!, b!)],
  ["add row vector (bias)", [[3, 4, 5], [5]], ([a, b]) => tf.add(a!, b!)],
  ["add scalar", [[3, 4]], ([a]) => tf.add(a!, 1)],
  ["add attention mask [B,1,1,T]", [[2, 3, 4, 4], [2, 1, 1, 4]], ([a, b]) => tf.add(a!, b!)],
  ["add both broadcast", [[3, 1], [1, 4]], ([a, b]) => tf.add(a!, b!)],
  ["sub per-row mean [N,1]", [[6, 5], [6, 1]], ([a, b]) => tf.sub(a!, b!)],
  ["sub scalar minus tensor", [[4, 3]], ([a]) => tf.sub(1, a!)],
  ["mul by scalar", [[4, 3]], ([a]) => tf.mul(a!, 0.125)],
  ["mul middle-axis broadcast", [[2, 3, 4], [2, 1, 4]], ([a, b]) => tf.mul(a!, b!)],
  ["div by per-row", [[2, 3, 4], [2, 3, 1]], ([a, b]) => tf.div(a!, b!)],
  ["div rank-5 broadcast", [[2, 1, 3, 1, 2], [1, 4, 1, 5, 2]], ([a, b]) => tf.div(a!, b!)],
  ["int add falls back", [[3, 4]], ([a]) => tf.add(tf.cast(a!, "int32"), tf.scalar(2, "int32"))],
  ["softmax last axis", [[2, 3, 7]], ([a]) => tf.softmax(tf.mul(a!, 3))],
  [
    "softmax with -1e4 mask and -Infinity",
    [[2, 5]],
    ([a]) =>
      tf.softmax(
        tf.concat([
          tf.add(a!, tf.tensor2d([[0, 0, -1e4, -1e4, 0], [0, 0, 0, 0, 0]])),
          tf.fill([2, 1], -Infinity),
        ], 1),
      ),
  ],
  ["erf", [[1000]], ([a]) => tf.erf(tf.concat([a!, tf.tensor1d([0, -0, 1e-9, -30, 30, NaN])]))],
  [
    "gelu (erf form)",
    [[4, 9]],
    ([a]) => tf.mul(tf.mul(a!, 0.5), tf.add(tf.erf(tf.mul(a!, Math.SQRT1_2)), 1)),
  ],
  ["transpose heads [0,2,1,3]", [[2, 5, 3, 4]], ([a]) => tf.transpose(a!, [0, 2, 1, 3])],
  ["transpose 2-D", [[5, 7]], ([a]) => tf.transpose(a!)],
  ["transpose [2,0,1]", [[3, 4, 5]], ([a]) => tf.transpose(a!, [2, 0, 1])],
  ["mean last axis keepDims", [[3, 4, 6]], ([a]) => tf.mean(a!, -1, true)],
  ["sum last axis", [[3, 4, 6]], ([a]) => tf.sum(a!, 2)],
  ["mean over axis 0 falls back", [[3, 4]], ([a]) => tf.mean(a!, 0)],
  ["sum over everything falls back", [[3, 4]], ([a]) => tf.sum(a!)],
  [
    "gather rows",
    [[10, 4]],
    ([a]) => tf.gather(a!, tf.tensor2d([[3, 0], [9, 3]], [2, 2], "int32")),
  ],
  ["gather axis 1 falls back", [[10, 4]], ([a]) => tf.gather(a!, tf.tensor1d([3, 0], "int32"), 1)],
  ["slice middle box", [[4, 5, 6]], ([a]) => tf.slice(a!, [1, 2, 3], [2, -1, 2])],
  ["slice [CLS] rows", [[3, 4, 5]], ([a]) => tf.slice(a!, [0, 0, 0], [3, 1, 5])],
  [
    "split fused QKV on the last axis",
    [[6, 9]],
    ([a]) => tf.concat(tf.split(a!, 3, 1).map((t, i) => tf.mul(t, i + 1)), 1),
  ],
  [
    "split unequal on axis 0",
    [[6, 4]],
    ([a]) => tf.concat(tf.split(a!, [1, 3, 2], 0).map((t, i) => tf.mul(t, i + 1)), 0),
  ],
  ["tile 2-D", [[3, 4]], ([a]) => tf.tile(a!, [2, 3])],
  ["tile 3-D", [[2, 1, 3]], ([a]) => tf.tile(a!, [1, 4, 2])],
];

for (const [name, shapes, f] of cases) {
  blasTest(`blas kernel equals cpu: ${name}`, async () => {
    const want = await run("cpu", shapes, f);
    const got = await run("blas", shapes, f);
    assert.deepEqual(got.shape, want.shape);
    assert.equal(got.dtype, want.dtype);
    for (let i = 0; i < want.values.length; i++) {
      const w = want.values[i]!, g = got.values[i]!;
      if (Number.isNaN(w)) {
        assert.ok(Number.isNaN(g), `element ${i}: blas ${g} vs cpu NaN`);
        continue;
      }
      const tol = 1e-5 * Math.max(1, Math.abs(w));
      if (!(Math.abs(g - w) <= tol)) assert.fail(`element ${i}: blas ${g} vs cpu ${w}`);
    }
  });
}

blasTest("blas gather rejects an out-of-range index", async () => {
  await tf.setBackend("blas");
  const x = tf.ones([3, 2]);
  const idx = tf.tensor1d([3], "int32");
  assert.throws(() => tf.gather(x, idx), /index value 3 is not in \[0, 2\]/);
  tf.dispose([x, idx]);
});
