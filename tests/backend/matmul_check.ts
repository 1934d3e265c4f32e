/**
 * The matmul check of the backend tests, shared by the in-process tests and the WebGPU child.
 * @module
 */
import assert from "node:assert/strict";
import { tf } from "../../backend/tf.ts";

/** Row-major [m, k] x [k, n] in float64, the reference for every backend's matmul. */
function referenceMatMul(a: Float32Array, b: Float32Array, m: number, k: number, n: number) {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = a[i * k + p]!;
      for (let j = 0; j < n; j++) out[i * n + j]! += x * b[p * n + j]!;
    }
  }
  return out;
}

/** Deterministic values in [-1, 1). */
function values(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let state = seed;
  for (let i = 0; i < count; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    out[i] = state / 1073741824 - 1;
  }
  return out;
}

/** Matmuls a small exact case and a [96, 80] x [80, 72] one (big enough to split across threads). */
export async function checkMatMul(backend: string): Promise<void> {
  const small = tf.matMul(
    tf.tensor2d([[1, 2, 3], [4, 5, 6]]),
    tf.tensor2d([[7, 8], [9, 10], [
      11,
      12,
    ]]),
  );
  assert.deepEqual(Array.from(await small.data()), [58, 64, 139, 154], `${backend}: 2x3 @ 3x2`);
  const [m, k, n] = [96, 80, 72];
  const a = values(m * k, 1);
  const b = values(k * n, 2);
  const got = await tf.matMul(tf.tensor2d(a, [m, k]), tf.tensor2d(b, [k, n])).data();
  const want = referenceMatMul(a, b, m, k, n);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  assert.ok(worst < 1e-4, `${backend}: [96,80]x[80,72] max abs error ${worst} >= 1e-4`);
}
