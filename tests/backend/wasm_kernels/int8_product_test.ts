/**
 * The wasm integer kernel (`x·Wᵀ + bias` with int8 W read in place and x quantized per row) against
 * a float64 product of what it multiplies: x's rows as 8-bit codes less their zero point times
 * their scale, W dequantized. Every form (relaxed SIMD with one plane of codes where the engine
 * allows it, with two planes, standard SIMD) gives the same values bit for bit. Edge cases: K not
 * a multiple of 8, 16 or 32, one row, rows past one scratch block, no rows, rows of zeros, extreme
 * codes and weights up to the largest K (no overflow), K past it (refused), NaN, and weights created
 * outside kernel memory (moved in on first use, values unchanged).
 */
import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  Int8Kernel,
  int8Kernel,
  MAX_K,
  SCRATCH_BYTES,
} from "../../../backend/wasm_kernels/int8_product.ts";
import { relaxedDotIsUnsigned } from "../../../backend/wasm_kernels/int8_relaxed_module.ts";
import { kernelMemory } from "../../../backend/quantized/kernel_memory.ts";
import {
  dequantize,
  QuantizedWeight,
  quantizeRows,
} from "../../../backend/quantized/quantized_weight.ts";
import { seeded } from "../../seeded.ts";
import { quantizeActivationRow, quantizedActivations } from "./int8_reference.ts";

const kernel = int8Kernel();
if (kernel === undefined) {
  console.log("wasm_kernels/int8_product_test: no kernel memory or SIMD here; cases skipped");
}
/** Every form the engine has (the default relaxed one first: what int8Kernel() gives). */
const forms = [
  Int8Kernel.create({ relaxed: true }),
  Int8Kernel.create({ relaxed: true, planes: relaxedDotIsUnsigned() ? 2 : 1 }),
  Int8Kernel.create({ relaxed: false }),
].filter((k) => k !== undefined);

/** xq·Wᵀ + bias in float64, xq already quantized. */
function reference(
  xq: ArrayLike<number>,
  w: QuantizedWeight,
  bias: Float32Array | undefined,
): Float64Array {
  const [n, k] = w.shape, m = xq.length / k, plain = dequantize(w);
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = bias?.[j] ?? 0;
      for (let c = 0; c < k; c++) sum += xq[i * k + c]! * plain[j * k + c]!;
      out[i * n + j] = sum;
    }
  }
  return out;
}

/** Runs every form; they must agree bit for bit. */
function run(x: Float32Array, m: number, w: QuantizedWeight, bias?: Float32Array): Float32Array {
  let first: Float32Array | undefined;
  for (const form of forms) {
    const out = new Float32Array(m * w.shape[0]).fill(12345); // every value must be written
    form.product(x, m, w, bias, out);
    if (first === undefined) first = out;
    else {
      ok(
        out.every((v, i) => Object.is(v, first![i])),
        `the kernel's forms differ for [${m}, ${x.length / m}]`,
      );
    }
  }
  return first!;
}

function assertClose(got: Float32Array, want: Float64Array, what: string): void {
  equal(got.length, want.length);
  for (let i = 0; i < want.length; i++) {
    ok(
      Math.abs(got[i]! - want[i]!) <= 1e-5 * (1 + Math.abs(want[i]!)),
      `${what} at ${i}: ${got[i]} vs ${want[i]}`,
    );
  }
}

// [M, K, N]: one row; K below one step of 8, not a multiple of 8 / 16; every remainder of the
// 3 x 3 register tile in both directions; BERT's shapes for a question; rows past one block of
// scratch (so several blocks run).
const SIZES: [number, number, number][] = [
  [1, 1, 1],
  [3, 16, 13],
  [1, 5, 2],
  [2, 17, 4],
  [4, 33, 5],
  [5, 100, 7],
  [3, 40, 11],
  [7, 8, 3],
  [12, 768, 96],
  [32, 3072, 24],
  [Math.ceil(SCRATCH_BYTES / (64 * 4 + 64 * 2 + 48 * 4)) + 5, 64, 48],
];

Deno.test({
  name: "int8 kernel: equals the float64 product of the quantized rows, every tile remainder",
  ignore: kernel === undefined,
  fn() {
    for (const [m, k, n] of SIZES) {
      const w = quantizeRows(seeded(n * k, n + k, 0.5), [n, k], "int8", { forKernels: true });
      const x = seeded(m * k, 3 * m + k, 2), bias = seeded(n, 5 + n, 0.1);
      const xq = quantizedActivations(x, m, k);
      assertClose(run(x, m, w, bias), reference(xq, w, bias), `[${m}, ${k}, ${n}]`);
      assertClose(run(x, m, w), reference(xq, w, undefined), `[${m}, ${k}, ${n}] no bias`);
    }
  },
});

Deno.test({
  name: "int8 kernel: codes are within half a step of x, 0 is exact, skewed rows use every code",
  ignore: kernel === undefined,
  fn() {
    for (const [seed, shift] of [[9, 0], [10, 2.5], [11, -4]] as const) {
      const row = seeded(300, seed, 3).map((v) => v + shift);
      row[7] = 0;
      const { codes, zero, scale } = quantizeActivationRow(row);
      ok(zero >= 0 && zero <= 255 && scale > 0);
      equal(codes[7], zero, "0 is stored exactly");
      for (let c = 0; c < row.length; c++) {
        ok(codes[c]! >= 0 && codes[c]! <= 255);
        ok(Math.abs((codes[c]! - zero) * scale - row[c]!) <= scale / 2 + 1e-6);
      }
      // the row's range spans the codes: its extremes are at 0 and 255 (or at the zero point)
      ok(Math.min(...codes) <= 1 || zero === 0 && shift > 0);
      ok(Math.max(...codes) >= 254);
    }
  },
});

