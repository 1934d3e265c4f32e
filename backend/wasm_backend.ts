/**
 * Prepares tfjs-backend-wasm for Deno: finds its `.wasm` files inside the npm package (so it works
 * from a JSR import and under `--allow-read` alone), keeps SIMD on, and can run XNNPACK on all
 * cores.
 *
 * Why threads need work here: tfjs-backend-wasm turns threads off whenever it sees `process`
 * (Deno defines it), and its C side caps the pool at half of
 * `emscripten_num_logical_cores()`. Its own threaded start-up cannot run in Deno either: it hands
 * Emscripten a `blob:` URL as the pthread worker script, and Node's `worker_threads` (which
 * Emscripten uses when it sees `process`) only takes file paths. So for more than one thread this
 * module starts the package's own threaded-SIMD Emscripten build itself: pthread workers are
 * `node:worker_threads` workers that evaluate the package's worker script (`eval: true`), the
 * binary is read with `Deno.readFile`, and the logical-core query answers twice the real count so
 * the halving cap yields every core. Workers are `unref`ed, so they never keep a program alive.
 * @module
 */
import { Worker as NodeWorker } from "node:worker_threads";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { readEnv } from "./env.ts";
import { tf } from "./tf.ts";

type WasmPackage = typeof import("@tensorflow/tfjs-backend-wasm");

/** The three binaries tfjs-backend-wasm 4.22 can load. */
const BINARIES = [
  "tfjs-backend-wasm.wasm",
  "tfjs-backend-wasm-simd.wasm",
  "tfjs-backend-wasm-threaded-simd.wasm",
] as const;

/** Emscripten pre-creates this many pthread workers; tfjs caps XNNPACK's pool at the same. */
const MAX_THREADS = 8;

/** How long the threaded start-up may take before falling back to one thread. */
const THREADED_START_TIMEOUT_MS = 30_000;

/** How the wasm backend was (or will be) started. */
export interface WasmPreparation {
  /** Threads the backend will use (1 = the package's stock single-threaded start-up). */
  threads: number;
  /** Whether the SIMD build is used. */
  simd: boolean;
  /** The binary file name loaded. */
  binary: string;
  /** A sentence on what was done, for logs. */
  note: string;
}

interface EngineInternals {
  registry: Record<string, unknown>;
  registryFactory: Record<
    string,
    { factory: () => tf.KernelBackend | Promise<tf.KernelBackend>; priority: number }
  >;
}

interface EmscriptenModule {
  cwrap: (name: string, returnType: string | null, argTypes: string[]) => unknown;
  tfjs?: Record<string, unknown>;
}

type EmscriptenFactory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

/** Internals of the tfjs engine this module needs: which backends exist and their factories. */
export function engineInternals(): EngineInternals {
  return tf.engine() as unknown as EngineInternals;
}

let originalFactory: EngineInternals["registryFactory"][string] | undefined;
let started: WasmPreparation | undefined;
const liveWorkers = new Set<NodeWorker>();

/**
 * Resolves a file inside the tfjs-backend-wasm package to a `file:` URL, relative to the
 * package's main file (`dist/tf-backend-wasm.node.js`).
 *
 * @param relative path relative to the package's `dist/` folder
 * @returns the file URL
 */
export function wasmPackageFile(relative: string): URL {
  // Literal specifiers, so JSR rewrites them at publish time like imports. The versioned npm:
  // one covers a caller whose import map lacks the bare name.
  const resolvers: Array<[string, () => string]> = [
    ["@tensorflow/tfjs-backend-wasm", () => import.meta.resolve("@tensorflow/tfjs-backend-wasm")],
    [
      "npm:@tensorflow/tfjs-backend-wasm@4.22.0",
      () => import.meta.resolve("npm:@tensorflow/tfjs-backend-wasm@4.22.0"),
    ],
  ];
  const failures: string[] = [];
  for (const [specifier, resolve] of resolvers) {
    try {
      const main = resolve();
      if (main.startsWith("file:")) return new URL(relative, main);
      failures.push(`${specifier} resolved to ${main}, not a file: URL`);
    } catch (error) {
      failures.push(`${specifier}: ${(error as Error).message}`);
    }
  }
  throw new Error(
    `Cannot locate tfjs-backend-wasm's files: ${failures.join("; ")}. ` +
      "Install it with `deno add npm:@tensorflow/tfjs-backend-wasm@4.22.0`.",
  );
}

/** Number of threads "auto" means here: every logical core, at most 8. */
export function defaultWasmThreads(): number {
  const cores = globalThis.navigator?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.min(MAX_THREADS, cores));
}

/**
 * The wasm thread count `DPR_WASM_THREADS` asks for (read without prompting).
 *
 * @returns a positive integer, "auto", or undefined when the variable is unset or not permitted
 * @throws {RangeError} when the value is neither, naming the variable and the value
 */
