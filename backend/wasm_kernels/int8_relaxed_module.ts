/**
 * The relaxed-SIMD form of the integer kernel (`int8_module.ts` has the standard one): the same
 * products, `y = x·Wᵀ + bias` with W int8 as stored and x's rows as 13-bit codes, in half the
 * instructions, using `i32x4.relaxed_dot_i8x16_i7x16_add_s` (16 byte products per instruction).
 *
 * That instruction is defined, and the same on every engine, only when its second operand's bytes
 * are in 0..127, so each code c (|c| <= 4095) is stored as two such bytes: `c + 8192 = 128·hi +
 * lo` (hi in 32..95, lo in 0..127), and `Σ w·c = 128·Σ w·hi + Σ w·lo − 8192·Σ w` with W's row sums
 * computed once per weight (`row_sums`). Every partial sum is exact; the final one is taken modulo
 * 2³² (i32 arithmetic wraps), which gives the exact value since that value fits in an i32 (see
 * `activationQmax`). Pair sums never reach the int16 saturation of the instruction's x86 form
 * (|−128·127·2| < 2¹⁵), so every lowering gives the same result.
 *
 * - `quantize_rows(x, m, k, kp, planes, scales, qmax)`: row r's hi bytes at `planes + 2·r·kp`, its
 *   lo bytes right after (kp each, kp a multiple of 16, zero past k); scales as the standard form.
 * - `row_sums(w, n, k, sums)`: `sums[j] = Σ_c w[j][c]` (i32) over W's rows (k bytes apart).
 * - `gemm(planes, sa, m, kp, w, ldw, sw, sums, n, bias, out, ldo)`: as the standard form.
 * @module
 */
import { emitRowMaxAbs, emitScaledStore, emitTileWalk } from "./int8_emit.ts";
import { encodeModule, F32, FunctionBody, I32, type MemoryImport, V128 } from "./wasm_writer.ts";

/** Register tile: rows of x × rows of W (two accumulators each, hi and lo). */
export interface RelaxedTile {
  mr: number;
  nr: number;
}

/**
 * The tile used: 1 × 6 (12 accumulators, 2 code vectors, 1 weight vector; measured fastest of
 * 1-3 rows × 1-8 channels, about 1.2x the standard form's 3 × 3).
 */
export const RELAXED_TILE: RelaxedTile = { mr: 1, nr: 6 };

/** Offset that makes codes non-negative. */
const OFFSET = 8192;

function quantizeRowsBody(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32, F32]);
  const [X, M, K, KP, P, S, QMAX] = [0, 1, 2, 3, 4, 5, 6];
  const r = f.local(I32), c = f.local(I32), px = f.local(I32), ph = f.local(I32);
  const k4 = f.local(I32), k16 = f.local(I32), u = f.local(I32);
  const v = f.local(V128), vinv = f.local(V128), off = f.local(V128), low7 = f.local(V128);
  const ua = f.local(V128), ub = f.local(V128);
  const mx = f.local(F32), inv = f.local(F32);
  f.localGet(K).i32Const(-4).i32And().localSet(k4);
  f.localGet(K).i32Const(-16).i32And().localSet(k16);
  f.i32Const(OFFSET).i32x4Splat().localSet(off);
  f.i32Const(127 | (127 << 16)).i32x4Splat().localSet(low7); // 127 in every int16 lane
  f.i32Const(0).localSet(r);
  f.countTo(r, M, () => {
    f.localGet(X).localGet(r).localGet(K).i32Mul().i32Const(4).i32Mul().i32Add().localSet(px);
    emitRowMaxAbs(f, { px, k: K, k4, c, v, mx });
    f.localGet(S).localGet(r).i32Const(4).i32Mul().i32Add();
    f.localGet(mx).localGet(QMAX).f32Div().localGet(mx);
    f.localGet(mx).f32Const(0).f32Gt().select();
    f.f32Store();
    f.localGet(QMAX).localGet(mx).f32Div().f32Const(0);
    f.localGet(mx).f32Const(0).f32Gt().select().localSet(inv);
    f.localGet(inv).f32x4Splat().localSet(vinv);
    f.localGet(P).localGet(r).localGet(KP).i32Mul().i32Const(2).i32Mul().i32Add().localSet(ph);
    f.i32Const(0).localSet(c);
    /** Pushes the 8 offset codes of x[c + at .. c + at + 8] as int16 lanes. */
    const codes8 = (at: number): void => {
      for (const half of [0, 4]) {
        f.localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().v128Load((at + half) * 4);
        f.localGet(vinv).f32x4Mul().f32x4Nearest().i32x4TruncSatF32x4S().localGet(off).i32x4Add();
      }
      f.i16x8NarrowI32x4S();
    };
    f.whileBelow(c, () => f.localGet(k16), 16, () => {
      codes8(0);
      f.localSet(ua);
      codes8(8);
      f.localSet(ub);
      // hi bytes, then lo bytes
      f.localGet(ph).localGet(c).i32Add();
      f.localGet(ua).i32Const(7).i16x8ShrU().localGet(ub).i32Const(7).i16x8ShrU();
      f.i8x16NarrowI16x8U().v128Store();
      f.localGet(ph).localGet(KP).i32Add().localGet(c).i32Add();
      f.localGet(ua).localGet(low7).v128And().localGet(ub).localGet(low7).v128And();
      f.i8x16NarrowI16x8U().v128Store();
    });
    f.whileBelow(c, () => f.localGet(K), 1, () => {
      f.localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().f32Load();
      f.localGet(inv).f32Mul().f32Nearest().i32TruncSatF32S().i32Const(OFFSET).i32Add().localSet(u);
      f.localGet(ph).localGet(c).i32Add().localGet(u).i32Const(7).i32ShrU().i32Store8();
      f.localGet(ph).localGet(KP).i32Add().localGet(c).i32Add();
      f.localGet(u).i32Const(127).i32And().i32Store8();
    });
    f.whileBelow(c, () => f.localGet(KP), 1, () => {
      f.localGet(ph).localGet(c).i32Add().i32Const(0).i32Store8();
      f.localGet(ph).localGet(KP).i32Add().localGet(c).i32Add().i32Const(0).i32Store8();
    });
  });
  return f;
}

