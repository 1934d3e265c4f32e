/**
 * The "blas" TensorFlow.js backend: the cpu backend with its matrix products (and the hot
 * elementwise kernels of a BERT encoder) replaced by native code, `cblas_sgemm` of the system
 * BLAS called through Deno FFI.
 * @module
 */
import { envFlag, envFlagOrValue } from "../env.ts";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { skipNodeBanner, tf } from "../tf.ts";
import { assertFfiPermission, type BlasLibrary, openBlas } from "./library.ts";
import { type OneDnnGemm, openOneDnn } from "./onednn.ts";
import { makeBatchMatMul, makeFusedMatMul } from "./matmul.ts";
import { registerWeightPacker } from "../ops/packed_weight.ts";
import { fastKernels } from "./elementwise.ts";
import { fusedKernels } from "./fused_kernels.ts";
import { blasWeightPacker } from "./blas_packed_weight.ts";
import { registerQuantizedLinear } from "../ops/quantized_linear.ts";
import { blasQuantizedLinear } from "../quantized/blas_quantized_linear.ts";

/** Options for {@link registerBlasBackend}. */
export interface BlasBackendOptions {
  /** The library to open; default `DPR_BLAS_LIB`, then the platform's usual names. */
  libraryPath?: string;
  /**
   * Backend priority for tfjs's automatic choice (cpu is 1, wasm and webgl 2). Default 3, so an
   * app that registers "blas" gets it unless it calls `setBackend`.
   */
  priority?: number;
  /** Threads for OpenBLAS; default: the library's own choice (all cores). */
  threads?: number;
  /**
   * Whether large enough plain GEMMs go to oneDNN's matmul when oneDNN 2 is installed (Debian/
   * Ubuntu `libdnnl2`), or the path of the library to use. Default: `DPR_ONEDNN` (`0` turns it
   * off, `1` on, a path chooses the library), else on when the library is found.
   */
  oneDnn?: boolean | string;
  /**
   * Pack the layers' dense kernels into oneDNN's blocked layout on their first product large
   * enough for oneDNN: the layer then holds the packed copy in place of the plain matrix (see
   * `backend/ops/packed_weight.ts`; `plainWeight` and `stateDict` read it back plain). Short
   * inputs (one question) run 1.5-1.7x faster. Default on; `DPR_BLAS_PREPACK=0` turns it off.
   */
  prepack?: boolean;
}

let oneDnnSkipped: string | undefined;
/** Whether the layers' kernels are packed (see {@link BlasBackendOptions.prepack}). */
let packing = false;

/**
 * Turns the "blas" backend's packed weights (see {@link BlasBackendOptions.prepack}) on or off
 * at run time; off makes every packed weight inactive, so each layer puts its plain matrix back
 * on its next use.
 * @returns whether it applies: false before registration or without oneDNN
 */
export function setBlasPrepack(on: boolean): boolean {
  if (loaded?.oneDnn === undefined) return false;
  packing = on;
  if (!on) loaded.revokePacked();
  return true;
}

/** One line on the native libraries the "blas" backend runs on, for logs. */
export function blasDescription(): string {
  if (loaded === undefined) return "not registered";
  const dnn = loaded.oneDnn === undefined
    ? `without oneDNN: ${oneDnnSkipped ?? "unknown"}`
    : `oneDNN ${loaded.oneDnn}${packing ? ", packed weights" : ""}`;
  return `${loaded.path}, ${dnn}`;
}

/**
 * Why the "blas" backend runs without oneDNN (not installed, turned off), or `undefined` when
 * it uses oneDNN or is not registered.
 */
export function oneDnnSkipReason(): string | undefined {
  return oneDnnSkipped;
}

function startOneDnn(choice: boolean | string | undefined): OneDnnGemm | undefined {
  const wanted = choice ?? envFlagOrValue("DPR_ONEDNN") ?? true;
  if (wanted === false) {
    oneDnnSkipped = "turned off";
    return undefined;
  }
  const opened = openOneDnn(typeof wanted === "string" ? wanted : undefined);
  if (typeof opened === "string") {
    if (typeof wanted === "string") {
      throw new Error(`Cannot register the blas backend: oneDNN at ${wanted}: ${opened}`);
    }
    oneDnnSkipped = opened;
    return undefined;
  }
  oneDnnSkipped = undefined;
  return opened;
}

/** The backend's name, as passed to `tf.setBackend`. */
export const BLAS_BACKEND_NAME = "blas";

