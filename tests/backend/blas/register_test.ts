// The "blas" backend must compute what the cpu backend computes (within 1e-4 relative) for every
// matmul form a BERT encoder and tfjs-layers use, and fail with a clear message when its library
// or permission is missing.
import assert from "node:assert/strict";
import { seeded } from "../../seeded.ts";
import { tf } from "../../../backend/tf.ts";
import { registerBlasBackend } from "../../../backend/blas/register.ts";
import { blasCandidates, openBlas } from "../../../backend/blas/library.ts";
import { missingOpenBlas } from "./libraries.ts";

// Without OpenBLAS these tests are ignored (never passed), with a line saying what to install.
const noBlas = missingOpenBlas("blas matmul") !== undefined;
const blasTest = noBlas ? Deno.test.ignore : Deno.test;

/** Runs `f` on freshly built inputs on one backend; returns the output's shape and values. */
async function on(
  backend: string,
  shapes: number[][],
  f: (xs: tf.Tensor[]) => tf.Tensor,
): Promise<{ shape: number[]; values: Float32Array }> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = shapes.map((s, i) => tf.tensor(seeded(tf.util.sizeFromShape(s), 7 + i), s));
    const y = f(xs);
    return { shape: y.shape, values: y.dataSync() as Float32Array };
  });
}

async function assertSameAsCpu(
  shapes: number[][],
  f: (xs: tf.Tensor[]) => tf.Tensor,
): Promise<void> {
  const want = await on("cpu", shapes, f);
  const got = await on("blas", shapes, f);
  assert.deepEqual(got.shape, want.shape);
  let scale = 1e-6;
  for (const v of want.values) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < want.values.length; i++) {
    const diff = Math.abs(got.values[i]! - want.values[i]!);
    if (diff > 1e-4 * scale) {
      assert.fail(`element ${i}: blas ${got.values[i]} vs cpu ${want.values[i]} (scale ${scale})`);
    }
  }
}

// OpenBLAS alone here: the oneDNN path runs in child processes (onednn_test.ts), so that this
// test process never starts its OpenMP threads.
if (!noBlas) await registerBlasBackend({ oneDnn: false });

const cases: Array<[string, number[][], (xs: tf.Tensor[]) => tf.Tensor]> = [
  ["2-D", [[5, 7], [7, 3]], ([a, b]) => tf.matMul(a!, b!)],
  ["2-D transposeA", [[7, 5], [7, 3]], ([a, b]) => tf.matMul(a!, b!, true, false)],
  ["2-D transposeB", [[5, 7], [3, 7]], ([a, b]) => tf.matMul(a!, b!, false, true)],
  ["2-D both transposed", [[7, 5], [3, 7]], ([a, b]) => tf.matMul(a!, b!, true, true)],
  ["3-D batched", [[4, 5, 6], [4, 6, 3]], ([a, b]) => tf.matMul(a!, b!)],
  ["3-D batched transposeB", [[4, 5, 6], [4, 3, 6]], ([a, b]) => tf.matMul(a!, b!, false, true)],
  ["3-D batched transposeA", [[4, 6, 5], [4, 6, 3]], ([a, b]) => tf.matMul(a!, b!, true, false)],
  [
    "4-D attention scores",
    [[2, 3, 8, 4], [2, 3, 8, 4]],
    ([q, k]) => tf.matMul(q!, k!, false, true),
  ],
  ["3-D x broadcast 2-D", [[3, 5, 6], [6, 4]], ([a, b]) => tf.matMul(a!, b!)],
  [
    "3-D x broadcast 2-D transposed",
    [[3, 6, 5], [4, 6]],
    ([a, b]) => tf.matMul(a!, b!, true, true),
  ],
  ["2-D x broadcast 3-D", [[5, 6], [3, 6, 4]], ([a, b]) => tf.matMul(a!, b!)],
  ["empty inner dimension", [[3, 0], [0, 4]], ([a, b]) => tf.matMul(a!, b!)],
  [
    "fused bias + relu",
    [[6, 9], [9, 5], [5]],
    ([a, b, bias]) => tf.fused.matMul({ a: a!, b: b!, bias: bias!, activation: "relu" }),
  ],
  [
    "fused bias, transposeB, 3-D",
    [[2, 6, 9], [2, 5, 9], [5]],
    ([a, b, bias]) => tf.fused.matMul({ a: a!, b: b!, bias: bias!, transposeB: true }),
  ],
  [
    "fused full-shape bias + sigmoid",
    [[6, 9], [9, 5], [6, 5]],
    ([a, b, bias]) => tf.fused.matMul({ a: a!, b: b!, bias: bias!, activation: "sigmoid" }),
  ],
  [
    "fused elu, leakyrelu, relu6",
    [[6, 9], [9, 5], [1]],
    ([a, b, bias]) =>
      tf.concat([
        tf.fused.matMul({ a: a!, b: b!, bias: bias!, activation: "elu" }),
        tf.fused.matMul({ a: a!, b: b!, activation: "leakyrelu", leakyreluAlpha: 0.3 }),
        tf.fused.matMul({ a: tf.mul(a!, 8), b: b!, activation: "relu6" }),
      ]),
  ],
  [
    "fused prelu",
    [[6, 9], [9, 5], [5], [5]],
    ([a, b, bias, alpha]) =>
      tf.fused.matMul({
        a: a!,
        b: b!,
        bias: bias!,
        activation: "prelu",
        preluActivationWeights: alpha!,
      }),
  ],
  [
    "int32 falls back to cpu",
    [[3, 4], [4, 2]],
    ([a, b]) =>
      tf.cast(
        tf.matMul(tf.cast(tf.mul(a!, 9), "int32"), tf.cast(tf.mul(b!, 9), "int32")),
        "float32",
      ),
  ],
];