export function wasmThreadsFromEnv(): number | "auto" | undefined {
  const value = readEnv("DPR_WASM_THREADS")?.trim();
  if (value === undefined || value === "") return undefined;
  if (value.toLowerCase() === "auto") return "auto";
  if (/^\d+$/.test(value) && Number(value) >= 1) return Number(value);
  throw new RangeError(
    `DPR_WASM_THREADS must be a positive integer or "auto": received ${JSON.stringify(value)}`,
  );
}

/** Whether threads can work at all in this runtime. */
function threadsPossible(): boolean {
  return typeof SharedArrayBuffer === "function" && typeof Atomics === "object";
}

/**
 * Imports tfjs-backend-wasm and arranges its start-up; call before `tf.setBackend("wasm")`.
 * When the wasm backend already runs, keeps it (restarting it would lose its tensors).
 *
 * @param threads threads wanted: a count, or "auto" for every core (at most 8)
 * @returns how the backend will start
 */
export async function prepareWasm(threads: number | "auto"): Promise<WasmPreparation> {
  if (threads !== "auto" && (!Number.isInteger(threads) || threads < 1)) {
    throw new RangeError(
      `Cannot prepare the wasm backend: threads must be a positive integer or "auto": received ${threads}`,
    );
  }
  const pkg: WasmPackage = await import("@tensorflow/tfjs-backend-wasm");
  const engine = engineInternals();
  const wanted = Math.min(threads === "auto" ? defaultWasmThreads() : threads, MAX_THREADS);
  if (engine.registry["wasm"] !== undefined) {
    // Already running (restarting would lose its tensors): report what it runs with.
    started ??= {
      threads: pkg.getThreadsCount(),
      simd: true,
      binary: "unknown",
      note: "started outside setBackend",
    };
    if (started.threads === wanted) return started;
    return {
      ...started,
      note: `${started.note}; already running, so ${wanted} threads need a new process`,
    };
  }
  const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT") === true;
  if (wanted > 1 && simd && threadsPossible()) {
    await installThreadedFactory(pkg, wanted);
    started = {
      threads: wanted,
      simd: true,
      binary: "tfjs-backend-wasm-threaded-simd.wasm",
      note: `threaded SIMD build on ${wanted} threads (node:worker_threads pthreads)`,
    };
    return started;
  }
  restoreStockFactory();
  const paths = Object.fromEntries(
    BINARIES.map((name) => [name, fileURLToPath(wasmPackageFile(name))]),
  );
  try {
    pkg.setWasmPaths(paths);
  } catch {
    // tfjs refuses new paths after a failed start; the paths it has are the same files.
  }
  pkg.setThreadsCount(1);
  const binary = simd ? "tfjs-backend-wasm-simd.wasm" : "tfjs-backend-wasm.wasm";
  started = {
    threads: 1,
    simd,
    binary,
    note: wanted > 1 ? "one thread: this runtime lacks SIMD or SharedArrayBuffer" : "one thread",
  };
  return started;
}

/**
 * Undoes {@linkcode prepareWasm}'s threaded start-up after it failed, so the next
 * `tf.setBackend("wasm")` uses the package's stock single-threaded SIMD start-up.
 */
export async function fallBackToOneThread(): Promise<WasmPreparation> {
  for (const worker of liveWorkers) void worker.terminate();
  liveWorkers.clear();
  started = undefined;
  return await prepareWasm(1);
}

/** Puts tfjs-backend-wasm's own factory back if ours replaced it and it never started. */
function restoreStockFactory(): void {
  const engine = engineInternals();
  if (originalFactory === undefined || engine.registry["wasm"] !== undefined) return;
  tf.removeBackend("wasm");
  tf.registerBackend("wasm", originalFactory.factory, originalFactory.priority);
  originalFactory = undefined;
}