function rowSumsBody(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32]);
  const [W, N, K, SUMS] = [0, 1, 2, 3];
  const j = f.local(I32), c = f.local(I32), row = f.local(I32), k16 = f.local(I32);
  const sum = f.local(I32), acc = f.local(V128), ones = f.local(V128);
  f.localGet(K).i32Const(-16).i32And().localSet(k16);
  f.i32Const(0x01010101).i32x4Splat().localSet(ones);
  f.i32Const(0).localSet(j);
  f.countTo(j, N, () => {
    f.localGet(W).localGet(j).localGet(K).i32Mul().i32Add().localSet(row);
    f.f32x4Const(0).localSet(acc);
    f.i32Const(0).localSet(c);
    f.whileBelow(c, () => f.localGet(k16), 16, () => {
      f.localGet(row).localGet(c).i32Add().v128Load().localGet(ones).localGet(acc);
      f.i32x4RelaxedDotI8x16I7x16AddS().localSet(acc);
    });
    f.localGet(acc).i32x4ExtractLane(0).localGet(acc).i32x4ExtractLane(1).i32Add();
    f.localGet(acc).i32x4ExtractLane(2).localGet(acc).i32x4ExtractLane(3).i32Add();
    f.i32Add().localSet(sum);
    f.whileBelow(c, () => f.localGet(K), 1, () => {
      f.localGet(sum).localGet(row).localGet(c).i32Add().i32Load8S().i32Add().localSet(sum);
    });
    f.localGet(SUMS).localGet(j).i32Const(4).i32Mul().i32Add().localGet(sum).i32Store();
  });
  return f;
}

