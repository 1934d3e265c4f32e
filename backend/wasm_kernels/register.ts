/**
 * Puts {@link WasmGemm} under tfjs's wasm backend: its `_FusedMatMul` and `BatchMatMul` kernels
 * are replaced by ones that run large float32 products and every product on one weight matrix
 * (N a multiple of the tile width, linear or ReLU activation, batches equal or one side single)
 * on the relaxed-SIMD kernel and hand everything else to the kernels they replaced.
 * `uninstallWasmGemm` puts the originals back.
 *
 * Besides speed, this sidesteps a tfjs-backend-wasm 4.22 bug: its `_FusedMatMul` with a bias
 * returns wrong values for batched or transposed operands (checked against cpu in the tests).
 * @module
 */
import { envFlag } from "../env.ts";
import { tf } from "../tf.ts";
import { relaxedSimdSupported, WasmGemm } from "./wasm_gemm.ts";
import { registerQuantizedLinear, unregisterQuantizedLinear } from "../ops/quantized_linear.ts";
import type { QuantizedWeight } from "../quantized/quantized_weight.ts";
import { wasmQuantizedProduct, wasmQuantizedSupports } from "./quantized_product.ts";
import { useKernelMemory } from "../quantized/kernel_memory.ts";

/**
 * Products smaller than this in their shared dimension or columns stay on XNNPACK (a pass ran
 * faster with attention's 64-wide products left there), as do batched ones with fewer rows.
 * A product whose B is one untransposed matrix (a dense layer's weight) runs here at every row
 * count: XNNPACK would keep a packed copy of every weight, while for few rows the kernel packs
 * B a chunk at a time, per thread, and keeps nothing.
 */
export const MIN_SIZE = 128;

const KERNELS = ["_FusedMatMul", "BatchMatMul"] as const;

interface WasmBackendInternals {
  wasm: {
    wasmMemory?: WebAssembly.Memory;
    asm?: { memory?: WebAssembly.Memory };
    _malloc(bytes: number): number;
    _free(address: number): void;
  };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
}

let originals: Map<string, tf.KernelConfig> | undefined;
let engine: WasmGemm | undefined;
let wantedThreads = 1;
let productsRun = 0;

/** Products the relaxed-SIMD kernel has computed in this process (for tests and logs). */
export function wasmGemmProducts(): number {
  return productsRun;
}

/**
 * `DPR_WASM_FMA` read without prompting (`backend/env.ts`'s flag words); true when unset or not
 * permitted.
 * @throws RangeError for a value that is not a flag word
 */
export function wasmFmaFromEnv(): boolean {
  return envFlag("DPR_WASM_FMA", true);
}

/**
 * Installs or removes the products as asked, for a wasm backend running `threads` threads.
 * @returns whether they run now and a phrase saying so (and why not)
 */
export function chooseWasmProducts(
  wanted: boolean,
  threads: number,
): { fma: boolean; note: string } {
  if (!wanted) {
    uninstallWasmGemm({ stopThreads: false });
    return { fma: false, note: "XNNPACK matrix products (relaxed-SIMD kernel turned off)" };
  }
  if (installWasmGemm(threads)) {
    return { fma: true, note: "relaxed-SIMD fused multiply-add matrix products" };
  }
  return { fma: false, note: "XNNPACK matrix products (this engine lacks relaxed SIMD)" };
}

/**
 * Installs the products on the wasm backend (idempotent).
 * @param threads threads per product (the wasm backend's own count)
 * @returns false, changing nothing, when the engine lacks relaxed SIMD
 */
export function installWasmGemm(threads: number): boolean {
  if (!relaxedSimdSupported()) return false;
  wantedThreads = threads;
  if (originals !== undefined) return true;
  const saved = new Map<string, tf.KernelConfig>();
  for (const name of KERNELS) {
    const original = tf.getKernel(name, "wasm");
    if (original === undefined) return false;
    saved.set(name, original);
  }
  originals = saved;
  // Quantized weights: every product whose width fits the kernel's tiles (a question's few rows
  // too: XNNPACK cannot read quantized values); the others run the composite form.
  registerQuantizedLinear("wasm", quantizedKernel, ({ n }, w) => wasmQuantizedSupports(n, w));
  useKernelMemory(true); // a model's int8 weights are allocated where the kernel reads them
  for (const name of KERNELS) {
    const original = saved.get(name)!;
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel({
      ...original,
      kernelFunc: (args) => matMulOr(original, name === "_FusedMatMul", args),
    });
  }
  return true;
}

