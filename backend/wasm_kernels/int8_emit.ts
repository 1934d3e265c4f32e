/**
 * Code both integer kernels emit alike (`int8_module.ts`, the standard-SIMD form, and
 * `int8_relaxed_module.ts`): a row's largest magnitude, an output's scaling and store, and the walk
 * over register tiles. Each takes the function's locals by index.
 * @module
 */
import type { FunctionBody } from "./wasm_writer.ts";

/** Locals of {@linkcode emitRowMaxAbs}: float32 row `px` of `k` values (`k4` = k rounded down to 4). */
export interface RowMaxLocals {
  px: number;
  k: number;
  k4: number;
  /** i32 scratch: the column. */
  c: number;
  /** v128 scratch. */
  v: number;
  /** f32 result. */
  mx: number;
}

/** Emits `mx = max |x|` over the row at `px` (NaN propagates: max keeps it). */
export function emitRowMaxAbs(f: FunctionBody, { px, k, k4, c, v, mx }: RowMaxLocals): void {
  f.f32x4Const(0).localSet(v);
  f.i32Const(0).localSet(c);
  f.whileBelow(c, () => f.localGet(k4), 4, () => {
    f.localGet(v);
    f.localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().v128Load().f32x4Abs();
    f.f32x4Max().localSet(v);
  });
  f.localGet(v).f32x4ExtractLane(0).localGet(v).f32x4ExtractLane(1).f32Max();
  f.localGet(v).f32x4ExtractLane(2).localGet(v).f32x4ExtractLane(3).f32Max();
  f.f32Max().localSet(mx);
  f.whileBelow(c, () => f.localGet(k), 1, () => {
    f.localGet(mx);
    f.localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().f32Load().f32Abs();
    f.f32Max().localSet(mx);
  });
}

/** Locals of the gemm functions that {@linkcode emitScaledStore} and {@linkcode emitTileWalk} use. */
export interface GemmLocals {
  sa: number;
  m: number;
  sw: number;
  n: number;
  bias: number;
  out: number;
  ldo: number;
  /** The tile's first row and first channel. */
  m0: number;
  n0: number;
}

/** Emits `out[m0 + i][n0 + j] = sum · sa[m0 + i] · sw[n0 + j] + bias[n0 + j]` (`sum`: an i32 local). */
export function emitScaledStore(
  f: FunctionBody,
  { sa, sw, bias, out, ldo, m0, n0 }: GemmLocals,
  sum: number,
  i: number,
  j: number,
): void {
  f.localGet(out).localGet(m0).i32Const(i).i32Add().localGet(ldo).i32Mul().i32Add();
  f.localGet(n0).i32Const(j).i32Add().i32Const(4).i32Mul().i32Add();
  f.localGet(sum).f32ConvertI32S();
  f.localGet(sa).localGet(m0).i32Const(4).i32Mul().i32Add().f32Load(i * 4);
  f.localGet(sw).localGet(n0).i32Const(4).i32Mul().i32Add().f32Load(j * 4);
  f.f32Mul().f32Mul();
  f.localGet(bias).localGet(n0).i32Const(4).i32Mul().i32Add().f32Load(j * 4);
  f.f32Add().f32Store();
}

/**
 * Emits the walk over every tile: channels in groups of `NR` (then the 1..NR-1 left), and in each
 * group rows in tiles of `MR` (then the 1..MR-1 left); `tile(mr, nr)` emits one tile at m0, n0.
 */
export function emitTileWalk(
  f: FunctionBody,
  { m, n, m0, n0 }: GemmLocals,
  MR: number,
  NR: number,
  tile: (mr: number, nr: number) => void,
): void {
  const rowsOf = (nr: number): void => {
    f.i32Const(0).localSet(m0);
    f.localGet(m).i32Const(MR).i32GeU().if();
    f.whileBelow(m0, () => f.localGet(m).i32Const(MR - 1).i32Sub(), MR, () => tile(MR, nr));
    f.end();
    for (let mr = MR - 1; mr >= 1; mr--) {
      f.localGet(m).localGet(m0).i32Sub().i32Const(mr).i32Eq().if();
      tile(mr, nr);
      f.end();
    }
  };
  f.i32Const(0).localSet(n0);
  // n0 + NR <= N, written n0 < N - (NR - 1) (N >= NR here: the rest is handled below)
  f.localGet(n).i32Const(NR).i32GeU().if();
  f.whileBelow(n0, () => f.localGet(n).i32Const(NR - 1).i32Sub(), NR, () => rowsOf(NR));
  f.end();
  for (let nr = NR - 1; nr >= 1; nr--) {
    f.localGet(n).localGet(n0).i32Sub().i32Const(nr).i32Eq().if();
    rowsOf(nr);
    f.end();
  }
}
