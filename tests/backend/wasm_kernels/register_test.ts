import assert from "node:assert/strict";
import { seeded } from "../../seeded.ts";
import { tf } from "../../../backend/tf.ts";
import { setBackend } from "../../../backend/set_backend.ts";
import { relaxedSimdSupported, WasmGemm } from "../../../backend/wasm_kernels/wasm_gemm.ts";
import { MIN_SIZE, wasmGemmProducts } from "../../../backend/wasm_kernels/register.ts";
import { gemmModuleBytes } from "../../../backend/wasm_kernels/gemm_module.ts";
import { DPRConfig } from "../../../models/config.ts";
import { DPRContextEncoder } from "../../../models/dpr_context_encoder.ts";
import { runInChild } from "../backends.ts";

const relaxed = relaxedSimdSupported();
if (!relaxed) {
  console.log("wasm_kernels/register_test: this engine lacks relaxed SIMD; kernel cases skipped");
}

/** op(A)·op(B) + bias in float64, row-major. */
function reference(
  a: Float32Array,
  transA: boolean,
  b: Float32Array,
  transB: boolean,
  m: number,
  k: number,
  n: number,
  bias?: Float32Array,
  activation?: "relu",
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias?.[j] ?? 0;
      for (let p = 0; p < k; p++) {
        s += (transA ? a[p * m + i]! : a[i * k + p]!) * (transB ? b[j * k + p]! : b[p * n + j]!);
      }
      out[i * n + j] = activation === "relu" ? Math.max(0, s) : s;
    }
  }
  return out;
}

function maxError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length);
  let e = 0;
  for (let i = 0; i < actual.length; i++) e = Math.max(e, Math.abs(actual[i]! - expected[i]!));
  return e;
}

/** A bump allocator over a memory of its own, for driving WasmGemm without tfjs. */
function ownHeap(shared: boolean) {
  const memory = new WebAssembly.Memory(
    shared ? { initial: 1, maximum: 65536, shared: true } : { initial: 1 },
  );
  let top = 64;
  const malloc = (bytes: number): number => {
    const at = top;
    top = Math.ceil((top + bytes) / 64) * 64;
    const have = memory.buffer.byteLength;
    if (top > have) memory.grow(Math.ceil((top - have) / 65536));
    return at;
  };
  const put = (data: Float32Array): number => {
    const at = malloc(data.length * 4);
    new Float32Array(memory.buffer, at, data.length).set(data);
    return at;
  };
  return { memory, malloc, free: () => {}, put };
}

Deno.test("the generated kernel module is valid WebAssembly in both forms (with and without FMA)", () => {
  assert.ok(WebAssembly.validate(gemmModuleBytes({ shared: false, minPages: 1 }, false)));
  assert.ok(
    WebAssembly.validate(gemmModuleBytes({ shared: true, minPages: 1, maxPages: 16 }, false)),
  );
  assert.equal(
    WebAssembly.validate(gemmModuleBytes({ shared: false, minPages: 1 }, true)),
    relaxed,
  );
});

for (const threads of [1, 2]) {
  Deno.test({
    name:
      `WasmGemm on ${threads} thread(s) matches float64 for ragged shapes, transposes, bias, ReLU`,
    ignore: !relaxed,
    fn() {
      const heap = ownHeap(threads > 1);
      const gemm = new WasmGemm(heap.memory, heap, threads);
      try {
        assert.equal(gemm.threads, threads);
        const cases: Array<[number, number, number]> = [
          [1, 1, 8],
          [7, 5, 8],
          [13, 300, 16],
          [100, 513, 24],
          [65, 1, 8],
          [31, 64, 40], // few rows, K a multiple of 4: B read in place
          [5, 1028, 48], // B read in place over several k blocks
          [200, 260, 16], // many rows: B packed
        ];
        for (const [m, k, n] of cases) {
          for (
            const [transA, transB, withBias, activation] of [
              [false, false, true, undefined],
              [true, false, false, "relu"],
              [false, true, true, "relu"],
              [true, true, false, undefined],
            ] as const
          ) {
            const a = seeded(m * k, m + k), b = seeded(k * n, k + n);
            const bias = withBias ? seeded(n, n) : undefined;
            const out = heap.malloc(WasmGemm.paddedRows(m) * n * 4);
            gemm.run({
              a: heap.put(a),
              transA,
              b: heap.put(b),
              transB,
              m,
              k,
              n,
              bias: bias === undefined ? undefined : heap.put(bias),
              activation,
              out,
            });
            const got = new Float32Array(heap.memory.buffer, out, m * n);
            const want = reference(a, transA, b, transB, m, k, n, bias, activation);
            const error = maxError(got, want);
            assert.ok(
              error < 1e-5 * Math.sqrt(k) + 1e-6,
              `[${m}, ${k}] x [${k}, ${n}] transA=${transA} transB=${transB}: error ${error}`,
            );
          }
        }
        assert.throws(
          () => gemm.run({ a: 0, transA: false, b: 0, transB: false, m: 8, k: 8, n: 12, out: 0 }),
          /N = 12 is not a multiple of 8/,
        );
      } finally {
        gemm.dispose();
      }
      assert.throws(
        () => gemm.run({ a: 0, transA: false, b: 0, transB: false, m: 1, k: 1, n: 8, out: 0 }),
        /used after dispose/,
      );
    },
  });
}