/**
 * Puts tfjs's own kernels back.
 * @param options.stopThreads also stop the helper threads (default true); false keeps them
 *   waiting, so that installing again starts no workers (what `chooseWasmProducts` does)
 */
export function uninstallWasmGemm(options: { stopThreads?: boolean } = {}): void {
  if (options.stopThreads ?? true) {
    engine?.dispose();
    engine = undefined;
  }
  if (originals === undefined) return;
  unregisterQuantizedLinear("wasm");
  useKernelMemory(false);
  for (const [name, original] of originals) {
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel(original);
  }
  originals = undefined;
}

function engineFor(backend: WasmBackendInternals): WasmGemm | undefined {
  const memory = backend.wasm.wasmMemory ?? backend.wasm.asm?.memory;
  if (!(memory instanceof WebAssembly.Memory)) return undefined;
  if (engine === undefined || engine.memory !== memory) {
    engine?.dispose();
    engine = new WasmGemm(memory, {
      malloc: (bytes) => backend.wasm._malloc(bytes),
      free: (address) => backend.wasm._free(address),
    }, wantedThreads);
  }
  return engine;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** `x @ Wᵀ + bias` for a quantized W, on the relaxed-SIMD kernel (see `quantized_product.ts`). */
function quantizedKernel(args: KernelArgs): tf.TensorInfo {
  const { x, bias } = args.inputs as { x: tf.TensorInfo; bias?: tf.TensorInfo };
  const weight = (args.attrs as unknown as { weight: QuantizedWeight }).weight;
  const backend = args.backend as unknown as WasmBackendInternals;
  const gemm = engineFor(backend);
  if (gemm === undefined) {
    throw new Error("wasm quantized product: tfjs's wasm memory is not reachable");
  }
  return wasmQuantizedProduct(gemm, backend, x, weight, bias);
}

interface ProductAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** A matrix kernel: the relaxed-SIMD product where it applies, else the replaced kernel. */
function matMulOr(original: tf.KernelConfig, fused: boolean, args: KernelArgs) {
  const { a, b, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo>;
  const attrs = args.attrs as unknown as ProductAttrs & { activation?: string };
  const activation = fused ? attrs.activation ?? "linear" : "linear";
  if (
    a === undefined || b === undefined || preluActivationWeights !== undefined ||
    (activation !== "linear" && activation !== "relu")
  ) {
    return original.kernelFunc(args);
  }
  return tryProduct(args, a, b, bias, attrs, activation) ?? original.kernelFunc(args);
}

/**
 * Runs `activation(op(a)·op(b) + bias)` on the relaxed-SIMD kernel, or returns undefined when
 * the product is not one it takes (or it failed: then it warns once and uninstalls itself).
 */
function tryProduct(
  args: KernelArgs,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  bias: tf.TensorInfo | undefined,
  attrs: ProductAttrs,
  activation: "linear" | "relu",
): tf.TensorInfo | undefined {
  const plan = planProduct(a, b, attrs);
  if (plan === undefined) return undefined;
  if (
    bias !== undefined &&
    !(bias.dtype === "float32" && bias.shape.length === 1 && bias.shape[0] === plan.n)
  ) {
    return undefined;
  }
  const backend = args.backend as unknown as WasmBackendInternals;
  let gemm: WasmGemm | undefined;
  try {
    gemm = engineFor(backend);
  } catch (error) {
    giveUp(error as Error); // no helper thread could start, or the kernel did not compile
    return undefined;
  }
  if (gemm === undefined) return undefined;
  const address = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const { m, k, n, batches } = plan;
  // Batches run in order, so the padding rows one writes past its end are the next one's
  // first rows, rewritten right after; only the last needs room for them.
  const out = backend.wasm._malloc(((batches - 1) * m + WasmGemm.paddedRows(m)) * n * 4);
  if (out === 0) return undefined;
  try {
    for (let i = 0; i < batches; i++) {
      gemm.run({
        a: address(a) + i * plan.aStride * 4,
        transA: attrs.transposeA,
        b: address(b) + i * plan.bStride * 4,
        transB: attrs.transposeB,
        m,
        k,
        n,
        bias: bias === undefined ? undefined : address(bias),
        activation: activation === "relu" ? "relu" : undefined,
        out: out + i * m * n * 4,
      });
    }
  } catch (error) {
    backend.wasm._free(out);
    giveUp(error as Error); // a helper thread lost, or scratch refused
    return undefined;
  }
  productsRun++;
  return backend.makeOutput(plan.outShape, "float32", out);
}

/** Says once why the kernel stopped, and puts tfjs's kernels back for good. */
function giveUp(error: Error): void {
  uninstallWasmGemm();
  console.warn(
    `dpr: the relaxed-SIMD matrix kernel failed (${error.message}); ` +
      "wasm products run on XNNPACK from now on",
  );
}

interface ProductPlan {
  /** Rows, shared dimension and columns of each GEMM. */
  m: number;
  k: number;
  n: number;
  /** GEMMs, run one after the other. */
  batches: number;
  /** Elements between one GEMM's A (B) and the next one's; 0 when it is shared. */
  aStride: number;
  bStride: number;
  outShape: number[];
}

/**
 * The product as 2-D GEMMs, or undefined when it is not one this engine takes: float32; leading
 * dimensions equal, or all 1 on one side (A's folded into M when B is one matrix and A is not
 * transposed); N a multiple of the tile width; K and N at least {@link MIN_SIZE}, and M too
 * unless B is one matrix stored untransposed.
 */
function planProduct(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  attrs: { transposeA: boolean; transposeB: boolean },
): ProductPlan | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
  const ar = a.shape.length, br = b.shape.length;
  if (ar < 2 || br < 2) return undefined;
  const aOuter = a.shape.slice(0, ar - 2), bOuter = b.shape.slice(0, br - 2);
  const aBatches = aOuter.reduce((x, y) => x * y, 1);
  const bBatches = bOuter.reduce((x, y) => x * y, 1);
  const inner = attrs.transposeA ? a.shape[ar - 2]! : a.shape[ar - 1]!;
  const rows = attrs.transposeA ? a.shape[ar - 1]! : a.shape[ar - 2]!;
  const k = attrs.transposeB ? b.shape[br - 1]! : b.shape[br - 2]!;
  const n = attrs.transposeB ? b.shape[br - 2]! : b.shape[br - 1]!;
  if (inner !== k) return undefined; // the original kernel reports the mismatch
  if (n < MIN_SIZE || k < MIN_SIZE || n % WasmGemm.columnMultiple !== 0) return undefined;
  // Leading dimensions as tfjs broadcasts them, in the cases taken here.
  const pad = (dims: number[], rank: number) => [...new Array(rank - dims.length).fill(1), ...dims];
  const rank = Math.max(aOuter.length, bOuter.length);
  let outer: number[];
  if (bBatches === 1) outer = pad(aOuter, rank);
  else if (aBatches === 1) outer = pad(bOuter, rank);
  else if (tf.util.arraysEqual(aOuter, bOuter)) outer = aOuter;
  else return undefined;
  const outShape = [...outer, rows, n];
  const m = aBatches * rows;
  if (bBatches === 1 && !attrs.transposeA && (!attrs.transposeB || m >= MIN_SIZE)) {
    // B is one matrix (a dense layer's weight): every row count, a question's few too, since
    // XNNPACK would keep a packed copy of B for as long as B lives; the kernel packs B per
    // call, for few rows a chunk at a time (a transposed B it would pack whole, in JavaScript:
    // few rows on one leave it to XNNPACK).
    return { m, k, n, batches: 1, aStride: 0, bStride: 0, outShape };
  }
  if (rows < MIN_SIZE) return undefined;
  return {
    m: rows,
    k,
    n,
    batches: Math.max(aBatches, bBatches),
    aStride: aBatches === 1 ? 0 : rows * k,
    bStride: bBatches === 1 ? 0 : k * n,
    outShape,
  };
}
