// Run by onednn_test.ts in a child process (not matched by `deno test tests/` itself).
// oneDNN's matmul path of the "blas" backend: every product form it takes must equal a plain
// reference, packed weights must give the same numbers as plain ones and be freed, and whatever
// it cannot take must be declined without touching the output. Ignored, with a message, where
// oneDNN 2 (Debian/Ubuntu `libdnnl2`) is not installed; CI installs it.
import assert from "node:assert/strict";
import { seeded } from "../../seeded.ts";
import { erf } from "../../../backend/blas/fast_math.ts";
import {
  type OneDnnActivation,
  type OneDnnGemm,
  openOneDnn,
} from "../../../backend/blas/onednn.ts";
import { missingOneDnn } from "./libraries.ts";

const missing = missingOneDnn("oneDNN");

/**
 * Each case opens the library, which stays loaded for the process on purpose (pin_library.ts):
 * Deno 2.5's resource sanitizer counts that as a leak (2.9's does not look at libraries).
 */
const KEEPS_LIBRARY = false;

/** oneDNN taking plain-weight products too (the backend leaves those to OpenBLAS). */
function open(): OneDnnGemm {
  const lib = openOneDnn(undefined, { plain: true });
  if (typeof lib === "string") throw new Error(lib);
  return lib;
}

/** `A [m, k] x B`, B stored [k, n] or (transB) [n, k], in float64. */
function reference(
  m: number,
  n: number,
  k: number,
  a: Float32Array,
  b: Float32Array,
  transB: boolean,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) sum += a[i * k + p]! * (transB ? b[j * k + p]! : b[p * n + j]!);
      c[i * n + j] = sum;
    }
  }
  return c;
}

function assertClose(got: Float32Array, want: ArrayLike<number>, tolerance = 1e-5): void {
  assert.equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!, diff = Math.abs(got[i]! - w);
    if (!(diff <= tolerance * Math.max(1, Math.abs(w)))) {
      assert.fail(`element ${i}: got ${got[i]}, want ${w}`);
    }
  }
}

// 64 x 160 x 128: above the size under which products stay on OpenBLAS.
const M = 64, N = 160, K = 128;

Deno.test({
  name: "oneDNN gemm equals the reference with B plain or transposed, beta 0 and 1",
  ignore: missing !== undefined,
  sanitizeResources: KEEPS_LIBRARY,
  fn() {
    const lib = open();
    try {
      for (const transB of [false, true]) {
        for (const beta of [0, 1] as const) {
          const a = seeded(M * K, 1), b = seeded(K * N, 2), start = seeded(M * N, 3);
          const c = beta === 1 ? start.slice() : new Float32Array(M * N);
          assert.equal(lib.gemm(transB, M, N, K, a, b, beta, c), true);
          const want = reference(M, N, K, a, b, transB);
          if (beta === 1) { for (let i = 0; i < want.length; i++) want[i] = want[i]! + start[i]!; }
          assertClose(c, want);
        }
      }
    } finally {
      lib.close();
    }
  },
});

const ACTIVATIONS: Record<OneDnnActivation, (x: number) => number> = {
  relu: (x) => Math.max(x, 0),
  elu: (x) => (x < 0 ? Math.expm1(x) : x),
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  tanh: Math.tanh,
  gelu_erf: (x) => 0.5 * x * (1 + erf(x * Math.SQRT1_2)),
  gelu_tanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
};

Deno.test({
  name: "oneDNN linear applies the bias and each activation as the reference does",
  ignore: missing !== undefined,
  sanitizeResources: KEEPS_LIBRARY,
  fn() {
    const lib = open();
    try {
      const a = seeded(M * K, 4), b = seeded(K * N, 5), bias = seeded(N, 6);
      const product = reference(M, N, K, a, b, false);
      for (const [name, act] of Object.entries(ACTIVATIONS)) {
        const c = new Float32Array(M * N);
        assert.equal(lib.linear(false, M, N, K, a, b, bias, name as OneDnnActivation, c), true);
        const want = product.map((v, i) => act(v + bias[i % N]!));
        assertClose(c, want, 2e-5);
      }
      const plain = new Float32Array(M * N);
      assert.equal(lib.linear(true, M, N, K, a, b, null, null, plain), true);
      assertClose(plain, reference(M, N, K, a, b, true));
    } finally {
      lib.close();
    }
  },
});