Deno.test({
  name: "wasm with the FMA kernel: matMul and fused matMul equal cpu's for every shape kind",
  ignore: !relaxed,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // [a shape, b shape, transposeA, transposeB]: big enough for the kernel unless noted.
    const R = MIN_SIZE;
    const cases: Array<[number[], number[], boolean, boolean]> = [
      [[R + 2, R + 8], [R + 8, R + 8], false, false],
      [[3, R / 2, R + 1], [R + 1, R], false, false], // leading dimensions fold into M
      [[R + 1, R + 4], [R + 1, R], true, false],
      [[R + 4, R + 1], [R, R + 1], false, true],
      [[2, R / 2 + 6, R], [1, R, R], false, false], // B with a leading 1
      [[R - 1, R], [R, R], false, false], // few rows, B one matrix: the kernel
      [[5, R + 4], [R + 4, 2 * R], false, false], // a question's rows on a weight: the kernel
      [[R + 4, R], [R, R + 4], false, false], // N not a multiple of 8: XNNPACK
      [[R, 64], [64, R], false, false], // K under MIN_SIZE: XNNPACK
      [[2, R + 16, R], [2, R, R], false, false], // batches of both
      [[R + 16, R], [3, R, R], false, false], // one A, three B
      [[2, R, R + 6], [R, R], true, false], // transposed A batches, one B
    ];
    const counted = wasmGemmProducts();
    const results: Array<{ plain: Float32Array; fused: Float32Array; shapes: number[][] }> = [];
    for (const backend of ["cpu", "wasm"] as const) {
      const chosen = await setBackend(backend);
      if (backend === "wasm") assert.equal(chosen.info.fma, true, chosen.reason);
      cases.forEach(([as, bs, transposeA, transposeB], c) => {
        const a = tf.tensor(seeded(as.reduce((x, y) => x * y), 3 + c), as);
        const b = tf.tensor(seeded(bs.reduce((x, y) => x * y), 5 + c), bs);
        const n = transposeB ? bs[bs.length - 2]! : bs[bs.length - 1]!;
        const bias = tf.tensor1d(seeded(n, 7 + c));
        const plain = tf.matMul(a, b, transposeA, transposeB);
        const fused = tf.fused.matMul({
          a: a as tf.Tensor3D,
          b: b as tf.Tensor3D,
          transposeA,
          transposeB,
          bias,
          activation: "relu",
        });
        const entry = {
          plain: plain.dataSync() as Float32Array,
          fused: fused.dataSync() as Float32Array,
          shapes: [plain.shape, fused.shape],
        };
        if (backend === "cpu") results.push(entry);
        else {
          const want = results[c]!;
          assert.deepEqual(entry.shapes, want.shapes, `case ${c}: shapes`);
          assert.ok(maxError(entry.plain, want.plain) < 1e-4, `case ${c}: matMul`);
          assert.ok(maxError(entry.fused, want.fused) < 1e-4, `case ${c}: fused matMul`);
        }
        tf.dispose([a, b, bias, plain, fused]);
      });
    }
    assert.equal(
      wasmGemmProducts() - counted,
      2 * 10,
      "all but the two XNNPACK cases ran on the kernel",
    );
    const before = tf.memory().numBytes;
    const x = tf.ones([200, 64]), w = tf.ones([64, 32]);
    for (let i = 0; i < 5; i++) tf.matMul(x, w).dispose();
    tf.dispose([x, w]);
    assert.equal(tf.memory().numBytes, before, "products leave no tensors behind");
  },
});

