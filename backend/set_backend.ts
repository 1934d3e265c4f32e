/**
 * Run-time choice of the TensorFlow.js backend: `setBackend("auto" | "webgpu" | "node-gpu" |
 * "wasm" | "cpu" | "blas")`, also read from the `DPR_BACKEND` environment variable.
 *
 * Switching with live tensors (e.g. after loading weights): the previous backend is never
 * disposed, so its tensors stay valid, and tfjs moves each one to the new backend the first
 * time an op uses it. Two cases are refused with an error instead: `liveTensors: "refuse"`, and
 * leaving webgpu while tensors live there (Deno cannot read GPU buffers synchronously, which
 * that move needs). Dispose the model, switch, and load it again in those cases.
 * @module
 */
import { readEnv } from "./env.ts";
import { nextTurn } from "./next_turn.ts";
import { skipNodeBanner, tf } from "./tf.ts";
import { type BackendInfo, getBackendInfo, recordBackendInfo } from "./backend_info.ts";
import { probeWebGpu } from "./webgpu_adapter.ts";
import { loadNodeGpu } from "./node_gpu_backend.ts";
import {
  AUTO_ORDER,
  BACKEND_NAMES,
  type BackendName,
  type ConcreteBackendName,
} from "./backend_name.ts";
import { BackendUnavailableError } from "./backend_unavailable_error.ts";

export { AUTO_ORDER, BACKEND_NAMES, BackendUnavailableError };
export type { BackendName, ConcreteBackendName };
import {
  engineInternals,
  fallBackToOneThread,
  prepareWasm,
  wasmThreadsFromEnv,
} from "./wasm_backend.ts";
import { autoSkipReason } from "./auto_policy.ts";
import { chooseWasmProducts, wasmFmaFromEnv } from "./wasm_kernels/register.ts";
import "./wasm_kernels/ops.ts";

/** tfjs's registry name for each backend. */
const TF_NAME: Readonly<Record<ConcreteBackendName, string>> = {
  "node-gpu": "tensorflow",
  webgpu: "webgpu",
  blas: "blas",
  wasm: "wasm",
  cpu: "cpu",
};

/** Options of {@linkcode setBackend}. */
export interface SetBackendOptions {
  /** Receives one line per backend tried and one for the choice. Default: nothing is logged. */
  log?: (line: string) => void;
  /** Print one summary line to stderr. Default false. */
  verbose?: boolean;
  /**
   * Threads for wasm: a count, or "auto" for every logical core (at most 8). One thread saves
   * memory (each helper thread costs about 55 MB) and suits an edge isolate. Default:
   * `DPR_WASM_THREADS`, else "auto".
   */
  threads?: number | "auto";
  /**
   * The former name of {@linkcode SetBackendOptions.threads}, still read when `threads` is absent.
   * @deprecated use `threads`
   */
  wasmThreads?: number | "auto";
  /**
   * What to do when tensors live on the current backend: "move" (default) lets tfjs move each
   * one to the new backend on first use; "refuse" throws instead.
   */
  liveTensors?: "move" | "refuse";
  /**
   * For "blas" with oneDNN: keep weights in oneDNN's packed layout (faster, short inputs such as
   * questions most), in place of the plain matrices (no extra memory for BERT's); false runs
   * OpenBLAS alone and puts plain matrices back. Default: unchanged (on from the start unless
   * `DPR_BLAS_PREPACK=0`).
   */
  blasPrepack?: boolean;
  /**
   * For "wasm": run large float32 matrix products on this package's relaxed-SIMD kernel (fused
   * multiply-adds, on every wasm thread) instead of tfjs's XNNPACK, where the engine supports
   * relaxed SIMD; false keeps XNNPACK. Default: on unless `DPR_WASM_FMA=0`.
   */
  wasmFma?: boolean;
}

/** One backend `setBackend` tried. */
export interface BackendAttempt {
  /** The backend tried. */
  backend: ConcreteBackendName;
  /** Whether it started. */
  ok: boolean;
  /** Why it started or why it was skipped. */
  reason: string;
}

/** What {@linkcode setBackend} chose and why. */
export interface SetBackendResult {
  /** The backend now running. */
  backend: ConcreteBackendName;
  /** The name asked for (after reading `DPR_BACKEND`). */
  requested: BackendName;
  /** Where the name came from. */
  source: "argument" | "DPR_BACKEND" | "default";
  /** Why this backend was chosen. */
  reason: string;
  /** Every backend tried, in order, with why each started or was skipped. */
  attempts: BackendAttempt[];
  /** Details of the running backend. */
  info: BackendInfo;
}