function gemmBody({ mr: MR, nr: NR }: RelaxedTile): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [P, SA, M, KP, W, LDW] = [0, 1, 2, 3, 4, 5];
  const [SW, SUMS, N, BIAS, OUT, LDO] = [6, 7, 8, 9, 10, 11];
  const n0 = f.local(I32), m0 = f.local(I32), aEnd = f.local(I32), sum = f.local(I32);
  const locals = { sa: SA, m: M, sw: SW, n: N, bias: BIAS, out: OUT, ldo: LDO, m0, n0 };
  const hp: number[] = [], w: number[] = [], hv: number[] = [], lv: number[] = [];
  const accH: number[][] = [], accL: number[][] = [];
  for (let i = 0; i < MR; i++) hp.push(f.local(I32));
  for (let j = 0; j < NR; j++) w.push(f.local(I32));
  for (let i = 0; i < MR; i++) hv.push(f.local(V128));
  for (let i = 0; i < MR; i++) lv.push(f.local(V128));
  const wv = f.local(V128);
  for (let i = 0; i < MR; i++) {
    accH.push([]);
    accL.push([]);
    for (let j = 0; j < NR; j++) {
      accH[i]!.push(f.local(V128));
      accL[i]!.push(f.local(V128));
    }
  }
  const hsum = (x: number): void => {
    f.localGet(x).i32x4ExtractLane(0).localGet(x).i32x4ExtractLane(1).i32Add();
    f.localGet(x).i32x4ExtractLane(2).localGet(x).i32x4ExtractLane(3).i32Add().i32Add();
  };

  const tile = (mr: number, nr: number): void => {
    for (let i = 0; i < mr; i++) {
      f.localGet(P).localGet(m0).i32Const(i).i32Add().localGet(KP).i32Mul().i32Const(2).i32Mul();
      f.i32Add().localSet(hp[i]!);
    }
    f.localGet(hp[0]!).localGet(KP).i32Add().localSet(aEnd);
    for (let j = 0; j < nr; j++) {
      f.localGet(W).localGet(n0).i32Const(j).i32Add().localGet(LDW).i32Mul().i32Add();
      f.localSet(w[j]!);
    }
    for (let i = 0; i < mr; i++) {
      for (let j = 0; j < nr; j++) {
        f.f32x4Const(0).localSet(accH[i]![j]!);
        f.f32x4Const(0).localSet(accL[i]![j]!);
      }
    }
    f.loop();
    for (let i = 0; i < mr; i++) {
      f.localGet(hp[i]!).v128Load().localSet(hv[i]!);
      f.localGet(hp[i]!).localGet(KP).i32Add().v128Load().localSet(lv[i]!);
    }
    for (let j = 0; j < nr; j++) {
      f.localGet(w[j]!).v128Load().localSet(wv);
      for (let i = 0; i < mr; i++) {
        const h = accH[i]![j]!, l = accL[i]![j]!;
        f.localGet(wv).localGet(hv[i]!).localGet(h).i32x4RelaxedDotI8x16I7x16AddS().localSet(h);
        f.localGet(wv).localGet(lv[i]!).localGet(l).i32x4RelaxedDotI8x16I7x16AddS().localSet(l);
      }
    }
    for (let i = 0; i < mr; i++) f.addConst(hp[i]!, 16);
    for (let j = 0; j < nr; j++) f.addConst(w[j]!, 16);
    f.localGet(hp[0]!).localGet(aEnd).i32LtU().brIf(0);
    f.end();
    for (let i = 0; i < mr; i++) {
      for (let j = 0; j < nr; j++) {
        // Σ w·c = 128·Σ w·hi + Σ w·lo − 8192·Σ w (mod 2³², exact)
        hsum(accH[i]![j]!);
        f.i32Const(128).i32Mul();
        hsum(accL[i]![j]!);
        f.i32Add();
        f.localGet(SUMS).localGet(n0).i32Const(4).i32Mul().i32Add().i32Load(j * 4);
        f.i32Const(OFFSET).i32Mul().i32Sub().localSet(sum);
        emitScaledStore(f, locals, sum, i, j);
      }
    }
  };

  emitTileWalk(f, locals, MR, NR, tile);
  return f;
}

/**
 * Builds the module's bytes (exports `quantize_rows`, `row_sums` and `gemm`).
 * @param memory how `env.memory` is imported
 * @param tile the register tile
 */
export function int8RelaxedModuleBytes(
  memory: MemoryImport,
  tile: RelaxedTile = RELAXED_TILE,
): Uint8Array<ArrayBuffer> {
  return encodeModule(memory, [
    { name: "quantize_rows", body: quantizeRowsBody() },
    { name: "row_sums", body: rowSumsBody() },
    { name: "gemm", body: gemmBody(tile) },
  ]);
}

/** Signature of `row_sums`. */
export type RowSums = (w: number, n: number, k: number, sums: number) => void;

/** Signature of the relaxed `gemm`. */
export type RelaxedGemm = (
  planes: number,
  sa: number,
  m: number,
  kp: number,
  w: number,
  ldw: number,
  sw: number,
  sums: number,
  n: number,
  bias: number,
  out: number,
  ldo: number,
) => void;
