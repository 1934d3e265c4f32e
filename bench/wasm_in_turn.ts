/**
 * The wasm rows of `deno task bench`: XNNPACK's products and the package's relaxed-SIMD kernel
 * timed pass by pass in turn.
 * @module
 */
import { chooseWasmProducts } from "../backend/wasm_kernels/register.ts";
import { getBackendInfo } from "../backend/backend_info.ts";

/** Whether wasm runs the relaxed-SIMD kernel (turned on, if it was off). */
export function wasmFmaRuns(): boolean {
  return chooseWasmProducts(true, getBackendInfo().threads ?? 1).fma;
}

/**
 * Times XNNPACK's products and the relaxed-SIMD kernel on wasm pass by pass in turn, so that
 * the machine's drift falls on both alike; leaves the kernel on.
 */
export async function inTurn(
  pass: () => Promise<number[]>,
  warmup: number,
  iters: number,
): Promise<{ xnnpack: number[]; withFma: number[] }> {
  const threads = getBackendInfo().threads ?? 1;
  const xnnpack: number[] = [], withFma: number[] = [];
  for (let i = -warmup; i < iters; i++) {
    chooseWasmProducts(false, threads);
    const x = await pass();
    chooseWasmProducts(true, threads);
    const f = await pass();
    if (i >= 0) {
      xnnpack.push(...x);
      withFma.push(...f);
    }
  }
  return { xnnpack, withFma };
}
