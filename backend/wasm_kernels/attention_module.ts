/**
 * Generates the two products of one attention head for the wasm backend, on float32 rows read in
 * place with a row stride (the [T, 3H] query | key | value projection):
 *
 * - `scores(q, k, stride, tq, t, d, scale, out)`: `out[i][j] = scale · q_i · k_j` ([tq, t],
 *   rows t apart), `q_i` at `q + i·stride` and `k_j` at `k + j·stride` (bytes), d values each;
 * - `weighted(p, v, stride, tq, t, d, out, ldo)`: `out_i = Σ_j p[i][j] · v_j` (d values at
 *   `out + i·ldo`).
 *
 * d must be a multiple of 4 (SIMD lanes; BERT's 64). Multiplies and adds stay separate (no fused
 * multiply-add), so every engine gives the same values.
 * @module
 */
import { encodeModule, F32, FunctionBody, I32, type MemoryImport, V128 } from "./wasm_writer.ts";

function scoresBody(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32, F32, I32]);
  const [Q, K, STRIDE, TQ, T, D, SCALE, OUT] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i = f.local(I32), j = f.local(I32), c = f.local(I32), qi = f.local(I32);
  const kj = f.local(I32), o = f.local(I32), dBytes = f.local(I32);
  const acc = f.local(V128);
  f.localGet(D).i32Const(4).i32Mul().localSet(dBytes);
  f.localGet(OUT).localSet(o);
  f.i32Const(0).localSet(i);
  f.countTo(i, TQ, () => {
    f.localGet(Q).localGet(i).localGet(STRIDE).i32Mul().i32Add().localSet(qi);
    f.i32Const(0).localSet(j);
    f.countTo(j, T, () => {
      f.localGet(K).localGet(j).localGet(STRIDE).i32Mul().i32Add().localSet(kj);
      f.f32x4Const(0).localSet(acc);
      f.i32Const(0).localSet(c);
      f.whileBelow(c, () => f.localGet(dBytes), 16, () => {
        f.localGet(acc);
        f.localGet(qi).localGet(c).i32Add().v128Load();
        f.localGet(kj).localGet(c).i32Add().v128Load();
        f.f32x4Mul().f32x4Add().localSet(acc);
      });
      f.localGet(o);
      f.localGet(acc).f32x4ExtractLane(0).localGet(acc).f32x4ExtractLane(1).f32Add();
      f.localGet(acc).f32x4ExtractLane(2).localGet(acc).f32x4ExtractLane(3).f32Add().f32Add();
      f.localGet(SCALE).f32Mul().f32Store();
      f.addConst(o, 4);
    });
  });
  return f;
}

function weightedBody(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32, I32, I32]);
  const [P, V, STRIDE, TQ, T, D, OUT, LDO] = [0, 1, 2, 3, 4, 5, 6, 7];
  const i = f.local(I32), j = f.local(I32), c = f.local(I32), pi = f.local(I32);
  const vj = f.local(I32), dBytes = f.local(I32);
  const acc = f.local(V128);
  f.localGet(D).i32Const(4).i32Mul().localSet(dBytes);
  f.i32Const(0).localSet(i);
  f.countTo(i, TQ, () => {
    f.localGet(P).localGet(i).localGet(T).i32Mul().i32Const(4).i32Mul().i32Add().localSet(pi);
    f.i32Const(0).localSet(c);
    f.whileBelow(c, () => f.localGet(dBytes), 16, () => {
      f.f32x4Const(0).localSet(acc);
      f.localGet(V).localGet(c).i32Add().localSet(vj);
      f.i32Const(0).localSet(j);
      f.countTo(j, T, () => {
        f.localGet(acc);
        f.localGet(pi).localGet(j).i32Const(4).i32Mul().i32Add().v128Load32Splat();
        f.localGet(vj).v128Load().f32x4Mul().f32x4Add().localSet(acc);
        f.localGet(vj).localGet(STRIDE).i32Add().localSet(vj);
      });
      f.localGet(OUT).localGet(i).localGet(LDO).i32Mul().i32Add().localGet(c).i32Add();
      f.localGet(acc).v128Store();
    });
  });
  return f;
}

/**
 * Builds the module's bytes (exports `scores` and `weighted`).
 * @param memory how `env.memory` is imported (tfjs's heap)
 */
export function attentionModuleBytes(memory: MemoryImport): Uint8Array<ArrayBuffer> {
  return encodeModule(memory, [
    { name: "scores", body: scoresBody() },
    { name: "weighted", body: weightedBody() },
  ]);
}

/** Signature of `scores`. */
export type Scores = (
  q: number,
  k: number,
  stride: number,
  tq: number,
  t: number,
  d: number,
  scale: number,
  out: number,
) => void;

/** Signature of `weighted`. */
export type Weighted = (
  p: number,
  v: number,
  stride: number,
  tq: number,
  t: number,
  d: number,
  out: number,
  ldo: number,
) => void;