/**
 * Reads `DPR_BACKEND` when env permission for it is already granted (never prompts).
 *
 * @returns the variable's trimmed value, or undefined when unset, empty or not permitted
 */
export function readBackendEnv(): string | undefined {
  const value = readEnv("DPR_BACKEND")?.trim();
  return value === "" ? undefined : value;
}

/** Whether a `setBackend` call has started a backend in this program. */
let chosen = false;

/**
 * Whether a backend was chosen: a `setBackend` call (any name, "auto" included) has started one.
 * The first model load with no backend chosen runs `setBackend()` itself (`default_backend.ts`).
 *
 * @returns true once `setBackend` has succeeded
 */
export function backendChosen(): boolean {
  return chosen;
}

function isBackendName(value: string): value is BackendName {
  return (BACKEND_NAMES as readonly string[]).includes(value);
}

/**
 * Chooses the TensorFlow.js backend. Without a name, reads `DPR_BACKEND` (when env permission
 * is granted), else uses "auto".
 *
 * "auto" tries webgpu (only where a GPU device exists, and only a real GPU adapter, never a
 * software fallback), blas (with `--allow-ffi`), wasm, then cpu, and reports what it chose and
 * why it skipped the others; it never prompts for a permission and never imports node-gpu, which
 * runs only when named. Naming a backend either starts it or throws a
 * {@linkcode BackendUnavailableError} saying why and what to install; naming "webgpu" accepts a
 * software adapter.
 *
 * @example
 * ```ts
 * import { setBackend } from "@dpr/dpr";
 * const chosen = await setBackend("cpu");
 * console.log(chosen.backend, chosen.reason);
 * ```
 *
 * @param name the backend to use; default `DPR_BACKEND`, else "auto"
 * @param options logging, wasm threads and the live-tensor policy
 * @returns the backend chosen, why, and what happened to the others
 * @throws {RangeError} when the name is not a known backend
 * @throws {BackendUnavailableError} when a named backend cannot start
 */
export async function setBackend(
  name?: BackendName,
  options: SetBackendOptions = {},
): Promise<SetBackendResult> {
  let source: SetBackendResult["source"] = "argument";
  let raw: string | undefined = name;
  if (raw === undefined) {
    raw = readBackendEnv();
    source = raw === undefined ? "default" : "DPR_BACKEND";
  }
  raw ??= "auto";
  if (!isBackendName(raw)) {
    const from = source === "DPR_BACKEND" ? " (from DPR_BACKEND)" : "";
    throw new RangeError(
      `Cannot set backend: name must be one of ${
        BACKEND_NAMES.join(", ")
      }: received "${raw}"${from}`,
    );
  }
  const requested = raw;
  const log = options.log ?? (() => {});
  const attempts: BackendAttempt[] = [];
  const candidates = requested === "auto" ? AUTO_ORDER : [requested];
  for (const backend of candidates) {
    const skip = requested === "auto" ? autoSkipReason(backend) : undefined;
    if (skip !== undefined) {
      attempts.push({ backend, ok: false, reason: skip });
      log(`${backend}: skipped (${skip})`);
      continue;
    }
    checkLiveTensors(backend, options.liveTensors ?? "move", log);
    try {
      const started = await start(backend, requested !== "auto", options);
      attempts.push({ backend, ok: true, reason: started.reason });
      log(`${backend}: started (${started.reason})`);
      recordBackendInfo(started.info);
      chosen = true;
      const reason = requested === "auto"
        ? `auto: first that started of ${AUTO_ORDER.join(", ")}: ${started.reason}`
        : `asked for by ${source === "argument" ? "argument" : "DPR_BACKEND"}: ${started.reason}`;
      const result: SetBackendResult = {
        backend,
        requested,
        source,
        reason,
        attempts,
        info: getBackendInfo(),
      };
      if (options.verbose) console.error(describeChoice(result));
      return result;
    } catch (error) {
      if (error instanceof RangeError) throw error; // a bad option, not an unavailable backend
      const reason = error instanceof BackendUnavailableError
        ? error.reason
        : (error as Error).message;
      attempts.push({ backend, ok: false, reason });
      log(`${backend}: skipped (${reason})`);
      if (requested !== "auto") {
        throw error instanceof BackendUnavailableError
          ? error
          : new BackendUnavailableError(backend, reason, { cause: error });
      }
    }
  }
  // cpu always starts, so auto only gets here if tfjs-backend-cpu itself is broken.
  throw new Error(
    `Cannot set backend "auto": no backend started: ${
      attempts.map((a) => `${a.backend}: ${a.reason}`).join("; ")
    }`,
  );
}

