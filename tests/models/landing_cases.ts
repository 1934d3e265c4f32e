/**
 * Cases of `weight_landing_test.ts` that run in a child process (`runInChild`), where tfjs's
 * wasm heap holds nothing else.
 * @module
 */
import { tf } from "../../backend/tf.ts";
import { setBackend } from "../../backend/set_backend.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";

/** The wasm module's allocator as tfjs's JavaScript reaches it. */
interface WasmAllocator {
  wasm: { _malloc(bytes: number): number; _free(address: number): void };
}

/**
 * Loads the float32 question encoder in `dir` on wasm (one thread) while counting the bytes
 * tfjs's JavaScript holds allocated in the wasm heap (tensors and their temporaries).
 * @returns the most held at once during the load, what the loaded model holds, and the bytes of
 *   its weights
 */
export async function loadHeapPeak(
  dir: string,
): Promise<{ peak: number; held: number; weights: number }> {
  await setBackend("wasm", { wasmThreads: 1 });
  const wasm = (tf.backend() as unknown as WasmAllocator).wasm;
  // Emscripten binds its exports on their first call, replacing these properties: call both
  // once before wrapping them.
  wasm._free(wasm._malloc(8));
  const { _malloc: malloc, _free: free } = wasm;
  const sizes = new Map<number, number>();
  let held = 0, peak = 0;
  wasm._malloc = (bytes: number) => {
    const address = malloc(bytes);
    sizes.set(address, bytes);
    held += bytes;
    peak = Math.max(peak, held);
    return address;
  };
  wasm._free = (address: number) => {
    held -= sizes.get(address) ?? 0;
    sizes.delete(address);
    free(address);
  };
  const start = held;
  peak = held;
  const model = await DPRQuestionEncoder.fromPretrained(dir, { dtype: "float32" });
  const result = {
    peak: peak - start,
    held: held - start,
    weights: [...model.stateDict().values()].reduce((sum, t) => sum + t.data.byteLength, 0),
  };
  wasm._malloc = malloc;
  wasm._free = free;
  model.dispose();
  return result;
}