Deno.test({
  name: "wasm encodes the same with the FMA kernel as with XNNPACK and as cpu (1e-4)",
  ignore: !relaxed,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const config = new DPRConfig({
      vocabSize: 120,
      hiddenSize: 128,
      numHiddenLayers: 2,
      numAttentionHeads: 4,
      intermediateSize: 256,
      maxPositionEmbeddings: 64,
    });
    const ids = tf.tensor2d(
      Int32Array.from({ length: 4 * 40 }, (_, i) => 1 + (i * 37) % 119),
      [4, 40], // 160 rows: at least MIN_SIZE
      "int32",
    );
    const encode = async (backend: "cpu" | "wasm", fma?: boolean) => {
      const chosen = await setBackend(backend, fma === undefined ? {} : { wasmFma: fma });
      const model = new DPRContextEncoder(config, { seed: 11 });
      const out = model.forward({ inputIds: ids }).poolerOutput;
      const v = out.dataSync() as Float32Array;
      out.dispose();
      model.dispose?.();
      return { v, info: chosen.info, reason: chosen.reason };
    };
    const cpu = await encode("cpu");
    const counted = wasmGemmProducts();
    const off = await encode("wasm", false);
    assert.equal(wasmGemmProducts(), counted, "turned off, the kernel runs nothing");
    assert.equal(off.info.fma, false);
    assert.match(off.reason, /turned off/);
    const on = await encode("wasm", true);
    assert.ok(wasmGemmProducts() >= counted + 4, "a layer's products ran on the kernel");
    assert.equal(on.info.fma, true);
    assert.match(on.reason, /relaxed-SIMD/);
    const scale = Math.max(...cpu.v.map(Math.abs));
    assert.ok(maxError(on.v, cpu.v) / scale < 1e-4, `fma vs cpu: ${maxError(on.v, cpu.v)}`);
    assert.ok(maxError(off.v, cpu.v) / scale < 1e-4, `xnnpack vs cpu: ${maxError(off.v, cpu.v)}`);
  },
});

Deno.test({
  name: "wasm: a question's rows times a weight matrix run on the kernel for odd shapes, as cpu",
  ignore: !relaxed,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // [rows, in, out]: rows a question's few (1 to 127), in and out at least MIN_SIZE, some odd.
    const R = MIN_SIZE;
    const cases: Array<[number, number, number]> = [
      [1, R, R],
      [3, R + 1, R + 8],
      [12, 2 * R + 3, 3 * R],
      [31, R + 5, 4 * R + 8],
      [R - 1, 3 * R + 7, R + 16],
    ];
    for (const threads of [1, 2]) {
      for (const [c, [m, k, n]] of cases.entries()) {
        for (const activation of ["linear", "relu"] as const) {
          const run = async (backend: "cpu" | "wasm") => {
            await setBackend(backend, backend === "wasm" ? { wasmThreads: threads } : {});
            return tf.tidy(() => {
              const a = tf.tensor2d(seeded(m * k, 40 + c), [m, k]);
              const b = tf.tensor2d(seeded(k * n, 50 + c), [k, n]);
              const bias = tf.tensor1d(seeded(n, 60 + c));
              return tf.fused.matMul({ a, b, bias, activation }).dataSync() as Float32Array;
            });
          };
          const want = await run("cpu");
          const counted = wasmGemmProducts();
          const got = await run("wasm");
          const where = `[${m}, ${k}] x [${k}, ${n}], ${activation}, ${threads} thread(s)`;
          assert.equal(wasmGemmProducts(), counted + 1, `${where}: ran on the kernel`);
          assert.ok(maxError(got, want) < 1e-4, `${where}: error ${maxError(got, want)}`);
        }
      }
    }
    await setBackend("cpu");
  },
});

Deno.test({
  name: "wasm: products on a weight matrix keep no packed copy of it (XNNPACK's does)",
  ignore: !relaxed,
  async fn() {
    const { weightBytes, kernel, xnnpack } = await runInChild(
      new URL("./heap_cases.ts", import.meta.url),
      "productHeapGrowth",
    ) as Record<string, number>;
    // The kernel's scratch is a few hundred KB, but a heap that grows at all grows by a fifth
    // of its size (Emscripten's policy): here about 10 MB, a fifth of the weight.
    assert.ok(kernel! < weightBytes! / 3, `the kernel grew the heap by ${kernel} bytes`);
    // The measurement sees a packed copy: XNNPACK's grew the heap by at least half of it.
    assert.ok(xnnpack! >= weightBytes! / 2, `XNNPACK grew the heap by ${xnnpack} bytes`);
  },
});

Deno.test("setBackend refuses a wasmFma that is not a boolean, naming it", async () => {
  await assert.rejects(
    () => setBackend("wasm", { wasmFma: "yes" as unknown as boolean }),
    /wasmFma must be true or false: received "yes"/,
  );
});