/**
 * One line on a choice: the backend, then why each other backend was skipped (what `verbose`
 * prints).
 *
 * @param result what {@linkcode setBackend} returned
 * @returns the line, starting with "dpr: backend"
 */
export function describeChoice(result: SetBackendResult): string {
  const skipped = result.attempts.filter((a) => !a.ok).map((a) => `${a.backend}: ${a.reason}`);
  const info = result.info;
  const details = [
    info.threads !== null ? `${info.threads} thread${info.threads === 1 ? "" : "s"}` : "",
    info.adapter !== null ? `adapter ${info.adapter}` : "",
  ].filter((part) => part).join(", ");
  return `dpr: backend ${result.backend}${details ? ` (${details})` : ""}` +
    (skipped.length > 0 ? `; skipped ${skipped.join("; ")}` : "");
}

/** Applies the live-tensor policy before switching to `target`. */
function checkLiveTensors(
  target: ConcreteBackendName,
  policy: "move" | "refuse",
  log: (line: string) => void,
): void {
  const current = (tf.engine() as unknown as { backendName: string | null }).backendName;
  if (current === null || current === TF_NAME[target]) return;
  const instance = engineInternals().registry[current] as tf.KernelBackend | undefined;
  const live = instance?.numDataIds() ?? 0;
  if (live === 0) return;
  const advice = "dispose them (e.g. the model) first, switch, then load again";
  if (policy === "refuse") {
    throw new Error(
      `Cannot switch backend from "${current}" to "${target}": ${live} tensors live on ` +
        `"${current}" and liveTensors is "refuse"; ${advice}`,
    );
  }
  if (current === "webgpu") {
    throw new Error(
      `Cannot switch backend from "webgpu" to "${target}": ${live} tensors live on the GPU and ` +
        `moving them needs a synchronous GPU read, which Deno lacks; ${advice}`,
    );
  }
  log(`${live} tensors on "${current}" stay valid and move to "${target}" on first use`);
}

interface Started {
  reason: string;
  info: BackendInfo;
}

function baseInfo(backend: ConcreteBackendName): BackendInfo {
  return {
    backend,
    tfBackend: TF_NAME[backend],
    adapter: null,
    fallbackAdapter: null,
    threads: null,
    simd: null,
    fma: null,
  };
}

async function activate(backend: ConcreteBackendName, why: string): Promise<void> {
  const ok = await tf.setBackend(TF_NAME[backend]);
  if (!ok) throw new BackendUnavailableError(backend, why);
  await tf.ready();
  skipNodeBanner(tf.backend());
}

async function start(
  backend: ConcreteBackendName,
  explicit: boolean,
  options: SetBackendOptions,
): Promise<Started> {
  switch (backend) {
    case "cpu":
      await activate("cpu", "tfjs-backend-cpu failed to initialize");
      return {
        reason: "plain JavaScript kernels, always available",
        info: { ...baseInfo("cpu"), threads: 1 },
      };
    case "wasm":
      return await startWasm(
        options.threads ?? options.wasmThreads ?? wasmThreadsFromEnv() ?? "auto",
        options.wasmFma,
      );
    case "webgpu":
      return await startWebGpu(explicit);
    case "node-gpu":
      await loadNodeGpu();
      await activate(
        "node-gpu",
        "@tensorflow/tfjs-node-gpu loaded but its backend failed to initialize (check CUDA)",
      );
      return {
        reason: "TensorFlow C library with CUDA via tfjs-node-gpu",
        info: baseInfo("node-gpu"),
      };
    case "blas":
      return await startBlas(options.blasPrepack);
  }
}

/** Refuses an option meant to be true, false or absent that is something else, naming it. */
function checkFlag(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== "boolean") {
    throw new RangeError(
      `Cannot set backend: ${name} must be true or false: received ${JSON.stringify(value)}`,
    );
  }
}

