// The fused ops must equal their composite forms: fused on "blas", composite on "cpu" (which
// has no fused kernels) and under a gradient tape.
import assert from "node:assert/strict";
import { seeded } from "../../seeded.ts";
import { tf } from "../../../backend/tf.ts";
import { registerBlasBackend } from "../../../backend/blas/register.ts";
import { normalCdf, normalCdfLinear } from "../../../backend/blas/fast_math.ts";
import {
  fusedAttention,
  geluErf,
  layerNormFused,
  linearGeluErf,
  linearLayerNorm,
  maskedSoftmax,
} from "../../../backend/ops/fused_ops.ts";
import { missingOpenBlas } from "../blas/libraries.ts";

// Without OpenBLAS these tests are ignored (never passed), with a line saying what to install.
const noBlas = missingOpenBlas("blas fused ops") !== undefined;
const blasTest = noBlas ? Deno.test.ignore : Deno.test;

async function both(
  f: () => tf.Tensor,
): Promise<{ cpu: Float32Array; blas: Float32Array; kernels: string[] }> {
  await tf.setBackend("cpu");
  const cpu = tf.tidy(() => f().dataSync() as Float32Array);
  await tf.setBackend("blas");
  let blas: Float32Array = new Float32Array();
  const profile = await tf.profile(() => {
    blas = tf.tidy(() => f().dataSync() as Float32Array);
  });
  return { cpu, blas, kernels: profile.kernels.map((k) => k.name) };
}

function assertClose(got: Float32Array, want: Float32Array, tol: number): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)))) {
      assert.fail(`element ${i}: fused ${got[i]} vs composite ${want[i]}`);
    }
  }
}

// OpenBLAS alone here: the oneDNN path runs in child processes (onednn_test.ts), so that this
// test process never starts its OpenMP threads.
if (!noBlas) await registerBlasBackend({ oneDnn: false });

blasTest("geluErf: fused on blas equals the composite on cpu", async () => {
  const r = await both(() => geluErf(tf.tensor2d(seeded(600, 1, 3), [20, 30])));
  assert.ok(r.kernels.includes("DprGeluErf"), r.kernels.join());
  assertClose(r.blas, r.cpu, 1e-6);
});

blasTest("linearGeluErf: fused on blas equals the composite on cpu", async () => {
  const r = await both(() =>
    linearGeluErf(
      tf.tensor2d(seeded(7 * 12, 11, 1), [7, 12]),
      tf.tensor2d(seeded(12 * 20, 12, 0.5), [12, 20]),
      tf.tensor1d(seeded(20, 13, 0.5)),
    )
  );
  assert.ok(r.kernels.includes("DprLinearGeluErf"), r.kernels.join());
  assertClose(r.blas, r.cpu, 1e-5);
});

blasTest("linearLayerNorm: fused on blas equals the composite on cpu", async () => {
  const r = await both(() =>
    linearLayerNorm(
      tf.tensor2d(seeded(7 * 12, 14, 1), [7, 12]),
      tf.tensor2d(seeded(12 * 16, 15, 0.5), [12, 16]),
      tf.tensor1d(seeded(16, 16, 0.5)),
      tf.tensor1d(seeded(16, 17, 3)),
      tf.tensor1d(seeded(16, 18, 3)),
      1e-12,
      tf.tensor2d(seeded(7 * 16, 19, 3), [7, 16]),
    )
  );
  assert.ok(r.kernels.includes("DprLinearLayerNorm"), r.kernels.join());
  assertClose(r.blas, r.cpu, 1e-5);
});

blasTest("layerNormFused with and without residual equals the composite", async () => {
  for (const withResidual of [false, true]) {
    const r = await both(() => {
      const x = tf.tensor3d(seeded(2 * 5 * 16, 2, 3), [2, 5, 16]);
      const res = tf.tensor3d(seeded(2 * 5 * 16, 3, 3), [2, 5, 16]);
      const gamma = tf.tensor1d(seeded(16, 4, 3)), beta = tf.tensor1d(seeded(16, 5, 3));
      return layerNormFused(x, gamma, beta, 1e-12, withResidual ? res : undefined);
    });
    assert.ok(r.kernels.includes("DprLayerNorm"), r.kernels.join());
    assertClose(r.blas, r.cpu, 1e-5);
  }
});

