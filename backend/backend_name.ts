/**
 * The names of the backends `setBackend` knows.
 * @module
 */

/** A backend `setBackend` accepts; "auto" picks the fastest that can start. */
export type BackendName = "auto" | "webgpu" | "node-gpu" | "wasm" | "cpu" | "blas";

/** A concrete backend: every {@linkcode BackendName} except "auto". */
export type ConcreteBackendName = Exclude<BackendName, "auto">;

/** Every name `setBackend` accepts. */
export const BACKEND_NAMES: readonly BackendName[] = [
  "auto",
  "webgpu",
  "node-gpu",
  "wasm",
  "cpu",
  "blas",
];

/** The order "auto" tries backends in (node-gpu runs only when named). */
export const AUTO_ORDER: readonly ConcreteBackendName[] = [
  "webgpu",
  "blas",
  "wasm",
  "cpu",
];