let loaded: BlasLibrary | undefined;

/** The BLAS library the "blas" backend uses, once registered; `undefined` before. */
export function blasLibrary(): BlasLibrary | undefined {
  return loaded;
}

/**
 * Registers the "blas" backend: a cpu backend whose `BatchMatMul` and `_FusedMatMul` kernels
 * (and a few elementwise kernels) run natively. Registering twice is a no-op.
 *
 * Needs `--allow-ffi` and a BLAS library: OpenBLAS on Linux (Debian/Ubuntu package
 * `libopenblas0-pthread`), Accelerate on macOS, or `DPR_BLAS_LIB` (read with `--allow-env`).
 *
 * @param options Library path, priority and thread count.
 * @returns Resolves once the backend is registered (it is initialized on `setBackend`).
 * @throws {Error} When the permission or the library is missing, naming which and how to fix it;
 * nothing is registered then.
 *
 * @example Use it for matrix products
 * ```ts ignore
 * import { tf } from "../tf.ts";
 * import { registerBlasBackend } from "./register.ts";
 * await registerBlasBackend();
 * await tf.setBackend("blas");
 * tf.matMul(tf.ones([2, 3]), tf.ones([3, 4])).print();
 * ```
 */
export async function registerBlasBackend(options: BlasBackendOptions = {}): Promise<void> {
  if (tf.findBackendFactory(BLAS_BACKEND_NAME) !== null && loaded !== undefined) return;
  // On unless turned off: packing in place costs no memory and speeds every input up.
  const prepack = options.prepack ?? envFlag("DPR_BLAS_PREPACK", true);
  assertFfiPermission(); // before oneDNN too: opening it without the permission would prompt
  const oneDnn = startOneDnn(options.oneDnn);
  let lib: BlasLibrary;
  try {
    lib = openBlas(options.libraryPath, oneDnn);
  } catch (err) {
    oneDnn?.close();
    throw err;
  }
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      lib.close();
      throw new RangeError(
        `Cannot register the blas backend: threads must be a positive integer: received ` +
          `${options.threads}`,
      );
    }
    lib.setThreads(options.threads);
  }
  // Smoke-test the symbol once so a broken library fails here, not inside a model.
  const c = new Float32Array(1);
  lib.sgemm(false, false, 1, 1, 1, 1, new Float32Array([2]), 1, new Float32Array([3]), 1, 0, c, 1);
  if (c[0] !== 6) {
    lib.close();
    throw new Error(
      `Cannot register the blas backend: cblas_sgemm of ${lib.path} computed 2 * 3 = ${c[0]}`,
    );
  }
  loaded = lib;
  for (const config of tf.getKernelsForBackend("cpu")) {
    tf.registerKernel({ ...config, backendName: BLAS_BACKEND_NAME });
  }
  const cpu = (name: string): tf.KernelFunc => tf.getKernel(name, "cpu")!.kernelFunc;
  const fusedMatMul = makeFusedMatMul(lib, cpu(tf._FusedMatMul));
  const overrides: Array<[string, tf.KernelFunc]> = [
    [tf.BatchMatMul, makeBatchMatMul(lib, cpu(tf.BatchMatMul))],
    [tf._FusedMatMul, fusedMatMul],
    ...fastKernels(cpu),
    ...fusedKernels(lib),
  ];
  for (const [kernelName, kernelFunc] of overrides) {
    if (tf.getKernel(kernelName, BLAS_BACKEND_NAME) !== undefined) {
      tf.unregisterKernel(kernelName, BLAS_BACKEND_NAME);
    }
    tf.registerKernel({ kernelName, backendName: BLAS_BACKEND_NAME, kernelFunc });
  }
  // Only oneDNN packs weights.
  packing = prepack && lib.oneDnn !== undefined;
  if (lib.oneDnn !== undefined) {
    registerWeightPacker(
      BLAS_BACKEND_NAME,
      blasWeightPacker(lib, BLAS_BACKEND_NAME, () => packing),
    );
  }
  // Quantized weights: dequantized a whole layer at a time into one reused scratch array.
  registerQuantizedLinear(BLAS_BACKEND_NAME, blasQuantizedLinear(lib));
  tf.registerBackend(BLAS_BACKEND_NAME, () => {
    const backend = new MathBackendCPU();
    // This backend is the native path the cpu backend's banner asks for.
    skipNodeBanner(backend);
    return backend;
  }, options.priority ?? 3);
  await Promise.resolve();
}
