/**
 * One thread's share of a wasm matrix product `C = A·B (+ bias)`: units (a block of rows × a group
 * of column panels) claimed one at a time from a shared counter. The same function runs on the calling thread and, as source text,
 * in each helper worker, so it reads everything from the shared job block and references nothing
 * outside itself.
 * @module
 */

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
  /**
   * Byte address of the packed B (`pack_b`'s layout, every k block), or of B itself (row-major
   * [K, N]) when `bRowBytes` is not 0.
   */
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
  /** Applied to the result: 0 none, 1 max(0, x). */
  activation: 18,
  /** The next unit to claim (threads take units until none is left). */
  next: 19,
  /**
   * Bytes between B's rows when each thread packs the panels it needs, a chunk at a time, into
   * its own scratch (B row-major at `bPacked`); 0 when B was packed whole beforehand.
   */
  bRowBytes: 20,
  /**
   * Panels per unit: a unit is a block of `mc` rows times this many panels (all of them but
   * when few rows are shared out over threads).
   */
  groupPanels: 21,
  /** Panels packed at a time when `bRowBytes` is not 0 (a chunk of `kc` rows stays in L2). */
  chunkPanels: 22,
} as const;

/** Length of the job block. */
export const JOB_LENGTH = 23;

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

/** The generated functions, instantiated on one memory. */
export interface GemmKernels {
  /** The kernel. */
  gemmBlock: GemmBlock;
  /** Packs a k block of B's panels. */
  packB: PackB;
}

/**
 * Computes units of the job (a block of `mc` rows times a group of panels) until none is left,
 * claiming each from the job block (so a thread slowed by anything else on its core takes
 * fewer): packs the block's A, k block by k block, into the thread's scratch and runs the kernel
 * over the group's panels of B (packing them first, a chunk at a time, when B was not packed
 * beforehand). The thread's scratch holds the packed A block, then the chunk of B.
 * @param memory the shared memory holding A, B (packed or not), C and the scratch
 * @param kernels the kernels instantiated on `memory`
 * @param job the job block
 * @param thread 0 for the caller, 1.. for the helpers (selects the scratch)
 */
export function runGemmRows(
  memory: WebAssembly.Memory,
  kernels: GemmKernels,
  job: Int32Array,
  thread: number,
): void {
  // Slot numbers repeated as literals: this function runs as source text in workers.
  const aAddr = job[3]!, transA = job[4]!, M = job[5]!, K = job[6]!, bPacked = job[7]!;
  const panels = job[8]!, cAddr = job[9]!, bias = job[10]!, kcMax = job[13]!, mc = job[14]!;
  const mr = job[15]!, nr = job[16]!, kUnroll = job[17]!, activation = job[18]!;
  const scratch = job[11]! + thread * job[12]!;
  const bRowBytes = job[20]!, groupPanels = job[21]!, chunkPanels = job[22]!;
  const bScratch = scratch + mc * kcMax * 4;
  // Another thread may have grown a shared memory: grow(0) refreshes this thread's view. Only
  // when the view is too short: each grow signals every thread sharing the memory.
  const reach = Math.max(
    (aAddr >>> 0) + M * K * 4,
    (cAddr >>> 0) + Math.ceil(M / mr) * mr * panels * nr * 4,
    (scratch >>> 0) + job[12]!,
    bRowBytes === 0 ? 0 : (bPacked >>> 0) + K * bRowBytes,
  );
  if (memory.buffer.byteLength < reach && memory.buffer instanceof SharedArrayBuffer) {
    memory.grow(0);
  }
  const f32 = new Float32Array(memory.buffer);
  const a = aAddr >>> 2; // >>>: addresses past 2 GiB read back negative from the Int32Array
  const ldcBytes = panels * nr * 4;
  const blockBytes = panels * kcMax * nr * 4;
  const rowBlocks = Math.ceil(M / mc);
  const groups = Math.ceil(panels / groupPanels);
  for (;;) {
    const claimed = Atomics.add(job, 19, 1);
    if (claimed >= rowBlocks * groups) break;
    const m0 = Math.floor(claimed / groups) * mc;
    const p0 = (claimed % groups) * groupPanels;
    const unitPanels = Math.min(groupPanels, panels - p0);
    const cFirst = cAddr + m0 * ldcBytes + p0 * nr * 4;
    const rows = Math.min(mc, M - m0);
    const blocks = Math.ceil(rows / mr);
    for (let k0 = 0, block = 0; k0 < K; k0 += kcMax, block++) {
      const kc = Math.min(kcMax, K - k0);
      const kcp = Math.ceil(kc / kUnroll) * kUnroll;
      const mode = k0 === 0 ? (bias !== 0 ? 2 : 0) : 1;
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
      for (let c0 = p0; c0 < p0 + unitPanels; c0 += chunkPanels) {
        const chunk = Math.min(chunkPanels, p0 + unitPanels - c0);
        let bp = bPacked + block * blockBytes + c0 * kcp * nr * 4;
        if (bRowBytes !== 0) {
          kernels.packB(
            bPacked + k0 * bRowBytes + c0 * nr * 4,
            bScratch,
            bRowBytes,
            kc,
            kcp,
            chunk,
          );
          bp = bScratch;
        }
        const cp = cAddr + m0 * ldcBytes + c0 * nr * 4;
        const chunkBias = bias === 0 ? 0 : bias + c0 * nr * 4;
        kernels.gemmBlock(scratch, bp, cp, blocks, chunk, kcp, ldcBytes, mode, chunkBias);
      }
    }
    if (activation === 1) {
      const width = unitPanels * nr;
      for (let r = 0; r < rows; r++) {
        const first = (cFirst >>> 2) + r * panels * nr;
        for (let i = first; i < first + width; i++) if (f32[i]! < 0) f32[i] = 0;
      }
    }
  }
}