Deno.test({
  name: "int8 kernel: no rows, no columns, K = 0, zero rows and NaN",
  ignore: kernel === undefined,
  fn() {
    const w = quantizeRows(seeded(6 * 20, 2), [6, 20], "int8");
    deepEqual(run(new Float32Array(0), 0, w), new Float32Array(0));
    const empty = new QuantizedWeight("int8", [0, 20], new Int8Array(0), new Float32Array(0));
    deepEqual(run(seeded(40, 1), 2, empty), new Float32Array(0));
    const noK = new QuantizedWeight("int8", [3, 0], new Int8Array(0), new Float32Array(3));
    deepEqual(
      run(new Float32Array(0), 2, noK, new Float32Array([1, 2, 3])),
      new Float32Array([1, 2, 3, 1, 2, 3]),
    );
    // a row of zeros gives the bias exactly; the next row is unaffected
    const x = new Float32Array(3 * 20);
    x.set(seeded(20, 4), 20);
    const bias = seeded(6, 8);
    const out = run(x, 3, w, bias);
    deepEqual(out.subarray(0, 6), bias);
    deepEqual(out.subarray(12, 18), bias);
    assertClose(
      out.subarray(6, 12),
      reference(quantizedActivations(x.subarray(20, 40), 1, 20), w, bias),
      "row 1",
    );
    // NaN in a row makes that row's outputs NaN, not a number
    const withNaN = seeded(40, 6);
    withNaN[3] = NaN;
    const nan = run(withNaN, 2, w);
    ok(nan.subarray(0, 6).every(Number.isNaN));
    ok(nan.subarray(6).every(Number.isFinite));
    // so does an infinity (its row has no finite scale), wherever it is in the row
    for (const at of [0, 17, 19]) {
      const withInf = seeded(40, 6);
      withInf[20 + at] = -Infinity;
      const inf = run(withInf, 2, w);
      ok(inf.subarray(0, 6).every(Number.isFinite) && inf.subarray(6).every(Number.isNaN));
    }
  },
});

Deno.test({
  name:
    "int8 kernel: extreme codes and weights up to the largest K do not overflow; past it, refused",
  ignore: kernel === undefined,
  fn() {
    for (const k of [4096, 5000, MAX_K]) {
      // W all -128 (a stored checkpoint may hold it), x all equal: every code is 255
      const w = new QuantizedWeight(
        "int8",
        [2, k],
        new Int8Array(2 * k).fill(-128),
        new Float32Array([1, 0.5]),
      );
      const x = new Float32Array(k).fill(1.5);
      const out = run(x, 1, w);
      const want = -128 * 1.5 * k;
      ok(Math.abs(out[0]! - want) <= 1e-5 * Math.abs(want), `K = ${k}: ${out[0]} vs ${want}`);
      ok(Math.abs(out[1]! - want / 2) <= 1e-5 * Math.abs(want), `K = ${k}: ${out[1]}`);
    }
    const k = MAX_K + 1;
    const w = new QuantizedWeight("int8", [1, k], new Int8Array(k), new Float32Array([1]));
    throws(
      () => kernel!.product(new Float32Array(k), 1, w, undefined, new Float32Array(1)),
      (e: unknown) => e instanceof RangeError && e.message.includes(`K = ${k}`),
    );
  },
});

Deno.test({
  name: "int8 kernel: a weight made outside kernel memory moves in once, values unchanged",
  ignore: kernel === undefined,
  fn() {
    const memory = kernelMemory()!;
    const w = quantizeRows(seeded(10 * 30, 12), [10, 30], "int8");
    const before = Int8Array.from(w.data as Int8Array);
    equal(memory.addressOf(w.data), undefined);
    const x = seeded(2 * 30, 13);
    const first = run(x, 2, w);
    const moved = w.data;
    ok(memory.addressOf(moved) !== undefined);
    deepEqual(Int8Array.from(moved as Int8Array), before);
    deepEqual(run(x, 2, w), first);
    equal(w.data, moved, "not moved twice");
  },
});

Deno.test({
  name: "int8 kernel: refuses a float16 weight and arrays that do not fit",
  ignore: kernel === undefined,
  fn() {
    const half = quantizeRows(seeded(8, 1), [2, 4], "float16");
    throws(
      () => kernel!.product(new Float32Array(4), 1, half, undefined, new Float32Array(2)),
      TypeError,
    );
    const w = quantizeRows(seeded(8, 1), [2, 4], "int8");
    throws(
      () => kernel!.product(new Float32Array(3), 1, w, undefined, new Float32Array(2)),
      /x \[1, K\].*3 values of x/,
    );
    throws(
      () => kernel!.product(new Float32Array(4), 1, w, new Float32Array(3), new Float32Array(2)),
      /a bias of 3/,
    );
  },
});

Deno.test("Int8Kernel.create gives a kernel wherever SharedArrayBuffer and SIMD exist", () => {
  equal(Int8Kernel.create() !== undefined, typeof SharedArrayBuffer === "function");
  // Deno has relaxed SIMD: its forms and the standard one run (and are compared above); one plane
  // of codes only where the relaxed dot is unsigned
  const expected = relaxedDotIsUnsigned() ? 3 : 2;
  equal(forms.length, typeof SharedArrayBuffer === "function" ? expected : 0);
  ok(forms[0]?.relaxed === true && forms.at(-1)?.relaxed === false);
});
