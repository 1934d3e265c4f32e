/**
 * The quantized linear kernel of the wasm backend, `x @ Wᵀ + bias`, for every row count (a
 * question's few rows included: XNNPACK cannot read quantized values):
 * - int8 W: integer products on W's values in place (`int8_product.ts`), x quantized per row on
 *   the fly;
 * - float16 W, or an engine without kernel memory: the relaxed-SIMD float kernel
 *   ({@link WasmGemm}) with W dequantized while B is packed (B is packed per call anyway), so the
 *   only float32 form of W is the packed scratch of one product.
 * @module
 */
import type { tf } from "../tf.ts";
import type { QuantizedWeight } from "../quantized/quantized_weight.ts";
import { float16Table } from "../float16_bits.ts";
import { type PackBlock, WasmGemm } from "./wasm_gemm.ts";
import { type Int8Kernel, int8Kernel, MAX_K } from "./int8_product.ts";

/** What the kernel needs of tfjs's wasm backend. */
export interface WasmHeapBackend {
  wasm: { _malloc(bytes: number): number; _free(address: number): void; HEAPU8?: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
}

/**
 * Whether {@link wasmQuantizedProduct} takes a weight of `n` output features: int8 always where
 * the integer kernel runs (K up to its `MAX_K`); otherwise whole 8-column tiles of the float
 * kernel.
 * @param n output features
 * @param weight the weight
 */
export function wasmQuantizedSupports(n: number, weight?: QuantizedWeight): boolean {
  if (weight !== undefined && integerKernelFor(weight) !== undefined) return true;
  return n > 0 && n % WasmGemm.columnMultiple === 0;
}

/** The integer kernel where it takes `weight` (int8, K up to its `MAX_K`), else undefined. */
function integerKernelFor(weight: QuantizedWeight): Int8Kernel | undefined {
  return weight.layout === "int8" && weight.shape[1] <= MAX_K ? int8Kernel() : undefined;
}

/**
 * Packs a k block of the B that `weight` ([N, K], rows are output channels) stands for: B[k][j]
 * is W[j][k], dequantized.
 */
function quantizedPacker(weight: QuantizedWeight): PackBlock {
  const k = weight.shape[1];
  if (weight.layout === "float16") {
    const table = float16Table(), data = weight.data as Uint16Array;
    return (f32, dst, k0, kc, kcp, panels, nr) => {
      for (let p = 0; p < panels; p++) {
        const panel = dst + p * kcp * nr;
        for (let j = 0; j < nr; j++) {
          const row = (p * nr + j) * k + k0;
          for (let c = 0; c < kc; c++) f32[panel + c * nr + j] = table[data[row + c]!]!;
          for (let c = kc; c < kcp; c++) f32[panel + c * nr + j] = 0;
        }
      }
    };
  }
  const data = weight.data as Int8Array, scales = weight.scales!;
  return (f32, dst, k0, kc, kcp, panels, nr) => {
    for (let p = 0; p < panels; p++) {
      const panel = dst + p * kcp * nr;
      for (let j = 0; j < nr; j++) {
        const scale = scales[p * nr + j]!, row = (p * nr + j) * k + k0;
        for (let c = 0; c < kc; c++) f32[panel + c * nr + j] = data[row + c]! * scale;
        for (let c = kc; c < kcp; c++) f32[panel + c * nr + j] = 0;
      }
    }
  };
}

/**
 * Runs `x @ Wᵀ + bias` into a new output tensor.
 * @param gemm the engine on the backend's memory
 * @param backend tfjs's wasm backend
 * @param x float32 [M, K] in wasm memory
 * @param weight [N, K], N a multiple of {@link WasmGemm.columnMultiple}
 * @param bias float32 [N] in wasm memory, or undefined
 * @returns the output [M, N]
 * @throws RangeError when the scratch or output cannot be allocated (naming the bytes)
 */
export function wasmQuantizedProduct(
  gemm: WasmGemm,
  backend: WasmHeapBackend,
  x: tf.TensorInfo,
  weight: QuantizedWeight,
  bias: tf.TensorInfo | undefined,
): tf.TensorInfo {
  const [n, k] = weight.shape;
  const m = x.shape[0]!;
  const address = (t: tf.TensorInfo) => backend.dataIdMap.get(t.dataId)!.memoryOffset;
  const integer = integerKernelFor(weight);
  if (integer !== undefined && backend.wasm.HEAPU8 !== undefined) {
    const outBytes = Math.max(4, m * n * 4);
    const out = backend.wasm._malloc(outBytes);
    if (out === 0) {
      throw new RangeError(
        `wasm quantized product: could not allocate ${outBytes} bytes of output`,
      );
    }
    try {
      const heap = backend.wasm.HEAPU8.buffer; // read after the allocation (it may grow the heap)
      integer.product(
        new Float32Array(heap, address(x), m * k),
        m,
        weight,
        bias === undefined ? undefined : new Float32Array(heap, address(bias), n),
        new Float32Array(heap, out, m * n),
      );
    } catch (error) {
      backend.wasm._free(out);
      throw error;
    }
    return backend.makeOutput([m, n], "float32", out);
  }
  const bytes = WasmGemm.paddedRows(m) * n * 4;
  const out = backend.wasm._malloc(bytes);
  if (out === 0) {
    throw new RangeError(`wasm quantized product: could not allocate ${bytes} bytes of output`);
  }
  try {
    gemm.run({
      a: address(x),
      transA: false,
      b: 0,
      transB: true,
      m,
      k,
      n,
      bias: bias === undefined ? undefined : address(bias),
      out,
      packB: quantizedPacker(weight),
    });
  } catch (error) {
    backend.wasm._free(out);
    throw error;
  }
  return backend.makeOutput([m, n], "float32", out);
}
