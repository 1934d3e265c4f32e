/**
 * Generates the matrix-product kernel of the wasm path: `C = A·B` over blocks packed by
 * `gemm.ts`, with a register tile of MR rows × NR columns held in SIMD locals and updated with
 * relaxed-SIMD fused multiply-adds where the engine has them (plain multiply + add otherwise).
 *
 * Packed layouts (float32):
 * - A block: row blocks of MR rows, each `[kc][MR]` (the MR values of one k side by side);
 * - B block: panels of NR columns, each `[kc][NR]`.
 *
 * `gemm_block(ap, bp, cp, rowBlocks, panels, kc, ldc, mode, bias)` computes, for every panel p
 * and row block i, the MR×NR tile of C at `cp + i*MR*ldc + p*NR*4` (`ldc` in bytes): mode 0
 * starts from zero, 1 adds to C, 2 starts from the bias row at `bias + p*NR*4`. `kc` must be a
 * multiple of {@link K_UNROLL}. `pack_b` packs B blocks into that layout.
 * @module
 */
import { encodeModule, FunctionBody, I32, type MemoryImport, V128 } from "./wasm_writer.ts";

/** k steps per loop iteration; packed blocks are padded to a multiple of it. */
export const K_UNROLL = 4;

/** Register-tile sizes. */
export interface TileShape {
  /** Rows of the register tile. */
  mr: number;
  /** SIMD vectors (4 columns each) per row of the tile. */
  nv: number;
}

/** The tile used: 6 rows × 8 columns (12 accumulators + 2 B vectors + 1 A splat = 15 registers). */
export const DEFAULT_TILE: TileShape = { mr: 6, nv: 2 };

/**
 * Builds the kernel's module bytes.
 * @param memory how `env.memory` is imported (shared for threads)
 * @param fma whether to use `f32x4.relaxed_madd`
 * @param tile register-tile shape
 */
export function gemmModuleBytes(
  memory: MemoryImport,
  fma: boolean,
  tile: TileShape = DEFAULT_TILE,
): Uint8Array<ArrayBuffer> {
  const { mr, nv } = tile;
  const nr = nv * 4;
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [AP, BP, CP, ROW_BLOCKS, PANELS, KC, LDC, MODE, BIAS] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const a = f.local(I32);
  const b = f.local(I32);
  const bEnd = f.local(I32);
  const c = f.local(I32);
  const cRow = f.local(I32);
  const p = f.local(I32);
  const rb = f.local(I32);
  const panelBytes = f.local(I32);
  const acc: number[][] = [];
  for (let r = 0; r < mr; r++) {
    acc.push([]);
    for (let v = 0; v < nv; v++) acc[r]!.push(f.local(V128));
  }
  const bv: number[] = [];
  for (let v = 0; v < nv; v++) bv.push(f.local(V128));
  const s = f.local(V128);

  // panelBytes = kc * nr * 4
  f.localGet(KC).i32Const(nr * 4).i32Mul().localSet(panelBytes);
  f.i32Const(0).localSet(p);
  f.countTo(p, PANELS, () => {
    f.localGet(AP).localSet(a);
    f.localGet(CP).localGet(p).i32Const(nr * 4).i32Mul().i32Add().localSet(c);
    f.i32Const(0).localSet(rb);
    f.countTo(rb, ROW_BLOCKS, () => {
      // Initial accumulators.
      f.localGet(MODE).i32Eqz().if();
      for (const row of acc) for (const x of row) f.f32x4Const(0).localSet(x);
      f.else();
      f.localGet(MODE).i32Const(1).i32Eq().if();
      for (let r = 0; r < mr; r++) {
        f.localGet(c).localGet(LDC).i32Const(r).i32Mul().i32Add().localSet(cRow);
        for (let v = 0; v < nv; v++) f.localGet(cRow).v128Load(v * 16).localSet(acc[r]![v]!);
      }
      f.else();
      f.localGet(BIAS).localGet(p).i32Const(nr * 4).i32Mul().i32Add().localSet(cRow);
      for (let v = 0; v < nv; v++) f.localGet(cRow).v128Load(v * 16).localSet(acc[0]![v]!);
      for (let r = 1; r < mr; r++) {
        for (let v = 0; v < nv; v++) f.localGet(acc[0]![v]!).localSet(acc[r]![v]!);
      }
      f.end();
      f.end();
      // k loop (kc > 0, a multiple of K_UNROLL).
      f.localGet(BP).localGet(p).localGet(panelBytes).i32Mul().i32Add().localTee(b);
      f.localGet(panelBytes).i32Add().localSet(bEnd);
      f.loop();
      for (let u = 0; u < K_UNROLL; u++) {
        for (let v = 0; v < nv; v++) {
          f.localGet(b).v128Load((u * nr + v * 4) * 4).localSet(bv[v]!);
        }
        for (let r = 0; r < mr; r++) {
          f.localGet(a).v128Load32Splat((u * mr + r) * 4).localSet(s);
          for (let v = 0; v < nv; v++) {
            const x = acc[r]![v]!;
            if (fma) f.localGet(s).localGet(bv[v]!).localGet(x).f32x4RelaxedMadd();
            else f.localGet(s).localGet(bv[v]!).f32x4Mul().localGet(x).f32x4Add();
            f.localSet(x);
          }
        }
      }
      f.addConst(a, K_UNROLL * mr * 4);
      f.addConst(b, K_UNROLL * nr * 4);
      f.localGet(b).localGet(bEnd).i32LtU().brIf(0);
      f.end();
      // Store the tile.
      for (let r = 0; r < mr; r++) {
        f.localGet(c).localGet(LDC).i32Const(r).i32Mul().i32Add().localSet(cRow);
        for (let v = 0; v < nv; v++) f.localGet(cRow).localGet(acc[r]![v]!).v128Store(v * 16);
      }
      f.localGet(c).localGet(LDC).i32Const(mr).i32Mul().i32Add().localSet(c);
    });
  });
  return encodeModule(memory, [
    { name: "gemm_block", body: f },
    { name: "pack_b", body: packBBody(nv) },
  ]);
}

/**
 * `pack_b(src, dst, rowBytes, kc, kcp, panels)`: packs one k block of a row-major B whose
 * column count is a multiple of NR: `src` is the block's first row, rows `rowBytes` apart; panel
 * p of `dst` is `[kcp][NR]`, rows kc..kcp zero.
 */
function packBBody(nv: number): FunctionBody {
  const nr = nv * 4;
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32]);
  const [SRC, DST, ROW_BYTES, KC, KCP, PANELS] = [0, 1, 2, 3, 4, 5];
  const p = f.local(I32);
  const k = f.local(I32);
  const from = f.local(I32);
  const to = f.local(I32);
  f.localGet(DST).localSet(to);
  f.i32Const(0).localSet(p);
  f.countTo(p, PANELS, () => {
    f.localGet(SRC).localGet(p).i32Const(nr * 4).i32Mul().i32Add().localSet(from);
    f.i32Const(0).localSet(k);
    f.countTo(k, KC, () => { // rows of the block
      for (let v = 0; v < nv; v++) f.localGet(to).localGet(from).v128Load(v * 16).v128Store(v * 16);
      f.addConst(to, nr * 4);
      f.localGet(from).localGet(ROW_BYTES).i32Add().localSet(from);
    });
    f.countTo(k, KCP, () => { // zero rows up to kcp (k continues from kc)
      for (let v = 0; v < nv; v++) f.localGet(to).f32x4Const(0).v128Store(v * 16);
      f.addConst(to, nr * 4);
    });
  });
  return f;
}
