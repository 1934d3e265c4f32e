/**
 * Generates the integer matrix kernel of the wasm path: `y = x·Wᵀ (+ bias)` with W int8 as
 * stored ([N, K] row-major, one float32 scale per row) and x quantized per row on the fly to 8-bit
 * codes (asymmetric, one scale and zero point per row: `int8_emit.ts`). Products are exact integer
 * dot products (`i32x4.dot_i16x8_s`, standard SIMD: the same result on every engine); each output
 * is the integer sum times the row's scale times the channel's scale, plus the bias.
 *
 * - `quantize_rows(x, m, k, kp, q, scales)`: rows of x (float32, k apart) to int16 rows of q (kp
 *   apart, kp a multiple of 8, zero past k): `q = u - z`, the row's codes less its zero point,
 *   and its scale `s` in `scales`.
 * - `gemm(q, sa, m, kp, w, ldw, sw, n, bias, out, ldo)`: out[i][j] (rows `ldo` bytes apart) =
 *   `(Σ q[i][c]·w[j][c]) · sa[i] · sw[j] + bias[j]`; W's rows are `ldw` bytes apart and read in
 *   steps of 8 values up to kp: the bytes past a row's end meet zeros of q (and must be readable).
 *
 * The register tile is MR rows of q × NR rows of W, each pair an i32x4 accumulator; W's int8
 * values are sign-extended to int16 as they are loaded (`i16x8.load8x8_s`).
 * @module
 */
import {
  emitCode1,
  emitCodeBounds,
  emitCodes4,
  emitRowQuantization,
  emitScaledStore,
  emitTileWalk,
} from "./int8_emit.ts";
import { encodeModule, F32, FunctionBody, I32, type MemoryImport, V128 } from "./wasm_writer.ts";

/** Shape of the generated kernel. */
export interface Int8KernelShape {
  /** Rows of q per register tile. */
  mr: number;
  /** Rows of W (output channels) per register tile. */
  nr: number;
  /** Steps of 8 values per loop iteration (kp must be a multiple of 8 * unroll). */
  unroll: number;
}

/** The shape used. */
export const INT8_KERNEL_SHAPE: Int8KernelShape = { mr: 3, nr: 3, unroll: 2 };

function quantizeRowsBody(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32]);
  const [X, M, K, KP, Q, S] = [0, 1, 2, 3, 4, 5];
  const r = f.local(I32), c = f.local(I32), px = f.local(I32), pq = f.local(I32);
  const k4 = f.local(I32), k8 = f.local(I32), zero = f.local(I32), u = f.local(I32);
  const v = f.local(V128), w = f.local(V128), vinv = f.local(V128), vzero = f.local(V128);
  const bounds = { vinv, vzero, vlow: f.local(V128), vhigh: f.local(V128), relaxed: false };
  const lo = f.local(F32), hi = f.local(F32), scale = f.local(F32), inv = f.local(F32);
  f.localGet(K).i32Const(-4).i32And().localSet(k4);
  f.localGet(K).i32Const(-8).i32And().localSet(k8);
  emitCodeBounds(f, bounds);
  f.i32Const(0).localSet(r);
  f.countTo(r, M, () => {
    f.localGet(X).localGet(r).localGet(K).i32Mul().i32Const(4).i32Mul().i32Add().localSet(px);
    emitRowQuantization(f, { px, k: K, k4, c, v, w, lo, hi, scale, inv, zero });
    f.localGet(S).localGet(r).i32Const(4).i32Mul().i32Add().localGet(scale).f32Store();
    f.localGet(inv).f32x4Splat().localSet(vinv);
    f.localGet(zero).i32x4Splat().localSet(vzero);
    f.localGet(Q).localGet(r).localGet(KP).i32Mul().i32Const(2).i32Mul().i32Add().localSet(pq);
    f.i32Const(0).localSet(c);
    // q = u - z, as int16 (|q| <= 255)
    f.whileBelow(c, () => f.localGet(k8), 8, () => {
      f.localGet(pq).localGet(c).i32Const(2).i32Mul().i32Add();
      emitCodes4(f, px, c, 0, bounds);
      f.localGet(vzero).i32x4Sub();
      emitCodes4(f, px, c, 16, bounds);
      f.localGet(vzero).i32x4Sub();
      f.i16x8NarrowI32x4S().v128Store();
    });
    f.whileBelow(c, () => f.localGet(K), 1, () => {
      emitCode1(f, px, c, inv, zero, u);
      f.localGet(pq).localGet(c).i32Const(2).i32Mul().i32Add();
      f.localGet(u).localGet(zero).i32Sub().i32Store16();
    });
    f.whileBelow(c, () => f.localGet(KP), 1, () => {
      f.localGet(pq).localGet(c).i32Const(2).i32Mul().i32Add().i32Const(0).i32Store16();
    });
  });
  return f;
}

