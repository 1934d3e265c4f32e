/**
 * One thread's share of a wasm matrix product: rows `[rowStart, rowEnd)` of `C = A·B (+ bias)`.
 * The same function runs on the calling thread and, as source text, in each helper worker, so it
 * reads everything from the shared job block and references nothing outside itself but
 * `geluErfInPlace` (which the workers are given too).
 * @module
 */

import { geluErfInPlace } from "./gelu.ts";

/** Slots of the shared job block (an Int32Array). */
export const JOB = {
  /** Incremented by the caller to start a job. */
  seq: 0,
  /** Helpers finished with the current job. */
  done: 1,
  /** Set to 1 by a helper whose share threw. */
  failed: 2,
  /** Byte address of A (row-major [M, K], or [K, M] when transposed). */
  a: 3,
  /** 1 when A is stored transposed. */
  transA: 4,
  /** Rows of C. */
  m: 5,
  /** Shared dimension. */
  k: 6,
  /** Byte address of the packed B (`pack_b`'s layout, every k block). */
  bPacked: 7,
  /** Panels of NR columns. */
  panels: 8,
  /** Byte address of C ([Mp, panels*NR]: room for whole tiles). */
  c: 9,
  /** Byte address of the bias row (panels*NR floats), or 0. */
  bias: 10,
  /** Byte address of the first thread's A scratch. */
  scratch: 11,
  /** Bytes of scratch per thread. */
  scratchBytes: 12,
  /** k block size (a multiple of the kernel's k unroll). */
  kc: 13,
  /** Rows per packed A block (a multiple of MR). */
  mc: 14,
  /** Register-tile rows. */
  mr: 15,
  /** Register-tile columns. */
  nr: 16,
  /** k unroll of the kernel. */
  kUnroll: 17,
  /** Applied to the result: 0 none, 1 max(0, x), 2 GELU (erf form). */
  activation: 18,
  /** First of the [rowStart, rowEnd) pairs, one per thread. */
  ranges: 19,
} as const;

/** Length of the job block for `threads` threads. */
export function jobLength(threads: number): number {
  return JOB.ranges + 2 * threads;
}

/** Signature of the generated packing of one k block of B (see `gemm_module.ts`). */
export type PackB = (
  src: number,
  dst: number,
  rowBytes: number,
  kc: number,
  kcp: number,
  panels: number,
) => void;

/** Signature of the generated kernel (see `gemm_module.ts`). */
export type GemmBlock = (
  ap: number,
  bp: number,
  cp: number,
  rowBlocks: number,
  panels: number,
  kc: number,
  ldc: number,
  mode: number,
  bias: number,
) => void;

/**
 * Computes thread `thread`'s rows of the job: packs A block by block into the thread's scratch
 * and runs the kernel over every panel of B.
 * @param memory the shared memory holding A, packed B, C and the scratch
 * @param gemmBlock the kernel instantiated on `memory`
 * @param job the job block
 * @param thread 0 for the caller, 1.. for the helpers
 */
export function runGemmRows(
  memory: WebAssembly.Memory,
  gemmBlock: GemmBlock,
  job: Int32Array,
  thread: number,
): void {
  // Slot numbers repeated as literals: this function runs as source text in workers.
  const aAddr = job[3]!, transA = job[4]!, M = job[5]!, K = job[6]!, bPacked = job[7]!;
  const panels = job[8]!, cAddr = job[9]!, bias = job[10]!, kcMax = job[13]!, mc = job[14]!;
  const mr = job[15]!, nr = job[16]!, kUnroll = job[17]!, activation = job[18]!;
  const rowStart = job[19 + 2 * thread]!, rowEnd = job[20 + 2 * thread]!;
  if (rowEnd <= rowStart) return;
  const scratch = job[11]! + thread * job[12]!;
  // On a shared memory, grow(0) refreshes this thread's view after another thread grew it.
  if (memory.buffer instanceof SharedArrayBuffer) memory.grow(0);
  const f32 = new Float32Array(memory.buffer);
  const a = aAddr >>> 2; // >>>: addresses past 2 GiB read back negative from the Int32Array
  const ldcBytes = panels * nr * 4;
  const blockBytes = panels * kcMax * nr * 4;
  for (let k0 = 0, block = 0; k0 < K; k0 += kcMax, block++) {
    const kc = Math.min(kcMax, K - k0);
    const kcp = Math.ceil(kc / kUnroll) * kUnroll;
    const mode = k0 === 0 ? (bias !== 0 ? 2 : 0) : 1;
    for (let m0 = rowStart; m0 < rowEnd; m0 += mc) {
      const rows = Math.min(mc, rowEnd - m0);
      const blocks = Math.ceil(rows / mr);
      let q = scratch >>> 2;
      for (let rb = 0; rb < blocks; rb++) {
        const i0 = m0 + rb * mr;
        const live = Math.max(0, Math.min(mr, M - i0));
        if (transA === 0) {
          for (let r = 0; r < live; r++) {
            let src = a + (i0 + r) * K + k0;
            let dst = q + r;
            for (let k = 0; k < kc; k++, dst += mr) f32[dst] = f32[src++]!;
            for (let k = kc; k < kcp; k++, dst += mr) f32[dst] = 0;
          }
        } else {
          for (let k = 0; k < kc; k++) {
            const src = a + (k0 + k) * M + i0;
            const dst = q + k * mr;
            for (let r = 0; r < live; r++) f32[dst + r] = f32[src + r]!;
          }
          for (let r = 0; r < live; r++) {
            for (let k = kc; k < kcp; k++) f32[q + k * mr + r] = 0;
          }
        }
        for (let r = live; r < mr; r++) {
          for (let k = 0, dst = q + r; k < kcp; k++, dst += mr) f32[dst] = 0;
        }
        q += kcp * mr;
      }
      gemmBlock(
        scratch,
        bPacked + block * blockBytes,
        cAddr + m0 * ldcBytes,
        blocks,
        panels,
        kcp,
        ldcBytes,
        mode,
        bias,
      );
    }
  }
  const first = (cAddr >>> 2) + rowStart * panels * nr, end = (cAddr >>> 2) + rowEnd * panels * nr;
  if (activation === 1) {
    for (let i = first; i < end; i++) if (f32[i]! < 0) f32[i] = 0;
  } else if (activation === 2) {
    geluErfInPlace(f32, first, end);
  }
}
