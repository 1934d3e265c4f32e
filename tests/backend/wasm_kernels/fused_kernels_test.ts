/**
 * The wasm backend's fused kernels (GELU, LayerNorm with and without residual, whole attention)
 * equal the composite forms on cpu: attention with and without a padding mask, every query or the
 * first only, a head size the SIMD products take (a multiple of 4) and one they do not, one
 * position, several sequences.
 */
import assert from "node:assert/strict";
import { tf } from "../../../backend/tf.ts";
import { setBackend } from "../../../backend/set_backend.ts";
import { fusedAttention, geluErf, layerNormFused } from "../../../backend/ops/fused_ops.ts";
import { seeded } from "../../seeded.ts";

async function both(
  f: () => tf.Tensor,
): Promise<{ cpu: Float32Array; wasm: Float32Array; kernels: string[] }> {
  await setBackend("cpu");
  const cpu = tf.tidy(() => f().dataSync() as Float32Array);
  await setBackend("wasm", { wasmThreads: 1 });
  let wasm: Float32Array = new Float32Array();
  try {
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => {
      wasm = tf.tidy(() => f().dataSync() as Float32Array);
    });
    assert.equal(tf.memory().numTensors, before, "nothing leaked");
    return { cpu, wasm, kernels: profile.kernels.map((k) => k.name) };
  } finally {
    await setBackend("cpu");
  }
}

function assertClose(got: Float32Array, want: Float32Array, tol: number): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i]! - want[i]!) <= tol * Math.max(1, Math.abs(want[i]!)))) {
      assert.fail(`element ${i}: fused ${got[i]} vs composite ${want[i]}`);
    }
  }
}

Deno.test("wasm geluErf and layerNormFused (with and without residual) equal the composites", async () => {
  const g = await both(() => geluErf(tf.tensor2d(seeded(7 * 33, 1, 4), [7, 33])));
  assert.ok(g.kernels.includes("DprGeluErf"), g.kernels.join());
  assertClose(g.wasm, g.cpu, 1e-6);
  // the SIMD code's range: far tails, zeros, the largest values, NaN and infinities
  const special = [0, -0, 1e-30, -1e-30, 9.99, -9.99, 40, -40, 88, -88, 3e38, -3e38, NaN, Infinity];
  const wide = Float32Array.from([...special, ...seeded(64, 7, 12)]);
  const s = await both(() => geluErf(tf.tensor1d(wide)));
  for (let i = 0; i < wide.length; i++) {
    const got = s.wasm[i]!, want = s.cpu[i]!;
    if (Number.isFinite(want)) {
      assertClose(s.wasm.subarray(i, i + 1), s.cpu.subarray(i, i + 1), 1e-6);
    } else assert.ok(Object.is(got, want), `gelu(${wide[i]}): fused ${got} vs composite ${want}`);
  }
  assert.ok(Object.is(s.wasm[1], -0), "gelu(-0) is -0");
  for (const withResidual of [false, true]) {
    const r = await both(() => {
      const x = tf.tensor2d(seeded(5 * 24, 2, 3), [5, 24]);
      const residual = tf.tensor2d(seeded(5 * 24, 3), [5, 24]);
      const gamma = tf.tensor1d(seeded(24, 4)), beta = tf.tensor1d(seeded(24, 5));
      return layerNormFused(x, gamma, beta, 1e-12, withResidual ? residual : undefined);
    });
    assert.ok(r.kernels.includes("DprLayerNorm"), r.kernels.join());
    assertClose(r.wasm, r.cpu, 1e-5);
  }
});

Deno.test("wasm fusedAttention equals the composite (mask, first query only, head sizes)", async () => {
  // [batch, seq, heads, head size]: SIMD head sizes (4, BERT's 64), a scalar one (3), one position.
  const cases: [number, number, number, number][] = [
    [2, 5, 3, 4],
    [2, 5, 3, 3],
    [1, 7, 2, 64],
    [2, 1, 2, 8],
  ];
  for (const [b, t, n, d] of cases) {
    const h3 = 3 * n * d;
    for (const firstOnly of [false, true]) {
      for (const withMask of [false, true]) {
        const r = await both(() => {
          const qkv = tf.tensor2d(seeded(b * t * h3, 8 + d, 2), [b * t, h3]);
          const maskValues = Array.from(
            { length: b * t },
            (_, i) => (i % t === t - 1 && t > 1 ? -3.4e38 : 0),
          );
          const mask = tf.tensor4d(maskValues, [b, 1, 1, t]);
          return fusedAttention(qkv, withMask ? mask : null, {
            batch: b,
            seq: t,
            heads: n,
            firstOnly,
          });
        });
        assert.ok(r.kernels.includes("DprFusedAttention"), r.kernels.join());
        assert.equal(r.wasm.length, (firstOnly ? b : b * t) * n * d);
        assertClose(r.wasm, r.cpu, 1e-5);
      }
    }
  }
});
