/**
 * Matrix products for the wasm backend on a generated relaxed-SIMD kernel (`gemm_module.ts`),
 * on every thread: the caller and `threads - 1` helper workers share one WebAssembly memory and
 * take blocks of C's rows in turn. tfjs's own wasm build (XNNPACK) multiplies and adds
 * separately; a fused multiply-add does the same work in half the vector instructions.
 *
 * The kernel runs on tfjs's own heap (its WebAssembly memory, shared in the threaded build): A
 * and the bias are read where they are, C is written straight into the output tensor, and only B
 * is packed (into NR-column panels, in scratch taken from tfjs's allocator for the call); each
 * thread packs its own blocks of A.
 * @module
 */
import { Worker as NodeWorker } from "node:worker_threads";
import { DEFAULT_TILE, gemmModuleBytes, K_UNROLL } from "./gemm_module.ts";
import {
  type GemmBlock,
  type GemmKernels,
  JOB,
  JOB_LENGTH,
  type PackB,
  runGemmRows,
} from "./gemm_rows.ts";

/** k block: packed A and B blocks of one thread stay in its L1/L2 caches. */
const KC = 256;
/** Rows per packed A block (a multiple of the tile's rows). */
const MC = 96;
/**
 * Products with fewer rows than this do not pack B whole before they start: each thread packs
 * the panels it needs, a chunk at a time, into its own small scratch (a question's rows: no
 * scratch of B's size, and B's values go from memory through L2 once).
 */
export const CHUNKED_MAX_ROWS = 128;
/** Panels per chunk packed by a thread (kc rows of 32 panels: 256 KB, within L2). */
const CHUNK_PANELS = 32;
/** Units (row block × panel group) per thread a product is cut into when it has few rows. */
const UNITS_PER_THREAD = 4;
/** Most pages a 32-bit memory may have (4 GiB). */
const MAX_PAGES = 65536;
/**
 * How long the caller waits for the helpers to report before declaring them lost (it computes
 * every row block nobody claimed itself, so this only bounds the wait for a dead helper).
 */
const HELPER_TIMEOUT_MS = 30_000;

/**
 * One product `C = op(A)·op(B) (+ bias)`, operands given as byte addresses in the memory the
 * engine was built on.
 */
export interface GemmJob {
  /** A, [M, K] row-major ([K, M] with `transA`). */
  a: number;
  transA: boolean;
  /** B, [K, N] row-major ([N, K] with `transB`). */
  b: number;
  transB: boolean;
  m: number;
  k: number;
  n: number;
  /** [N] added to every row, or undefined. */
  bias?: number;
  /** Applied to the result: max(0, x). */
  activation?: "relu";
  /** Destination, [M, N] row-major with room for {@link WasmGemm.paddedRows}(M) rows. */
  out: number;
  /**
   * Packs B's k block itself, in place of reading B from memory (`b` and `transB` are then
   * ignored): a B held outside this memory in a layout of its own (quantized weights).
   */
  packB?: PackBlock;
}

/**
 * Writes B's rows `k0..k0 + kc` as `panels` panels of `[kcp][nr]` float32 at element `dst` of
 * `f32` (the engine's memory), rows kc..kcp zero.
 */
export type PackBlock = (
  f32: Float32Array,
  dst: number,
  k0: number,
  kc: number,
  kcp: number,
  panels: number,
  nr: number,
) => void;

let relaxedSimd: boolean | undefined;

/** Whether this engine validates relaxed-SIMD fused multiply-adds (checked once). */
export function relaxedSimdSupported(): boolean {
  if (relaxedSimd === undefined) {
    try {
      relaxedSimd = WebAssembly.validate(gemmModuleBytes({ shared: false, minPages: 1 }, true));
    } catch {
      relaxedSimd = false;
    }
  }
  return relaxedSimd;
}

/** Allocation in the shared memory (tfjs's `_malloc` / `_free`). */
export interface HeapAllocator {
  malloc(bytes: number): number;
  free(address: number): void;
}

function workerSource(): string {
  return `
const { parentPort } = require("node:worker_threads");
const runGemmRows = ${runGemmRows.toString()};
parentPort.once("message", ({ memory, bytes, job, thread, seq }) => {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const kernels = { gemmBlock: instance.exports.gemm_block, packB: instance.exports.pack_b };
  let seen = seq;
  for (;;) {
    Atomics.wait(job, ${JOB.seq}, seen);
    seen = Atomics.load(job, ${JOB.seq});
    if (seen < 0) return;
    try {
      runGemmRows(memory, kernels, job, thread);
    } catch (error) {
      Atomics.store(job, ${JOB.failed}, 1);
    }
    Atomics.add(job, ${JOB.done}, 1);
    Atomics.notify(job, ${JOB.done});
  }
});
`;
}

