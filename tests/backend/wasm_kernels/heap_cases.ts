/**
 * Cases of `register_test.ts` that run in a child process (`runInChild`), where tfjs's wasm heap
 * holds nothing else.
 * @module
 */
import { tf } from "../../../backend/tf.ts";
import { setBackend } from "../../../backend/set_backend.ts";
import { chooseWasmProducts } from "../../../backend/wasm_kernels/register.ts";

/**
 * A question's rows times a dense weight (one B matrix) on wasm, first on the package's kernel,
 * then on XNNPACK: how much each grew tfjs's heap (XNNPACK keeps a packed copy of B for as long
 * as B lives; the kernel keeps nothing).
 * @returns the weight's bytes and each run's heap growth in bytes
 */
export async function productHeapGrowth(): Promise<Record<string, number>> {
  const chosen = await setBackend("wasm", { wasmThreads: 1 });
  if (!chosen.info.fma) throw new Error(`the kernel does not run here: ${chosen.reason}`);
  const heap = () => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8;
  const [m, k, n] = [5, 3072, 4096];
  const x = tf.randomUniform([m, k], -1, 1, "float32", 1) as tf.Tensor2D;
  const w = tf.randomUniform([k, n], -1, 1, "float32", 2) as tf.Tensor2D;
  const bias = tf.randomUniform([n], -1, 1, "float32", 3);
  const product = () => {
    const before = heap().buffer.byteLength;
    tf.fused.matMul({ a: x, b: w, bias }).dispose();
    return heap().buffer.byteLength - before;
  };
  const kernel = product() + product();
  chooseWasmProducts(false, 1);
  const xnnpack = product() + product();
  tf.dispose([x, w, bias]);
  return { weightBytes: k * n * 4, kernel, xnnpack };
}
