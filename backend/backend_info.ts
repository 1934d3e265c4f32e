/**
 * What the current TensorFlow.js backend is and how it runs.
 * @module
 */
import { tf } from "./tf.ts";

/** Description of the backend TensorFlow.js currently runs on. */
export interface BackendInfo {
  /** The backend as this package names it ("cpu", "wasm", "webgpu", "node-gpu", "blas"), or tfjs's name when it was chosen outside `setBackend`. */
  backend: string;
  /** tfjs's own name for it (`tf.getBackend()`), e.g. "tensorflow" for node-gpu; "" when none yet. */
  tfBackend: string;
  /** The WebGPU adapter's description; null for other backends. */
  adapter: string | null;
  /** Whether that adapter is a software fallback; null for other backends. */
  fallbackAdapter: boolean | null;
  /** CPU threads the kernels use (1 for cpu; the XNNPACK pool for wasm); null when not known. */
  threads: number | null;
  /** Whether the wasm SIMD build runs; null for other backends. */
  simd: boolean | null;
  /**
   * For wasm: whether large matrix products run on the relaxed-SIMD fused multiply-add kernel
   * (`wasmFma`) instead of tfjs's XNNPACK; null for other backends.
   */
  fma: boolean | null;
}

let recorded: BackendInfo | undefined;

/**
 * Stores the details `setBackend` learned while starting a backend.
 *
 * @param info the details of the backend just started
 */
export function recordBackendInfo(info: BackendInfo): void {
  recorded = { ...info };
}

/**
 * Describes the backend TensorFlow.js currently runs on.
 *
 * @example
 * ```ts
 * import { getBackendInfo } from "@dpr/dpr";
 * console.log(getBackendInfo().tfBackend);
 * ```
 *
 * @returns name, adapter and threads of the current backend
 */
export function getBackendInfo(): BackendInfo {
  const current = (tf.engine() as unknown as { backendName: string | null }).backendName ?? "";
  if (recorded !== undefined && recorded.tfBackend === current) return { ...recorded };
  return {
    backend: current === "tensorflow" ? "node-gpu" : current,
    tfBackend: current,
    adapter: null,
    fallbackAdapter: null,
    threads: current === "cpu" ? 1 : null,
    simd: null,
    fma: null,
  };
}