/**
 * The products' engine on one WebAssembly memory (tfjs's heap): the kernel instantiated on it and
 * the helper threads.
 */
export class WasmGemm {
  /** Threads each product is split over. */
  readonly threads: number;
  private readonly kernels: GemmKernels;
  private readonly job: Int32Array;
  private readonly helpers: NodeWorker[] = [];
  private helperError: string | undefined;
  private disposed = false;

  /**
   * @param memory the memory holding the operands; helpers need it shared
   * @param heap allocates the scratch (packed B, packed A blocks) in `memory`
   * @param threads threads to split each product over (the caller plus `threads - 1` workers);
   *   1 when `memory` is not shared
   * @throws Error when the engine lacks relaxed SIMD (check {@link relaxedSimdSupported})
   */
  constructor(
    readonly memory: WebAssembly.Memory,
    private readonly heap: HeapAllocator,
    threads: number,
  ) {
    const shared = memory.buffer instanceof SharedArrayBuffer;
    this.threads = shared ? Math.max(1, Math.floor(threads)) : 1;
    const bytes = gemmModuleBytes(
      shared ? { shared, minPages: 1, maxPages: MAX_PAGES } : { shared, minPages: 1 },
      true,
    );
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { memory },
    });
    this.kernels = {
      gemmBlock: instance.exports["gemm_block"] as GemmBlock,
      packB: instance.exports["pack_b"] as PackB,
    };
    this.job = new Int32Array(
      shared ? new SharedArrayBuffer(JOB_LENGTH * 4) : new ArrayBuffer(JOB_LENGTH * 4),
    );
    for (let t = 1; t < this.threads; t++) {
      const worker = new NodeWorker(workerSource(), { eval: true });
      worker.on("error", (error: Error) => {
        this.helperError = error.message;
      });
      worker.unref();
      worker.postMessage({ memory, bytes, job: this.job, thread: t, seq: 0 });
      this.helpers.push(worker);
    }
  }

  /** Columns of C a product writes in whole tiles: N must be a multiple of it. */
  static get columnMultiple(): number {
    return DEFAULT_TILE.nv * 4;
  }

  /** Rows the destination needs room for: M rounded up to whole register tiles. */
  static paddedRows(m: number): number {
    return Math.ceil(m / DEFAULT_TILE.mr) * DEFAULT_TILE.mr;
  }

  /**
   * Computes one product into `job.out`.
   * @throws RangeError when N is not a multiple of {@link WasmGemm.columnMultiple}
   */
  run(job: GemmJob): void {
    if (this.disposed) throw new Error("WasmGemm: used after dispose()");
    const { m: M, k: K, n: N } = job;
    const { mr, nv } = DEFAULT_TILE;
    const nr = nv * 4;
    if (N % nr !== 0) {
      throw new RangeError(`WasmGemm: N = ${N} is not a multiple of ${nr}`);
    }
    if (M === 0 || N === 0) return;
    if (K === 0) {
      const out = new Float32Array(this.memory.buffer, job.out, M * N);
      const bias = job.bias === undefined
        ? undefined
        : new Float32Array(this.memory.buffer, job.bias, N);
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          out[i * N + j] = Math.max(job.activation === "relu" ? 0 : -Infinity, bias?.[j] ?? 0);
        }
      }
      return;
    }
    const panels = N / nr;
    const kBlocks = Math.ceil(K / KC);
    const mc = Math.ceil(MC / mr) * mr;
    // Few rows, B row-major: threads pack B's panels a chunk at a time as they need them.
    const chunked = job.packB === undefined && !job.transB && M < CHUNKED_MAX_ROWS;
    const packedBBytes = chunked ? 0 : kBlocks * panels * KC * nr * 4;
    // Few row blocks: cut the panels into groups too, so that every thread has work.
    const rowBlocks = Math.ceil(M / mc);
    const groups = this.threads === 1
      ? 1
      : Math.min(panels, Math.ceil(this.threads * UNITS_PER_THREAD / rowBlocks));
    const scratchBytes = Math.ceil((mc * KC + (chunked ? KC * CHUNK_PANELS * nr : 0)) * 4 / 64) *
      64;
    const regionBytes = 64 + packedBBytes + this.threads * scratchBytes;
    const region = this.heap.malloc(regionBytes);
    if (region === 0) {
      throw new RangeError(`WasmGemm: could not allocate ${regionBytes} bytes of scratch`);
    }
    try {
      const bAddr = Math.ceil(region / 64) * 64;
      const scratchAddr = bAddr + packedBBytes;
      // Each k block of B: panels of [kcp][nr], rows kc..kcp zero.
      for (let k0 = 0, block = bAddr; k0 < K && !chunked; k0 += KC, block += panels * KC * nr * 4) {
        const kc = Math.min(KC, K - k0);
        const kcp = Math.ceil(kc / K_UNROLL) * K_UNROLL;
        if (job.packB !== undefined) {
          job.packB(new Float32Array(this.memory.buffer), block >>> 2, k0, kc, kcp, panels, nr);
        } else if (job.transB) {
          const f32 = new Float32Array(this.memory.buffer);
          packTransposedBBlock(f32, block >>> 2, (job.b >>> 2) + k0, K, kc, kcp, panels, nr);
        } else {
          this.kernels.packB(job.b + k0 * N * 4, block, N * 4, kc, kcp, panels);
        }
      }
      const j = this.job;
      j[JOB.a] = job.a;
      j[JOB.transA] = job.transA ? 1 : 0;
      j[JOB.m] = M;
      j[JOB.k] = K;
      j[JOB.bPacked] = chunked ? job.b : bAddr;
      j[JOB.bRowBytes] = chunked ? N * 4 : 0;
      j[JOB.groupPanels] = Math.ceil(panels / groups);
      j[JOB.chunkPanels] = chunked ? CHUNK_PANELS : panels;
      j[JOB.panels] = panels;
      j[JOB.c] = job.out;
      j[JOB.bias] = job.bias ?? 0;
      j[JOB.scratch] = scratchAddr;
      j[JOB.scratchBytes] = scratchBytes;
      j[JOB.kc] = KC;
      j[JOB.mc] = mc;
      j[JOB.mr] = mr;
      j[JOB.nr] = nr;
      j[JOB.kUnroll] = K_UNROLL;
      j[JOB.activation] = job.activation === "relu" ? 1 : 0;
      Atomics.store(j, JOB.next, 0);
      if (this.helpers.length > 0) {
        Atomics.store(j, JOB.done, 0);
        Atomics.store(j, JOB.failed, 0);
        Atomics.add(j, JOB.seq, 1);
        Atomics.notify(j, JOB.seq);
      }
      runGemmRows(this.memory, this.kernels, j, 0);
      this.awaitHelpers();
    } finally {
      this.heap.free(region);
    }
  }

  /** Stops the helper workers; the engine cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.helpers.length > 0) {
      Atomics.store(this.job, JOB.seq, -1);
      Atomics.notify(this.job, JOB.seq);
      for (const worker of this.helpers) void worker.terminate();
    }
  }

  private awaitHelpers(): void {
    if (this.helpers.length === 0) return;
    const deadline = performance.now() + HELPER_TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(this.job, JOB.done);
      if (done >= this.helpers.length) break;
      if (this.helperError !== undefined || performance.now() > deadline) {
        const why = this.helperError ?? `no answer in ${HELPER_TIMEOUT_MS / 1000} s`;
        this.dispose();
        throw new Error(`WasmGemm: a helper thread failed (${why})`);
      }
      Atomics.wait(this.job, JOB.done, done, 50);
    }
    if (Atomics.load(this.job, JOB.failed) !== 0) {
      throw new Error("WasmGemm: a helper thread threw while computing its rows");
    }
  }
}

/**
 * `pack_b` for a B stored transposed ([N, K] row-major, rows `K` apart): packs the k block whose
 * first column is at `src` into `panels` panels of `[kcp][nr]` at `dst`, rows kc..kcp zero.
 */
function packTransposedBBlock(
  f32: Float32Array,
  dst: number,
  src: number,
  K: number,
  kc: number,
  kcp: number,
  panels: number,
  nr: number,
): void {
  let o = dst;
  for (let p = 0; p < panels; p++) {
    for (let k = 0; k < kcp; k++) {
      for (let j = 0; j < nr; j++) f32[o + j] = k < kc ? f32[src + (p * nr + j) * K + k]! : 0;
      o += nr;
    }
  }
}
