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
import { makeBatchMatMul, makeFusedMatMul, restorePlain, withPlainInputs } from "./matmul.ts";
import { LINEAR_GELU_KERNEL, LINEAR_LAYER_NORM_KERNEL } from "../ops/fused_ops.ts";
import { fastKernels } from "./elementwise.ts";
import { fusedKernels } from "./fused_kernels.ts";

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
   * Keep each weight matrix that oneDNN multiplies twice in oneDNN's blocked layout: in place of
   * the plain values when the layout is no larger (BERT's matrices), else as a copy in native
   * memory. Short inputs (one question) run 1.5-1.7x faster. Reading such a weight (dataSync,
   * other ops) gives its plain matrix. Default on; `DPR_BLAS_PREPACK=0` turns it off.
   */
  prepack?: boolean;
}

let oneDnnSkipped: string | undefined;

/**
 * Turns the "blas" backend's packed weights (see {@link BlasBackendOptions.prepack}) on or off
 * at run time; off puts the plain matrices back and frees the packed copies.
 * @returns whether it applies: false before registration or without oneDNN
 */
export function setBlasPrepack(on: boolean): boolean {
  if (loaded === undefined) return false;
  if (!on) restorePlain(loaded);
  return loaded.setPrepack(on);
}

/** One line on the native libraries the "blas" backend runs on, for logs. */
export function blasDescription(): string {
  if (loaded === undefined) return "not registered";
  const dnn = loaded.oneDnn === undefined
    ? `without oneDNN: ${oneDnnSkipped ?? "unknown"}`
    : `oneDNN ${loaded.oneDnn}${loaded.prepack() ? ", packed weights" : ""}`;
  return `${loaded.path}, ${dnn}`;
}

/**
 * Why the "blas" backend runs without oneDNN (not installed, turned off), or `undefined` when
 * it uses oneDNN or is not registered.
 */
export function oneDnnSkipReason(): string | undefined {
  return oneDnnSkipped;
}

function startOneDnn(
  choice: boolean | string | undefined,
  prepack: boolean,
): OneDnnGemm | undefined {
  const wanted = choice ?? envFlagOrValue("DPR_ONEDNN") ?? true;
  if (wanted === false) {
    oneDnnSkipped = "turned off";
    return undefined;
  }
  const opened = openOneDnn(typeof wanted === "string" ? wanted : undefined, { prepack });
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

/** Inputs that the kernel reads packed in place itself (the linear layers' weights). */
const PACKED_INPUTS: Readonly<Record<string, readonly string[]>> = {
  [tf._FusedMatMul]: ["b"],
  [LINEAR_GELU_KERNEL]: ["kernel"],
  [LINEAR_LAYER_NORM_KERNEL]: ["kernel"],
};

/** Kernels that pass their input's data on without reading it (the cpu backend shares it). */
const DATA_BLIND = new Set<string>([tf.Reshape, tf.Identity]);

/** `kernelFunc` with the plain matrix of any input packed in place, but the ones it reads. */
function plainInputs(lib: BlasLibrary, name: string, kernelFunc: tf.KernelFunc): tf.KernelFunc {
  if (DATA_BLIND.has(name)) return kernelFunc;
  const own = PACKED_INPUTS[name] ?? [];
  return (args) => {
    const infos: tf.TensorInfo[] = [];
    for (const [input, info] of Object.entries(args.inputs)) {
      if (info !== undefined && info !== null && !own.includes(input)) infos.push(info);
    }
    const backend = args.backend as unknown as { data: { get(id: unknown): unknown } };
    return withPlainInputs(lib, backend, infos, () => kernelFunc(args));
  };
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
  const oneDnn = startOneDnn(options.oneDnn, prepack);
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
  // Only oneDNN packs weights; without it no kernel call pays for the checks below.
  const packing = lib.oneDnn !== undefined;
  if (packing) {
    // Weights packed in place hold oneDNN's layout: every kernel but the linear ones that read
    // them packed gets their plain matrices.
    for (const config of tf.getKernelsForBackend(BLAS_BACKEND_NAME)) {
      tf.unregisterKernel(config.kernelName, BLAS_BACKEND_NAME);
      tf.registerKernel({
        ...config,
        kernelFunc: plainInputs(lib, config.kernelName, config.kernelFunc),
      });
    }
  }
  tf.registerBackend(BLAS_BACKEND_NAME, () => {
    const backend = new MathBackendCPU();
    // This backend is the native path the cpu backend's banner asks for.
    skipNodeBanner(backend);
    if (!packing) return backend;
    // Reading a weight packed in place (dataSync, stateDict, moving to another backend) gives
    // its plain matrix.
    const readSync = backend.readSync.bind(backend);
    backend.readSync = (dataId: object): tf.backend_util.BackendValues => {
      const values = backend.data.get(dataId)?.values;
      return lib.isPacked(values) ? lib.plain(values as Float32Array) : readSync(dataId);
    };
    const read = backend.read.bind(backend);
    backend.read = (dataId: object): Promise<tf.backend_util.BackendValues> => {
      const values = backend.data.get(dataId)?.values;
      return lib.isPacked(values)
        ? Promise.resolve(lib.plain(values as Float32Array))
        : read(dataId);
    };
    // A disposed tensor's packed weight layout (native memory) goes with it.
    const dispose = backend.disposeData.bind(backend);
    backend.disposeData = (dataId: object, force?: boolean): boolean => {
      const values = backend.data.get(dataId)?.values;
      const disposed = dispose(dataId, force);
      if (disposed && values instanceof Float32Array) lib.release(values);
      return disposed;
    };
    return backend;
  }, options.priority ?? 3);
  await Promise.resolve();
}
