/**
 * Code both integer kernels emit alike (`int8_module.ts`, the standard-SIMD form, and
 * `int8_relaxed_module.ts`): a row's quantization to 8-bit codes, an output's scaling and store,
 * and the walk over register tiles. Each takes the function's locals by index.
 *
 * Activations are quantized per row, asymmetrically, to 8 bits (onnxruntime's dynamic
 * quantization does the same per tensor): with `lo = min(0, min x)`, `hi = max(0, max x)`,
 * `range = hi - lo`, a row's scale is `s = range / 255`, its zero point `z = nearest(-lo · 255 /
 * range)` and its codes `u = clamp(nearest(x · 255 / range) + z, 0, 255)`, so that `x ≈ s · (u -
 * z)` and 0 is exact. Both forms compute `u` with the same float32 operations, so their integer
 * sums, and outputs, are equal bit for bit. A row of zeros gets s = 0 and u = 0; a row holding NaN
 * or an infinity gets codes 0 and a NaN or infinite scale, which its outputs carry.
 * @module
 */
import type { FunctionBody } from "./wasm_writer.ts";

/** Largest code of an activation (8 bits, unsigned). */
export const CODE_MAX = 255;

/** Locals of {@linkcode emitRowQuantization}: float32 row `px` of `k` values (`k4` = k rounded down to 4). */
export interface RowQuantizationLocals {
  px: number;
  k: number;
  k4: number;
  /** i32 scratch: the column. */
  c: number;
  /** v128 scratch (two). */
  v: number;
  w: number;
  /** f32 scratch (two). */
  lo: number;
  hi: number;
  /** Results: the scale (f32), the code factor `255 / range` (f32), the zero point (i32). */
  scale: number;
  inv: number;
  zero: number;
  /**
   * Two more v128 scratch locals where the relaxed forms of min and max are used (one
   * instruction each on x86, against about seven for the NaN-propagating ones): NaN and
   * infinities are then found by a sum of `x · 0` instead, and make the scale NaN.
   */
  relaxed?: { t: number; probe: number };
}

/** Emits a row's scale, code factor and zero point (see the module doc) into `scale`, `inv`, `zero`. */
export function emitRowQuantization(f: FunctionBody, l: RowQuantizationLocals): void {
  const { px, k, k4, c, v, w, lo, hi, scale, inv, zero, relaxed } = l;
  f.f32x4Const(0).localSet(v);
  f.f32x4Const(0).localSet(w);
  if (relaxed !== undefined) f.f32x4Const(0).localSet(relaxed.probe);
  f.i32Const(0).localSet(c);
  f.whileBelow(c, () => f.localGet(k4), 4, () => {
    if (relaxed !== undefined) {
      const { t, probe } = relaxed;
      f.localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().v128Load().localSet(t);
      f.localGet(v).localGet(t).f32x4RelaxedMin().localSet(v);
      f.localGet(w).localGet(t).f32x4RelaxedMax().localSet(w);
      f.localGet(probe).localGet(t).f32x4Const(0).f32x4Mul().f32x4Add().localSet(probe);
      return;
    }
    f.localGet(v).localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().v128Load().f32x4Min();
    f.localSet(v);
    f.localGet(w).localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().v128Load().f32x4Max();
    f.localSet(w);
  });
  f.localGet(v).f32x4ExtractLane(0).localGet(v).f32x4ExtractLane(1).f32Min();
  f.localGet(v).f32x4ExtractLane(2).localGet(v).f32x4ExtractLane(3).f32Min();
  f.f32Min().localSet(lo);
  f.localGet(w).f32x4ExtractLane(0).localGet(w).f32x4ExtractLane(1).f32Max();
  f.localGet(w).f32x4ExtractLane(2).localGet(w).f32x4ExtractLane(3).f32Max();
  f.f32Max().localSet(hi);
  if (relaxed !== undefined) {
    // hi + Σ x·0: unchanged, or NaN where the row holds a NaN or an infinity
    const p = relaxed.probe;
    f.localGet(hi).localGet(p).f32x4ExtractLane(0).f32Add().localGet(p).f32x4ExtractLane(1)
      .f32Add();
    f.localGet(p).f32x4ExtractLane(2).f32Add().localGet(p).f32x4ExtractLane(3).f32Add().localSet(
      hi,
    );
  }
  f.whileBelow(c, () => f.localGet(k), 1, () => {
    f.localGet(lo).localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().f32Load().f32Min();
    f.localSet(lo);
    f.localGet(hi).localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().f32Load().f32Max();
    f.localSet(hi);
  });
  // range (kept in hi); scale = range / 255 where range > 0, else range itself (0, NaN)
  f.localGet(hi).localGet(lo).f32Sub().localSet(hi);
  f.localGet(hi).f32Const(CODE_MAX).f32Div().localGet(hi);
  f.localGet(hi).f32Const(0).f32Gt().select().localSet(scale);
  f.f32Const(CODE_MAX).localGet(hi).f32Div().f32Const(0);
  f.localGet(hi).f32Const(0).f32Gt().select().localSet(inv);
  f.localGet(lo).f32Neg().localGet(inv).f32Mul().f32Nearest().i32TruncSatF32S().localSet(zero);
  emitClampScalar(f, zero);
}