async function startWasm(threads: number | "auto", fma: boolean | undefined): Promise<Started> {
  checkFlag("wasmFma", fma);
  const install = "install @tensorflow/tfjs-backend-wasm@4.22.0 and allow reading its package " +
    "folder (--allow-read)";
  let prepared;
  try {
    prepared = await prepareWasm(threads);
  } catch (error) {
    if (error instanceof RangeError) throw error;
    throw new BackendUnavailableError("wasm", `${(error as Error).message}; ${install}`, {
      cause: error,
    });
  }
  // A turn of the event loop after each long piece of the start-up (evaluating the package,
  // starting its module, compiling this package's kernels), so none runs in the same task.
  await nextTurn();
  let ok = await tf.setBackend("wasm");
  if (!ok && prepared.threads > 1) {
    // The threaded start-up failed (tfjs printed why); retry with the stock one-thread start-up.
    prepared = await fallBackToOneThread();
    prepared = { ...prepared, note: "one thread: the threaded start-up failed" };
    ok = await tf.setBackend("wasm");
  }
  if (!ok) {
    throw new BackendUnavailableError("wasm", `tfjs-backend-wasm failed to initialize; ${install}`);
  }
  await tf.ready();
  await nextTurn();
  const pkg = await import("@tensorflow/tfjs-backend-wasm");
  const threadsRunning = pkg.getThreadsCount();
  const products = chooseWasmProducts(fma ?? wasmFmaFromEnv(), threadsRunning);
  await nextTurn();
  return {
    reason: `WebAssembly${prepared.simd ? " SIMD" : ""}, ${prepared.note}; ${products.note}`,
    info: {
      ...baseInfo("wasm"),
      threads: threadsRunning,
      simd: prepared.simd,
      fma: products.fma,
    },
  };
}

async function startWebGpu(explicit: boolean): Promise<Started> {
  const probe = await probeWebGpu();
  if (!probe.available) {
    throw new BackendUnavailableError(
      "webgpu",
      `no WebGPU adapter found: ${probe.description}; install a GPU driver with Vulkan, Metal ` +
        "or Direct3D 12 support (or Mesa's llvmpipe for a software adapter)",
    );
  }
  if (probe.fallback && !explicit) {
    throw new BackendUnavailableError(
      "webgpu",
      `only a software adapter was found (${probe.description}), slower than wasm; ` +
        'name "webgpu" explicitly (or DPR_BACKEND=webgpu) to use it anyway',
    );
  }
  await import("@tensorflow/tfjs-backend-webgpu");
  await activate("webgpu", `tfjs-backend-webgpu failed to initialize on ${probe.description}`);
  return {
    reason: `${probe.fallback ? "software" : "GPU"} adapter ${probe.description}`,
    info: { ...baseInfo("webgpu"), adapter: probe.description, fallbackAdapter: probe.fallback },
  };
}

/** What `setBackend` uses of `./blas/register.ts`. */
interface BlasModule {
  registerBlasBackend?: () => Promise<void>;
  setBlasPrepack?: (on: boolean) => boolean;
  blasDescription?: () => string;
}

async function startBlas(prepack: boolean | undefined): Promise<Started> {
  checkFlag("blasPrepack", prepack);
  let module: BlasModule;
  let register: () => Promise<void>;
  try {
    // Loaded only when blas is tried; a build without it reports blas as unavailable.
    module = await import("./blas/register.ts") as BlasModule;
    if (typeof module.registerBlasBackend !== "function") {
      throw new Error("backend/blas/register.ts does not export registerBlasBackend()");
    }
    register = module.registerBlasBackend;
  } catch (error) {
    throw new BackendUnavailableError(
      "blas",
      `the native BLAS backend module is not available (${(error as Error).message})`,
      { cause: error },
    );
  }
  if (engineInternals().registryFactory["blas"] === undefined) {
    try {
      await register();
    } catch (error) {
      throw new BackendUnavailableError("blas", (error as Error).message, { cause: error });
    }
  }
  await activate("blas", "the blas backend registered but failed to initialize");
  if (prepack !== undefined) module.setBlasPrepack?.(prepack);
  const libraries = module.blasDescription?.() ?? "";
  return {
    reason: `native BLAS through FFI${libraries === "" ? "" : ` (${libraries})`}`,
    info: baseInfo("blas"),
  };
}