Deno.test({
  name: "oneDNN linearLayerNorm equals LayerNorm(x W + bias + residual) computed plainly",
  ignore: missing !== undefined,
  sanitizeResources: KEEPS_LIBRARY,
  fn() {
    const lib = open();
    try {
      const a = seeded(M * K, 7), b = seeded(K * N, 8), bias = seeded(N, 9);
      const residual = seeded(M * N, 10), gamma = seeded(N, 11), beta = seeded(N, 12);
      const eps = 1e-12;
      const c = new Float32Array(M * N);
      assert.equal(
        lib.linearLayerNorm(M, N, K, a, b, bias, residual, gamma, beta, eps, c),
        true,
      );
      const y = reference(M, N, K, a, b, false).map((v, i) => v + bias[i % N]! + residual[i]!);
      const want = new Float64Array(M * N);
      for (let r = 0; r < M; r++) {
        const row = y.subarray(r * N, r * N + N);
        const mean = row.reduce((s, v) => s + v, 0) / N;
        const variance = row.reduce((s, v) => s + (v - mean) ** 2, 0) / N;
        for (let j = 0; j < N; j++) {
          want[r * N + j] = ((row[j]! - mean) / Math.sqrt(variance + eps)) * gamma[j]! + beta[j]!;
        }
      }
      assertClose(c, want, 2e-5);
    } finally {
      lib.close();
    }
  },
});

Deno.test({
  name: "oneDNN packs a weight once into padded blocks; products read them; unpack gives it back",
  ignore: missing !== undefined,
  sanitizeResources: KEEPS_LIBRARY,
  fn() {
    const lib = open();
    try {
      const a = seeded(M * K, 13), b = seeded(K * N, 14);
      const want = reference(M, N, K, a, b, false);
      const packed = lib.pack(b, K, N, false, M);
      assert.ok(packed !== undefined && packed.array !== null);
      // N = 160 is not a multiple of oneDNN's 64-column blocks: the packed copy is padded.
      assert.ok(packed.bytes > K * N * 4 && packed.bytes <= K * N * 6, `${packed.bytes} bytes`);
      assert.equal(lib.packedBytes(), packed.bytes);
      const c = new Float32Array(M * N);
      assert.equal(lib.linear(false, M, N, K, a, packed, null, null, c), true);
      assertClose(c, want);
      // A packed weight runs here however small the product (one row).
      const row = new Float32Array(N);
      assert.equal(lib.gemm(false, 1, N, K, a, packed, 0, row), true);
      assertClose(row, want.subarray(0, N));
      // Other sizes are declined (the caller unpacks); unpacking gives the plain matrix back.
      const other = new Float32Array(M * K);
      assert.equal(lib.gemm(false, M, K, N, seeded(M * N, 21), packed, 0, other), false);
      const plain = lib.unpack(packed);
      assert.ok(plain.length === b.length && plain.every((v, i) => Object.is(v, b[i])));
      // Products too small for oneDNN are not packed at all.
      assert.equal(lib.pack(seeded(16, 2), 4, 4, false, 4), undefined);
      lib.free(packed);
      assert.equal(lib.packedBytes(), 0);
      assert.equal(packed.active, false);
      assert.equal(lib.gemm(false, M, N, K, a, packed, 0, c), false);
      assert.throws(() => lib.unpack(packed), /it was freed/);
    } finally {
      lib.close();
    }
  },
});

