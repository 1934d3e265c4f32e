/**
 * Loads `@tensorflow/tfjs-node-gpu` on demand. It is never imported statically: programs that
 * do not ask for it never load it, and the module specifier is kept out of static analysis so
 * that a JSR install does not fetch it either. Users who want it add it to their import map.
 * @module
 */
import { BackendUnavailableError } from "./backend_unavailable_error.ts";

/** What to install to use the node-gpu backend, for error messages. */
export const NODE_GPU_INSTALL =
  "install @tensorflow/tfjs-node-gpu@4.22.0 with its native addon (`deno add npm:@tensorflow/tfjs-node-gpu@4.22.0`, " +
  "then `npm rebuild @tensorflow/tfjs-node-gpu` so it downloads libtensorflow with GPU support), " +
  "on Linux x86-64 with an NVIDIA driver, CUDA 11.2 and cuDNN 8.1, and run Deno with " +
  "--allow-read --allow-env --allow-ffi --allow-sys";

/** The import specifier; a variable so the import stays dynamic and unanalyzed. */
const NODE_GPU_SPECIFIER: string = "@tensorflow/tfjs-node-gpu";

/**
 * Imports tfjs-node-gpu, which registers the "tensorflow" backend with tfjs.
 *
 * @returns nothing; resolves once the backend is registered
 * @throws {BackendUnavailableError} saying why the import failed and what to install
 */
export async function loadNodeGpu(): Promise<void> {
  try {
    await import(NODE_GPU_SPECIFIER);
  } catch (error) {
    throw new BackendUnavailableError("node-gpu", `${explain(error)}; ${NODE_GPU_INSTALL}`, {
      cause: error,
    });
  }
}

function explain(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split("\n")[0]?.trim() ?? message;
  if (error instanceof Error && error.name === "NotCapable") {
    return `a Deno permission is missing (${firstLine})`;
  }
  if (/tfjs_binding\.node/.test(message)) {
    return "@tensorflow/tfjs-node-gpu is present but its native addon (tfjs_binding.node, built " +
      `against libtensorflow) is missing (${firstLine})`;
  }
  if (/libtensorflow|libcud|\.so/.test(message)) {
    return `the native TensorFlow or CUDA libraries could not be loaded (${firstLine})`;
  }
  if (/import map|not a dependency|resolve|not found|Cannot find/i.test(message)) {
    return `@tensorflow/tfjs-node-gpu is not installed (${firstLine})`;
  }
  return firstLine;
}