blasTest("maskedSoftmax with a padding mask and without equals the composite", async () => {
  for (const withMask of [false, true]) {
    const r = await both(() => {
      const scores = tf.tensor4d(seeded(2 * 3 * 4 * 6, 6, 20), [2, 3, 4, 6]);
      const mask = tf.tensor4d([0, 0, 0, 0, -1e4, -1e4, 0, 0, 0, 0, 0, -3.4e38], [2, 1, 1, 6]);
      return maskedSoftmax(scores, 0.125, withMask ? mask : null);
    });
    assert.ok(r.kernels.includes("DprScaledMaskedSoftmax"), r.kernels.join());
    assertClose(r.blas, r.cpu, 1e-6);
  }
});

blasTest(
  "fusedAttention (all queries and first only, with a mask) equals the composite",
  async () => {
    // B 2, T 5, N 3, D 4: H 12, qkv [10, 36].
    for (const firstOnly of [false, true]) {
      for (const withMask of [false, true]) {
        const r = await both(() => {
          const qkv = tf.tensor2d(seeded(10 * 36, 8, 2), [10, 36]);
          const mask = tf.tensor4d([0, 0, 0, -3.4e38, -3.4e38, 0, 0, 0, 0, 0], [2, 1, 1, 5]);
          const args = { batch: 2, seq: 5, heads: 3, firstOnly };
          return fusedAttention(qkv, withMask ? mask : null, args);
        });
        assert.ok(r.kernels.includes("DprFusedAttention"), r.kernels.join());
        assert.equal(r.blas.length, (firstOnly ? 2 : 10) * 12);
        assertClose(r.blas, r.cpu, 1e-5);
      }
    }
  },
);

blasTest("fusedAttention rejects a projection that does not fit the sizes", () => {
  const qkv = tf.zeros([6, 36]) as tf.Tensor2D;
  assert.throws(() => fusedAttention(qkv, null, { batch: 2, seq: 5, heads: 3 }), TypeError);
  qkv.dispose();
});

blasTest(
  "fused ops fall back to composites for other mask shapes and under gradients",
  async () => {
    await tf.setBackend("blas");
    const scores = tf.tensor4d(seeded(24, 7, 3), [1, 2, 3, 4]);
    const wideMask = tf.zeros([1, 2, 3, 4]);
    const profile = await tf.profile(() => maskedSoftmax(scores, 1, wideMask).dispose());
    assert.ok(!profile.kernels.some((k) => k.name === "DprScaledMaskedSoftmax"));
    const x = tf.tensor1d([-1, 0.5, 2]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(geluErf(t)))(x);
    // d/dx gelu(x) = Phi(x) + x phi(x)
    const phi = (v: number) => Math.exp(-v * v / 2) / Math.sqrt(2 * Math.PI);
    const Phi = (v: number) => (v === -1 ? 0.158655 : v === 0.5 ? 0.691462 : 0.97725);
    const want = [-1, 0.5, 2].map((v) => Phi(v) + v * phi(v));
    assertClose(g.dataSync() as Float32Array, new Float32Array(want), 1e-4);
    tf.dispose([scores, wideMask, x, g]);
  },
);

Deno.test("normalCdfLinear stays within 2e-7 of normalCdf and keeps NaN and the tails", () => {
  let worst = 0;
  for (let x = -12; x < 12; x += 0.000377) {
    worst = Math.max(worst, Math.abs(normalCdfLinear(x) - normalCdf(x)));
  }
  assert.ok(worst < 2e-7, `worst error ${worst}`);
  assert.ok(Number.isNaN(normalCdfLinear(NaN)));
  assert.equal(normalCdfLinear(-Infinity), 0);
  assert.equal(normalCdfLinear(Infinity), 1);
});
