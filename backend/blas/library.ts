/**
 * Finds and opens the system BLAS through Deno FFI: OpenBLAS on Linux and Windows,
 * Accelerate on macOS, or the file named by `DPR_BLAS_LIB`.
 * @module
 */

/** The FFI signatures this package calls; `openblas_set_num_threads` is optional. */
const SYMBOLS = {
  cblas_sgemm: {
    // order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
} as const;

import { readEnv } from "../env.ts";
import { isOneDnnActivation, type OneDnnGemm, type Packed } from "./onednn.ts";
import { pinLibrary } from "./pin_library.ts";
import { ffiView } from "./ffi_view.ts";

/** An opened BLAS library. */
export interface BlasLibrary {
  /** The path or soname that was opened. */
  readonly path: string;
  /**
   * Row-major single-precision GEMM: `C = alpha * op(A) op(B) + beta * C`.
   * @param transA Whether `A` is stored transposed (`[K, M]`).
   * @param transB Whether `B` is stored transposed (`[N, K]`).
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;
  /**
   * `C = act(A op(B) + bias)` for dense row-major `A` [m, k], `B` [k, n] (or [n, k] when
   * `transB`) and `C` [m, n], bias and activation applied natively, when the library can (oneDNN
   * is loaded, knows the activation, and `B` is packed for it: see {@link BlasLibrary.pack});
   * returns `false`, touching nothing, otherwise.
   * @param activation a tfjs `_FusedMatMul` activation name ("linear", "relu", ...) or
   * "gelu_erf"
   */
  linear(
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array | Packed,
    bias: Float32Array | null,
    activation: string,
    c: Float32Array,
  ): boolean;
  /**
   * `C = layerNorm(A B + bias + residual) * gamma + beta` over rows of `n`, natively when the
   * library can (oneDNN); returns `false`, touching nothing, otherwise.
   */
  linearLayerNorm(
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array | Packed,
    bias: Float32Array,
    residual: Float32Array,
    gamma: Float32Array,
    beta: Float32Array,
    eps: number,
    c: Float32Array,
  ): boolean;
  /**
   * Softmax over each row of `data` (`rows` x `cols`), in place, natively when the library can
   * (oneDNN); returns `false`, touching nothing, otherwise.
   */
  softmaxRows(rows: number, cols: number, data: Float32Array): boolean;
  /**
   * A copy of the weight `b` ([k, n]) in oneDNN's blocked layout for products of `m` rows, which
   * {@link BlasLibrary.linear} and {@link BlasLibrary.linearLayerNorm} read without repacking;
   * undefined without oneDNN, or for products it would not run faster packed.
   */
  pack(b: Float32Array, k: number, n: number, m: number): Packed | undefined;
  /** The plain matrix of a packed weight (a new array), bit for bit. */
  unpack(packed: Packed): Float32Array;
  /** Drops a packed weight's values. */
  free(packed: Packed): void;
  /** Marks every packed weight inactive (their holders read them back plain). */
  revokePacked(): void;
  /** Bytes that packed weights hold now (0 without oneDNN). */
  packedBytes(): number;
  /** oneDNN's version when its matmul takes the GEMMs it handles better, else `undefined`. */
  readonly oneDnn: string | undefined;
  /** The number of threads the library uses, or `undefined` when it cannot tell. */
  threads(): number | undefined;
  /** Sets the number of threads when the library supports it (OpenBLAS); returns whether it did. */
  setThreads(n: number): boolean;
  /** Releases the library. */
  close(): void;
}

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

const INSTALL_HINT = "install OpenBLAS (Debian/Ubuntu: `apt-get install libopenblas0-pthread`; " +
  "Fedora: `dnf install openblas`), use macOS (Accelerate), or point DPR_BLAS_LIB at a " +
  "library that exports cblas_sgemm";

/** Library names tried in order when `DPR_BLAS_LIB` is unset. */
export function blasCandidates(os: typeof Deno.build.os = Deno.build.os): string[] {
  if (os === "darwin") {
    return [
      "/System/Library/Frameworks/Accelerate.framework/Accelerate",
      "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
      "/usr/local/opt/openblas/lib/libopenblas.dylib",
    ];
  }
  if (os === "windows") return ["libopenblas.dll", "openblas.dll"];
  return ["libopenblas.so.0", "libopenblas.so", "libblas.so.3"];
}

function envOverride(): string | undefined {
  return readEnv("DPR_BLAS_LIB");
}

function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

/**
 * OpenBLAS 0.3.21 (Debian 12) does not know recent Xeons and falls back to its slowest
 * (Prescott) kernels, 5x slower. Before the library loads, pick the kernel family from the CPU
 * flags unless the user set OPENBLAS_CORETYPE; skipped quietly without read/env permissions.
 */
function pickOpenBlasCore(): void {
  if (Deno.build.os !== "linux") return;
  if (!granted({ name: "env", variable: "OPENBLAS_CORETYPE" })) return;
  if (!granted({ name: "read", path: "/proc/cpuinfo" })) return;
  if (readEnv("OPENBLAS_CORETYPE") !== undefined) return;
  let info: string;
  try {
    info = Deno.readTextFileSync("/proc/cpuinfo");
  } catch {
    return;
  }
  const flags = new Set((/^flags\s*:(.*)$/m.exec(info)?.[1] ?? "").trim().split(/\s+/));
  if (flags.has("avx512f") && flags.has("avx512bw") && flags.has("avx512vl")) {
    Deno.env.set("OPENBLAS_CORETYPE", "SkylakeX");
  } else if (flags.has("avx2") && flags.has("fma")) {
    Deno.env.set("OPENBLAS_CORETYPE", "Haswell");
  }
}

/**
 * Refuses, without prompting, when `--allow-ffi` is not granted: before any library is opened.
 * @throws {Error} naming the permission and its state
 */
export function assertFfiPermission(): void {
  let state: Deno.PermissionState;
  try {
    state = Deno.permissions.querySync({ name: "ffi" }).state;
  } catch {
    state = "denied";
  }
  if (state !== "granted") {
    throw new Error(
      "Cannot load the BLAS backend: it calls the system BLAS through FFI, which needs the " +
        `--allow-ffi permission (run with \`deno run --allow-ffi ...\`): ffi permission is ${state}`,
    );
  }
}

/**
 * Opens the BLAS library: `DPR_BLAS_LIB` when set (and only it), else the first of
 * {@link blasCandidates} that loads and exports `cblas_sgemm`.
 *
 * @param path An explicit library path; wins over `DPR_BLAS_LIB`.
 * @returns The opened library.
 * @throws {Error} When `--allow-ffi` is missing or no library could be opened; the message names
 * what is missing and how to install it.
 */
export function openBlas(path?: string, oneDnn?: OneDnnGemm): BlasLibrary {
  assertFfiPermission();
  const explicit = path ?? envOverride();
  const tried = explicit === undefined ? blasCandidates() : [explicit];
  const failures: string[] = [];
  pickOpenBlasCore();
  for (const name of tried) {
    let lib: Deno.DynamicLibrary<typeof SYMBOLS>;
    try {
      lib = Deno.dlopen(name, SYMBOLS);
    } catch (err) {
      failures.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    // Its threads outlive this handle (closed when a worker ends): keep the code mapped.
    pinLibrary(name);
    return wrap(name, lib, oneDnn);
  }
  const source = path !== undefined
    ? "the given path"
    : explicit !== undefined
    ? "DPR_BLAS_LIB"
    : "the system library names";
  throw new Error(
    `Cannot load the BLAS backend: no BLAS library with cblas_sgemm could be opened from ${source} ` +
      `(${failures.join("; ")}); ${INSTALL_HINT}`,
  );
}

/** Throws unless `data` holds a row-major `rows` x `cols` matrix with leading dimension `ld`. */
function checkOperand(
  name: string,
  data: Float32Array,
  rows: number,
  cols: number,
  ld: number,
): void {
  if (rows <= 0 || cols <= 0) return;
  const needed = (rows - 1) * ld + cols;
  if (!(ld >= cols) || data.length < needed) {
    throw new RangeError(
      `Cannot run cblas_sgemm: operand ${name} of ${rows} x ${cols} with leading dimension ${ld} ` +
        `needs ${needed} values and ld >= ${cols}: received ${data.length} values`,
    );
  }
}

function wrap(
  path: string,
  lib: Deno.DynamicLibrary<typeof SYMBOLS>,
  oneDnn: OneDnnGemm | undefined,
): BlasLibrary {
  const sym = lib.symbols;
  const gemm = sym.cblas_sgemm;
  const setN = sym.openblas_set_num_threads as ((n: number) => void) | null;
  const getN = sym.openblas_get_num_threads as (() => number) | null;
  return {
    path,
    oneDnn: oneDnn?.version,
    sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc): void {
      // Native code trusts these sizes: a wrong one would read or write past a buffer and
      // corrupt the heap, so they are checked here (a few integer operations per call).
      if (m > 0 && n > 0) {
        checkOperand("A", a, transA ? k : m, transA ? m : k, lda);
        checkOperand("B", b, transB ? n : k, transB ? k : n, ldb);
        checkOperand("C", c, m, n, ldc);
        if (
          oneDnn !== undefined && !transA && alpha === 1 && (beta === 0 || beta === 1) &&
          lda === k && ldb === (transB ? k : n) && ldc === n &&
          oneDnn.gemm(transB, m, n, k, a, b, beta, c)
        ) return;
      }
      gemm(
        ROW_MAJOR,
        transA ? TRANS : NO_TRANS,
        transB ? TRANS : NO_TRANS,
        m,
        n,
        k,
        alpha,
        ffiView(a),
        lda,
        ffiView(b),
        ldb,
        beta,
        ffiView(c),
        ldc,
      );
    },
    linear(transB, m, n, k, a, b, bias, activation, c): boolean {
      if (oneDnn === undefined || m <= 0 || n <= 0 || k <= 0) return false;
      const act = activation === "linear" ? null : activation;
      if (act !== null && !isOneDnnActivation(act)) return false;
      checkOperand("A", a, m, k, k);
      if (b instanceof Float32Array) {
        checkOperand("B", b, transB ? n : k, transB ? k : n, transB ? k : n);
      }
      checkOperand("C", c, m, n, n);
      return oneDnn.linear(transB, m, n, k, a, b, bias, act, c);
    },
    linearLayerNorm(m, n, k, a, b, bias, residual, gamma, beta, eps, c): boolean {
      if (oneDnn === undefined || m <= 0 || n <= 0 || k <= 0) return false;
      checkOperand("A", a, m, k, k);
      if (b instanceof Float32Array) checkOperand("B", b, k, n, n);
      checkOperand("C", c, m, n, n);
      checkOperand("residual", residual, m, n, n);
      return oneDnn.linearLayerNorm(m, n, k, a, b, bias, residual, gamma, beta, eps, c);
    },
    softmaxRows(rows, cols, data): boolean {
      if (oneDnn === undefined || rows <= 0 || cols <= 0) return false;
      checkOperand("data", data, rows, cols, cols);
      return oneDnn.softmaxRows(rows, cols, data);
    },
    pack(b, k, n, m): Packed | undefined {
      if (oneDnn === undefined || m <= 0 || n <= 0 || k <= 0) return undefined;
      checkOperand("B", b, k, n, n);
      return oneDnn.pack(b, k, n, false, m);
    },
    unpack(packed: Packed): Float32Array {
      if (oneDnn === undefined) throw new Error("Cannot unpack a weight: oneDNN is not loaded");
      return oneDnn.unpack(packed);
    },
    free(packed: Packed): void {
      oneDnn?.free(packed);
    },
    revokePacked(): void {
      oneDnn?.revokePacked();
    },
    packedBytes(): number {
      return oneDnn?.packedBytes() ?? 0;
    },
    threads(): number | undefined {
      return getN ? getN() : undefined;
    },
    setThreads(count: number): boolean {
      if (!setN) return false;
      setN(count);
      return true;
    },
    close(): void {
      oneDnn?.close();
      lib.close();
    },
  };
}