/** Replaces the "wasm" backend factory with one that starts the threaded-SIMD build. */
async function installThreadedFactory(pkg: WasmPackage, threads: number): Promise<void> {
  const engine = engineInternals();
  const stock = engine.registryFactory["wasm"];
  if (stock === undefined) {
    throw new Error("Cannot start wasm threads: tfjs-backend-wasm registered no 'wasm' backend");
  }
  originalFactory ??= stock;
  const glueUrl = wasmPackageFile("../wasm-out/tfjs-backend-wasm-threaded-simd.js");
  const workerUrl = wasmPackageFile("../wasm-out/tfjs-backend-wasm-threaded-simd.worker.js");
  const binaryUrl = wasmPackageFile("tfjs-backend-wasm-threaded-simd.wasm");
  const gluePath = fileURLToPath(glueUrl);
  const [glueSource, wasmBinary] = await Promise.all([
    Deno.readTextFile(glueUrl),
    Deno.readFile(binaryUrl),
  ]);
  const nodeRequire = createRequire(glueUrl);
  // The worker file is a CommonJS module exporting the worker script as a string.
  const workerScript: string = nodeRequire(fileURLToPath(workerUrl))
    .wasmWorkerContents;
  const factory = evaluateGlue(glueSource, glueUrl, nodeRequire, workerScript);
  pkg.setThreadsCount(threads);
  tf.removeBackend("wasm");
  tf.registerBackend("wasm", async () => {
    const module = await withTimeout(
      factory({ wasmBinary, mainScriptUrlOrBlob: gluePath, locateFile: (p: string) => p }),
      THREADED_START_TIMEOUT_MS,
    );
    // The same bridge tfjs-backend-wasm builds in its own start-up.
    module.tfjs = {
      init: module.cwrap("init", null, []),
      initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
      getThreadsCount: module.cwrap("get_threads_count", "number", []),
      registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
      disposeData: module.cwrap("dispose_data", null, ["number"]),
      dispose: module.cwrap("dispose", null, []),
    };
    return new pkg.BackendWasm(
      module as unknown as ConstructorParameters<WasmPackage["BackendWasm"]>[0],
    );
  }, stock.priority);
}

/**
 * Evaluates the Emscripten glue with a few names bound to Deno-safe stand-ins:
 * `Worker` starts `node:worker_threads` workers from the worker script text, `require("os")`
 * reports twice `navigator.hardwareConcurrency` logical cores (tfjs halves it; `os.cpus()` would
 * also need `--allow-sys`), and `global` keeps the glue from replacing Deno's global `Worker`.
 */
function evaluateGlue(
  glueSource: string,
  glueUrl: URL,
  nodeRequire: (id: string) => unknown,
  workerScript: string,
): EmscriptenFactory {
  const prelude = [
    // Deno's worker globals `location` and `self` are getters; the worker script assigns them.
    'for (const k of ["location", "self"]) { Object.defineProperty(globalThis, k, ' +
    "{ value: globalThis[k], writable: true, configurable: true }); }",
    // Deno before 2.6 (2.5 is what Deno Deploy runs) evaluates the script as a module whose
    // `parentPort` is the worker's global scope itself, and defines no `__filename`. The script
    // replaces the global `postMessage` with one that calls `parentPort.postMessage` (itself,
    // there) and sets `self.onmessage` besides listening on `parentPort` (each message twice,
    // there): keep the runtime's `postMessage`, and make `onmessage` a plain function slot.
    'if (require("worker_threads").parentPort === globalThis) {',
    "  const post = globalThis.postMessage;",
    '  Object.defineProperty(globalThis, "postMessage", ' +
    "{ get: () => post, set: () => {}, configurable: true });",
    '  Object.defineProperty(globalThis, "onmessage", ' +
    "{ value: null, writable: true, configurable: true });",
    "}",
    'if (typeof __filename === "undefined") globalThis.__filename = "[worker eval]";',
    "",
  ].join("\n");
  // The script was a template literal: "\n" inside its string literals became real newlines.
  const source = prelude + workerScript.replace(/\n/g, "\\n");
  class PthreadWorker extends NodeWorker {
    constructor(_path: string) {
      // `env: {}`: the worker needs no environment, and copying `process.env` (the default)
      // reads every variable, a permission prompt under anything short of `--allow-env`.
      super(source, { eval: true, env: {} });
      liveWorkers.add(this);
      this.once("exit", () => liveWorkers.delete(this));
    }
    // Emscripten refs a worker while a pthread runs on it, and XNNPACK's pool threads run
    // forever, so the program would never exit. They only work while the main thread is
    // blocked in a kernel call, so an idle pool must not keep the program alive.
    override ref(): void {}
  }
  const cores = 2 * (globalThis.navigator?.hardwareConcurrency ?? 1);
  const os = { cpus: (): unknown[] => Array.from({ length: cores }, () => ({})) };
  const requireShim = (id: string): unknown => id === "os" ? os : nodeRequire(id);
  const globalShim = new Proxy(globalThis, {
    get: (target, key) => key === "Worker" ? PthreadWorker : Reflect.get(target, key),
    set: (target, key, value) => key === "Worker" ? true : Reflect.set(target, key, value),
  });
  const gluePath = fileURLToPath(glueUrl);
  const dir = fileURLToPath(new URL(".", glueUrl));
  const make = new Function(
    "require",
    "global",
    "Worker",
    "__filename",
    "__dirname",
    "module",
    "exports",
    `${glueSource}\nreturn WasmBackendModuleThreadedSimd;`,
  );
  return make(requireShim, globalShim, PthreadWorker, gluePath, dir, undefined, undefined);
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`wasm threaded start-up did not finish within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