/** Emits `local = clamp(local, 0, 255)` (an i32 local). */
function emitClampScalar(f: FunctionBody, local: number): void {
  f.localGet(local).i32Const(0).localGet(local).i32Const(0).i32GtS().select().localSet(local);
  f.localGet(local).i32Const(CODE_MAX).localGet(local).i32Const(CODE_MAX).i32LtS().select();
  f.localSet(local);
}

/** v128 locals {@linkcode emitCodes4} reads: the code factor and zero point splats, and 0 and 255. */
export interface CodeConstants {
  vinv: number;
  vzero: number;
  vlow: number;
  vhigh: number;
  /**
   * Whether to truncate with the relaxed instruction (one on x86, against about ten): the values
   * truncated are whole numbers within ±255 for every row without NaN or infinities (whose scale
   * is NaN, so their codes do not matter), where both truncations agree.
   */
  relaxed: boolean;
}

/** Emits the setting of `vlow` and `vhigh` (once, before a loop of {@linkcode emitCodes4}). */
export function emitCodeBounds(f: FunctionBody, { vlow, vhigh }: CodeConstants): void {
  f.i32Const(0).i32x4Splat().localSet(vlow);
  f.i32Const(CODE_MAX).i32x4Splat().localSet(vhigh);
}

/** Pushes the codes of the four values at `px + 4·c + at` as i32 lanes. */
export function emitCodes4(
  f: FunctionBody,
  px: number,
  c: number,
  at: number,
  { vinv, vzero, vlow, vhigh, relaxed }: CodeConstants,
): void {
  f.localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().v128Load(at);
  f.localGet(vinv).f32x4Mul().f32x4Nearest();
  if (relaxed) f.i32x4RelaxedTruncF32x4S();
  else f.i32x4TruncSatF32x4S();
  f.localGet(vzero).i32x4Add();
  f.localGet(vlow).i32x4MaxS().localGet(vhigh).i32x4MinS();
}

/** Emits `local = code of x[c]` (the scalar form of {@linkcode emitCodes4}; `local` an i32). */
export function emitCode1(
  f: FunctionBody,
  px: number,
  c: number,
  inv: number,
  zero: number,
  local: number,
): void {
  f.localGet(px).localGet(c).i32Const(4).i32Mul().i32Add().f32Load();
  f.localGet(inv).f32Mul().f32Nearest().i32TruncSatF32S().localGet(zero).i32Add().localSet(local);
  emitClampScalar(f, local);
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
 * Emits {@linkcode emitScaledStore} for four channels at once (`sums`: a v128 local of their i32
 * sums), with the same float32 operations in the same order, so the values are the same.
 */
export function emitScaledStore4(
  f: FunctionBody,
  { sa, sw, bias, out, ldo, m0, n0 }: GemmLocals,
  sums: number,
  i: number,
  j: number,
): void {
  f.localGet(out).localGet(m0).i32Const(i).i32Add().localGet(ldo).i32Mul().i32Add();
  f.localGet(n0).i32Const(4).i32Mul().i32Add();
  f.localGet(sums).f32x4ConvertI32x4S();
  f.localGet(sa).localGet(m0).i32Const(4).i32Mul().i32Add().f32Load(i * 4).f32x4Splat();
  f.localGet(sw).localGet(n0).i32Const(4).i32Mul().i32Add().v128Load(j * 4);
  f.f32x4Mul().f32x4Mul();
  f.localGet(bias).localGet(n0).i32Const(4).i32Mul().i32Add().v128Load(j * 4);
  f.f32x4Add().v128Store(j * 4);
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