function gemmBody({ mr: MR, nr: NR, unroll }: Int8KernelShape): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [Q, SA, M, KP, W, LDW, SW, N, BIAS, OUT, LDO] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const n0 = f.local(I32), m0 = f.local(I32), aEnd = f.local(I32), sum = f.local(I32);
  const locals = { sa: SA, m: M, sw: SW, n: N, bias: BIAS, out: OUT, ldo: LDO, m0, n0 };
  const a: number[] = [], w: number[] = [], av: number[] = [], acc: number[][] = [];
  for (let i = 0; i < MR; i++) a.push(f.local(I32));
  for (let j = 0; j < NR; j++) w.push(f.local(I32));
  for (let i = 0; i < MR; i++) av.push(f.local(V128));
  const wv = f.local(V128);
  for (let i = 0; i < MR; i++) {
    acc.push([]);
    for (let j = 0; j < NR; j++) acc[i]!.push(f.local(V128));
  }

  /** One mr × nr tile at rows m0.., channels n0.. (kp > 0). */
  const tile = (mr: number, nr: number): void => {
    for (let i = 0; i < mr; i++) {
      f.localGet(Q).localGet(m0).i32Const(i).i32Add().localGet(KP).i32Mul().i32Const(2).i32Mul();
      f.i32Add().localSet(a[i]!);
    }
    f.localGet(a[0]!).localGet(KP).i32Const(2).i32Mul().i32Add().localSet(aEnd);
    for (let j = 0; j < nr; j++) {
      f.localGet(W).localGet(n0).i32Const(j).i32Add().localGet(LDW).i32Mul().i32Add();
      f.localSet(w[j]!);
    }
    for (let i = 0; i < mr; i++) for (let j = 0; j < nr; j++) f.f32x4Const(0).localSet(acc[i]![j]!);
    f.loop();
    for (let u = 0; u < unroll; u++) {
      for (let i = 0; i < mr; i++) f.localGet(a[i]!).v128Load(16 * u).localSet(av[i]!);
      for (let j = 0; j < nr; j++) {
        f.localGet(w[j]!).i16x8Load8x8S(8 * u).localSet(wv);
        for (let i = 0; i < mr; i++) {
          const x = acc[i]![j]!;
          f.localGet(x).localGet(av[i]!).localGet(wv).i32x4DotI16x8S().i32x4Add().localSet(x);
        }
      }
    }
    for (let i = 0; i < mr; i++) f.addConst(a[i]!, 16 * unroll);
    for (let j = 0; j < nr; j++) f.addConst(w[j]!, 8 * unroll);
    f.localGet(a[0]!).localGet(aEnd).i32LtU().brIf(0);
    f.end();
    for (let i = 0; i < mr; i++) {
      for (let j = 0; j < nr; j++) {
        const x = acc[i]![j]!;
        f.localGet(x).i32x4ExtractLane(0).localGet(x).i32x4ExtractLane(1).i32Add();
        f.localGet(x).i32x4ExtractLane(2).localGet(x).i32x4ExtractLane(3).i32Add();
        f.i32Add().localSet(sum);
        // out[m0 + i][n0 + j] = sum * sa[m0 + i] * sw[n0 + j] + bias[n0 + j]
        emitScaledStore(f, locals, sum, i, j);
      }
    }
  };

  emitTileWalk(f, locals, MR, NR, tile);
  return f;
}

/**
 * Builds the module's bytes (exports `quantize_rows` and `gemm`, see the module doc).
 * @param memory how `env.memory` is imported
 * @param shape the register tile and unroll
 */
export function int8ModuleBytes(
  memory: MemoryImport,
  shape: Int8KernelShape = INT8_KERNEL_SHAPE,
): Uint8Array<ArrayBuffer> {
  return encodeModule(memory, [
    { name: "quantize_rows", body: quantizeRowsBody() },
    { name: "gemm", body: gemmBody(shape) },
  ]);
}

/** Signature of `quantize_rows` (`zeros`: where the relaxed form stores zero points). */
export type QuantizeRows = (
  x: number,
  m: number,
  k: number,
  kp: number,
  q: number,
  scales: number,
  zeros: number,
) => void;

/** Signature of `gemm`. */
export type Int8Gemm = (
  q: number,
  sa: number,
  m: number,
  kp: number,
  w: number,
  ldw: number,
  sw: number,
  n: number,
  bias: number,
  out: number,
  ldo: number,
) => void;