Deno.test({
  name: "oneDNN packs a weight with no padding as large as it is; unpack restores it exactly",
  ignore: missing !== undefined,
  sanitizeResources: KEEPS_LIBRARY,
  fn() {
    const lib = open();
    try {
      const n = 192; // a multiple of oneDNN's 64-column blocks
      const a = seeded(M * K, 19), b = seeded(K * n, 20);
      const packed = lib.pack(b, K, n, false, M)!;
      assert.equal(packed.bytes, K * n * 4);
      assert.notDeepEqual([...packed.array!.subarray(0, 1024)], [...b.subarray(0, 1024)]);
      const c = new Float32Array(M * n);
      assert.equal(lib.gemm(false, M, n, K, a, packed, 0, c), true);
      assertClose(c, reference(M, n, K, a, b, false));
      assert.ok(lib.unpack(packed).every((v, i) => Object.is(v, b[i])));
      lib.revokePacked();
      assert.equal(packed.active, false);
      assert.equal(lib.packedBytes(), packed.bytes); // revoked, not freed: its holder unpacks it
    } finally {
      lib.close();
    }
  },
});

Deno.test({
  name: "oneDNN softmaxRows equals the reference softmax, masked entries included",
  ignore: missing !== undefined,
  sanitizeResources: KEEPS_LIBRARY,
  fn() {
    const lib = open();
    try {
      const rows = 96, cols = 256;
      const data = seeded(rows * cols, 18).map((v, i) => (i % 7 === 3 ? v - 10000 : v * 8));
      const want = new Float64Array(rows * cols);
      for (let r = 0; r < rows; r++) {
        const row = data.subarray(r * cols, r * cols + cols);
        const max = Math.max(...row);
        const sum = row.reduce((s, v) => s + Math.exp(v - max), 0);
        for (let j = 0; j < cols; j++) want[r * cols + j] = Math.exp(row[j]! - max) / sum;
      }
      assert.equal(lib.softmaxRows(rows, cols, data), true);
      assertClose(data, want, 1e-5);
      const small = new Float32Array(8).fill(1);
      assert.equal(lib.softmaxRows(2, 4, small), false);
      assert.deepEqual([...small], new Array(8).fill(1));
    } finally {
      lib.close();
    }
  },
});

Deno.test({
  name: "oneDNN declines small products untouched and refuses operands that are too short",
  ignore: missing !== undefined,
  sanitizeResources: KEEPS_LIBRARY,
  fn() {
    const lib = open();
    try {
      const c = new Float32Array(16).fill(7);
      assert.equal(lib.gemm(false, 4, 4, 4, seeded(16, 1), seeded(16, 2), 0, c), false);
      assert.deepEqual([...c], new Array(16).fill(7));
      assert.throws(
        () => lib.gemm(false, M, N, K, seeded(M * K - 1, 1), seeded(K * N, 2), 0, c),
        /operands hold/,
      );
      assert.throws(
        () => lib.linear(false, M, N, K, seeded(M * K, 1), seeded(K * N, 2), seeded(3, 3), null, c),
        /bias must hold 160 values: received 3/,
      );
      lib.close();
      const out = new Float32Array(M * N);
      assert.equal(lib.gemm(false, M, N, K, seeded(M * K, 1), seeded(K * N, 2), 0, out), false);
    } finally {
      lib.close();
    }
  },
});

Deno.test({
  name: "oneDNN as the backend opens it declines plain weights and runs packed ones",
  ignore: missing !== undefined,
  sanitizeResources: KEEPS_LIBRARY,
  fn() {
    const opened = openOneDnn();
    if (typeof opened === "string") throw new Error(opened);
    try {
      const a = seeded(M * K, 16), b = seeded(K * N, 17);
      const c = new Float32Array(M * N).fill(5);
      // A plain weight is left to OpenBLAS, untouched.
      assert.equal(opened.gemm(false, M, N, K, a, b, 0, c), false);
      assert.equal(c[0], 5);
      const packed = opened.pack(b, K, N, false, M)!;
      assert.equal(opened.gemm(false, M, N, K, a, packed, 0, c), true);
      assertClose(c, reference(M, N, K, a, b, false));
    } finally {
      opened.close();
    }
  },
});

Deno.test("openOneDnn names the library it could not open", () => {
  const result = openOneDnn("/nonexistent/libdnnl.so.2");
  assert.equal(typeof result, "string");
  assert.match(result as string, /no oneDNN 2 library could be opened \(\/nonexistent\/libdnnl/);
});
