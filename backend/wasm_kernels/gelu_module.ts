/**
 * Generates GELU for the wasm backend, four values per SIMD step, read and written in place:
 * `gelu(x, out, n)` writes `out[i] = x[i] · Φ(x[i])` for n values (n a multiple of 4), with
 * `Φ(x) = (1 + erf(x / √2)) / 2`.
 *
 * erf is the rational approximation tfjs's cpu backend uses (Abramowitz & Stegun 7.1.26, absolute
 * error below 1.5e-7; the JavaScript kernels' table in `backend/blas/fast_math.ts` is built on
 * it): with v = |x| / √2, `t = 1 / (1 + p·v)` and `q = erfc(v) / 2 = (a1·t + a2·t² + a3·t³ +
 * a4·t⁴ + a5·t⁵)·exp(−v²) / 2`, Φ(x) is q for negative x and 1 − q otherwise (no cancellation in
 * the tail). exp(z) for z <= 0 is `2ⁿ · e^f` with n = nearest(z·log2 e),
 * f = z − n·ln 2 (ln 2 in two parts, so f is exact to float32) and e^f by its Taylor series to the
 * 7th power (|f| <= 0.35: truncation below 5e-9); z is floored at −87, where exp(z) is below
 * float32's smallest normal and erf is ±1. NaN stays NaN; +∞ gives ∞ and −∞ NaN (0·∞), as the
 * cpu backend's. Multiplies and adds stay separate (no fused multiply-add), so every engine gives the
 * same values.
 * @module
 */
import { tf } from "../tf.ts";
import { encodeModule, FunctionBody, I32, type MemoryImport, V128 } from "./wasm_writer.ts";

const { ERF_P, ERF_A1, ERF_A2, ERF_A3, ERF_A4, ERF_A5 } = tf.backend_util;
const LN2_HI = 0.693359375, LN2_LO = -2.12194440e-4;
/** k! for k in 0..7. */
const FACTORIALS = [1, 1, 2, 6, 24, 120, 720, 5040];

function geluBody(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32]);
  const [X, OUT, N] = [0, 1, 2];
  const i = f.local(I32), end = f.local(I32);
  const x = f.local(V128), v = f.local(V128), t = f.local(V128), z = f.local(V128);
  const n = f.local(V128), r = f.local(V128), q = f.local(V128);
  /** Float constants, set once before the loop (`c(value)` pushes one). */
  const constants = new Map<number, number>();
  const values = [
    Math.SQRT1_2,
    0,
    1,
    ERF_P,
    -87,
    Math.LOG2E,
    LN2_HI,
    LN2_LO,
    0.5,
    ...FACTORIALS.map((k) => 1 / k),
    ERF_A1,
    ERF_A2,
    ERF_A3,
    ERF_A4,
    ERF_A5,
  ];
  for (const value of values) {
    if (constants.has(value)) continue;
    const local = f.local(V128);
    f.f32x4Const(value).localSet(local);
    constants.set(value, local);
  }
  const c = (value: number) => f.localGet(constants.get(value)!);
  f.localGet(N).i32Const(4).i32Mul().localSet(end);
  f.i32Const(0).localSet(i);
  f.whileBelow(i, () => f.localGet(end), 16, () => {
    f.localGet(X).localGet(i).i32Add().v128Load().localSet(x);
    // v = |x| / √2, t = 1 / (1 + p·v), z = max(−v², −87)
    f.localGet(x).f32x4Abs();
    c(Math.SQRT1_2).f32x4Mul().localSet(v);
    c(1);
    c(1);
    c(ERF_P).localGet(v).f32x4Mul().f32x4Add().f32x4Div().localSet(t);
    c(0).localGet(v).localGet(v).f32x4Mul().f32x4Sub();
    c(-87).f32x4Max().localSet(z);
    // exp(z) = 2ⁿ · e^f, f = z − n·ln 2
    f.localGet(z);
    c(Math.LOG2E).f32x4Mul().f32x4Nearest().localSet(n);
    f.localGet(z).localGet(n);
    c(LN2_HI).f32x4Mul().f32x4Sub().localGet(n);
    c(LN2_LO).f32x4Mul().f32x4Sub().localSet(r);
    c(1 / FACTORIALS[7]!);
    for (let k = 6; k >= 0; k--) {
      f.localGet(r).f32x4Mul();
      c(1 / FACTORIALS[k]!).f32x4Add();
    }
    f.localGet(n).i32x4TruncSatF32x4S().i32x4Const(127).i32x4Add().i32Const(23).i32x4Shl();
    f.f32x4Mul().localSet(z);
    // q = erfc(v) / 2 = t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·exp(−v²) / 2
    c(ERF_A5).localGet(t).f32x4Mul();
    c(ERF_A4).f32x4Add();
    for (const a of [ERF_A3, ERF_A2, ERF_A1]) {
      f.localGet(t).f32x4Mul();
      c(a).f32x4Add();
    }
    f.localGet(t).f32x4Mul().localGet(z).f32x4Mul();
    c(0.5).f32x4Mul().localSet(q);
    // Φ(x) = q where x's sign bit is set, else 1 − q (no cancellation on either side)
    f.localGet(q);
    c(1).localGet(q).f32x4Sub();
    f.i32x4Const(0x7fffffff).localGet(x).i32x4LtU().v128Bitselect();
    f.localGet(x).f32x4Mul().localSet(r);
    f.localGet(OUT).localGet(i).i32Add().localGet(r).v128Store();
  });
  return f;
}

/**
 * Builds the module's bytes (exports `gelu`).
 * @param memory how `env.memory` (tfjs's heap) is imported
 */
export function geluModuleBytes(memory: MemoryImport): Uint8Array<ArrayBuffer> {
  return encodeModule(memory, [{ name: "gelu", body: geluBody() }]);
}

/** Signature of `gelu`: n values (a multiple of 4) from byte address x to out. */
export type Gelu = (x: number, out: number, n: number) => void;
