/**
 * What `setBackend("auto")` may try, decided before trying: never by probing hardware that cannot
 * be used here, never by a permission prompt.
 *
 * - node-gpu is not in the auto order at all (importing tfjs-node-gpu reads environment variables
 *   and loads native code): it runs when named.
 * - webgpu is tried only where a GPU could answer: on Linux, a GPU device node must exist
 *   (`/dev/dri/renderD*`, `/dev/nvidia*`). Without one, the only adapter is a software one
 *   (slower than wasm), and asking for it loads the GPU driver stack for nothing.
 * - blas never prompts either: without `--allow-ffi` it reports itself unavailable.
 * - wasm is skipped when tfjs-backend-wasm's files cannot be read without a prompt.
 * @module
 */
import { fileURLToPath } from "node:url";
import type { ConcreteBackendName } from "./backend_name.ts";
import { wasmPackageFile } from "./wasm_backend.ts";

/** Whether `descriptor` is granted now (querying never prompts). */
function granted(descriptor: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(descriptor).state === "granted";
  } catch {
    return false;
  }
}

/** The GPU device nodes Linux has (DRM render nodes, NVIDIA's devices). */
function linuxGpuDevices(): string[] {
  const found: string[] = [];
  try {
    for (const entry of Deno.readDirSync("/dev/dri")) {
      if (/^renderD\d+$/.test(entry.name)) found.push(`/dev/dri/${entry.name}`);
    }
  } catch { /* no /dev/dri */ }
  try {
    Deno.statSync("/dev/nvidia0");
    found.push("/dev/nvidia0");
  } catch { /* no NVIDIA device */ }
  return found;
}

/**
 * Why "auto" skips webgpu without asking for an adapter, or undefined to ask.
 * @returns the reason, or undefined when an adapter request could find a GPU
 */
export function webGpuSkipReason(): string | undefined {
  if ((globalThis.navigator as { gpu?: unknown } | undefined)?.gpu === undefined) {
    return "this runtime has no WebGPU (navigator.gpu is undefined)";
  }
  if (Deno.build.os !== "linux") return undefined;
  const named = 'name "webgpu" (or DPR_BACKEND=webgpu) to use it';
  if (!granted({ name: "read", path: "/dev" })) {
    return "auto looks for a GPU device in /dev before asking for an adapter, and reading /dev " +
      `is not permitted (--allow-read); ${named}`;
  }
  if (linuxGpuDevices().length === 0) {
    return "no GPU device (no /dev/dri/renderD*, no /dev/nvidia0): the only adapter would be a " +
      `software one, slower than wasm; ${named} anyway`;
  }
  return undefined;
}

/**
 * Why "auto" skips wasm without trying it, or undefined to try it.
 * @returns the reason, or undefined when tfjs-backend-wasm's files are readable
 */
export function wasmSkipReason(): string | undefined {
  let path: string;
  try {
    path = fileURLToPath(wasmPackageFile("."));
  } catch {
    return undefined; // not found: trying it says why
  }
  if (granted({ name: "read", path })) return undefined;
  return `reading tfjs-backend-wasm's files (${path}) is not permitted (--allow-read)`;
}

/**
 * Why "auto" skips `backend` without trying it, or undefined to try it.
 * @param backend a backend of the auto order
 * @returns the reason, or undefined
 */
export function autoSkipReason(backend: ConcreteBackendName): string | undefined {
  switch (backend) {
    case "webgpu":
      return webGpuSkipReason();
    case "wasm":
      return wasmSkipReason();
    default:
      return undefined;
  }
}