for (const [name, shapes, f] of cases) {
  blasTest(`blas matmul equals cpu: ${name}`, () => assertSameAsCpu(shapes, f));
}

blasTest(
  "blas gradients of a matmul equal cpu's",
  () =>
    assertSameAsCpu([[4, 6], [6, 3]], ([a, b]) => {
      const g = tf.grads((x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.square(tf.matMul(x, y))));
      const [ga, gb] = g([a!, b!]);
      return tf.concat([tf.reshape(ga!, [-1]), tf.reshape(gb!, [-1])]);
    }),
);

blasTest("blas backend leaks no tensors", async () => {
  await tf.setBackend("blas");
  const a = tf.ones([8, 8]), b = tf.ones([8, 8]), bias = tf.ones([8]);
  const before = tf.memory().numTensors;
  for (let i = 0; i < 3; i++) {
    tf.matMul(a, b).dispose();
    tf.fused.matMul({ a, b, bias, activation: "relu" }).dispose();
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([a, b, bias]);
});

Deno.test("openBlas names the missing library and how to install it", () => {
  assert.throws(
    () => openBlas("/nonexistent/libblas.so"),
    (err: Error) =>
      err.message.includes("/nonexistent/libblas.so") &&
      err.message.includes("libopenblas0-pthread") && err.message.includes("cblas_sgemm"),
  );
});

Deno.test("blasCandidates covers OpenBLAS and Accelerate", () => {
  assert.ok(blasCandidates("linux").includes("libopenblas.so.0"));
  assert.ok(blasCandidates("darwin")[0]!.includes("Accelerate.framework"));
});

async function runChild(
  permissions: string[],
  env: Record<string, string>,
): Promise<{ code: number; stderr: string }> {
  const child = new URL("./register_child.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...permissions, child],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

Deno.test("DPR_BLAS_LIB pointing nowhere gives a clear error, not a crash", async () => {
  const { code, stderr } = await runChild(["--allow-ffi", "--allow-env", "--allow-read"], {
    DPR_BLAS_LIB: "/nonexistent",
  });
  assert.equal(code, 3, stderr);
  assert.match(stderr, /Error: Cannot load the BLAS backend: .*DPR_BLAS_LIB.*\/nonexistent/);
  assert.match(stderr, /apt-get install libopenblas0-pthread/);
});

Deno.test("DPR_ONEDNN naming a library that does not open is refused, naming it", async () => {
  const { code, stderr } = await runChild(["--allow-ffi", "--allow-env", "--allow-read"], {
    DPR_ONEDNN: "/nonexistent/libdnnl.so.2",
  });
  assert.equal(code, 3, stderr);
  assert.match(
    stderr,
    /Cannot register the blas backend: oneDNN at \/nonexistent\/libdnnl\.so\.2: no oneDNN 2 library could be opened/,
  );
});

Deno.test("missing --allow-ffi gives a clear error naming the flag", async () => {
  const { code, stderr } = await runChild(["--allow-env", "--allow-read"], {});
  assert.equal(code, 3, stderr);
  assert.match(stderr, /--allow-ffi/);
});
