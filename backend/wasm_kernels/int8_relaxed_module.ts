/**
 * The relaxed-SIMD form of the integer kernel (`int8_module.ts` has the standard one): the same
 * products, `y = x·Wᵀ + bias` with W int8 as stored and x's rows as 8-bit codes u (0..255) with a
 * zero point z per row (`int8_emit.ts`), on `i32x4.relaxed_dot_i8x16_i7x16_add_s` (16 byte
 * products per instruction): `Σ w·(u − z) = Σ w·u − z·Σ w`, W's row sums computed once per weight
 * (`row_sums`).
 *
 * The instruction is defined, and the same on every engine, only when its second operand's bytes
 * are in 0..127. Engines lower it differently past that: x86 with VNNI multiplies them as unsigned
 * bytes, exactly; x86 without it saturates pairs of products to int16; arm reads them as signed.
 * So the codes are laid out one of two ways ({@linkcode relaxedDotIsUnsigned} tells which):
 * - one plane (where the engine multiplies bytes 128..255 as unsigned, exactly): u itself, one
 *   instruction per 16 products;
 * - two planes (anywhere): `u = 128·hi + lo` (hi in 0..1, lo in 0..127), `Σ w·u = 128·Σ w·hi + Σ
 *   w·lo`, two instructions; no pair sum reaches the int16 saturation (|128·127·2| < 2¹⁵).
 * Every partial sum is exact and the final one fits an i32 (see `int8_product.ts`), so both
 * layouts give the standard form's values bit for bit.
 *
 * - `quantize_rows(x, m, k, kp, planes, scales, zeros)`: row r's plane(s) at `planes + P·r·kp`
 *   (P planes of kp bytes, kp a multiple of the gemm's step, zero past k); its scale and zero point.
 * - `row_sums(w, n, k, sums)`: `sums[j] = Σ_c w[j][c]` (i32) over W's rows (k bytes apart).
 * - `gemm(planes, sa, za, m, kp, w, ldw, sw, sums, n, bias, out, ldo)`: as the standard form.
 * @module
 */
import {
  emitCode1,
  emitCodeBounds,
  emitCodes4,
  emitRowQuantization,
  emitScaledStore,
  emitScaledStore4,
  emitTileWalk,
} from "./int8_emit.ts";
import { encodeModule, F32, FunctionBody, I32, type MemoryImport, V128 } from "./wasm_writer.ts";

/** Register tile (rows of x × rows of W) and how many 16-value steps each loop iteration takes. */
export interface RelaxedTile {
  mr: number;
  nr: number;
  unroll: number;
}

/** Planes of codes: 1 (engines that multiply bytes 128..255 as unsigned) or 2 (any engine). */
export type CodePlanes = 1 | 2;

/**
 * The tiles used, measured fastest here (of 1-4 rows × 3-12 channels, 1-4 steps a loop): one
 * plane 2 × 6 (12 accumulators) four steps a loop, two planes 1 × 6 (12 accumulators, hi and lo).
 * Sums leave the tile four channels at a time (a 4 × 4 transpose of accumulators, added).
 */
export const RELAXED_TILES: Record<CodePlanes, RelaxedTile> = {
  1: { mr: 2, nr: 6, unroll: 4 },
  2: { mr: 1, nr: 6, unroll: 1 },
};

function quantizeRowsBody(planes: CodePlanes): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32, I32]);
  const [X, M, K, KP, P, S, Z] = [0, 1, 2, 3, 4, 5, 6];
  const r = f.local(I32), c = f.local(I32), px = f.local(I32), ph = f.local(I32);
  const k4 = f.local(I32), k16 = f.local(I32), zero = f.local(I32), u = f.local(I32);
  const v = f.local(V128), w = f.local(V128), vinv = f.local(V128), vzero = f.local(V128);
  const bounds = { vinv, vzero, vlow: f.local(V128), vhigh: f.local(V128), relaxed: true };
  const relaxed = { t: f.local(V128), probe: f.local(V128) };
  const ua = f.local(V128), ub = f.local(V128), low7 = f.local(V128);
  const lo = f.local(F32), hi = f.local(F32), scale = f.local(F32), inv = f.local(F32);
  f.localGet(K).i32Const(-4).i32And().localSet(k4);
  f.localGet(K).i32Const(-16).i32And().localSet(k16);
  f.i32Const(127 | (127 << 16)).i32x4Splat().localSet(low7); // 127 in every int16 lane
  emitCodeBounds(f, bounds);
  f.i32Const(0).localSet(r);
  f.countTo(r, M, () => {
    f.localGet(X).localGet(r).localGet(K).i32Mul().i32Const(4).i32Mul().i32Add().localSet(px);
    emitRowQuantization(f, { px, k: K, k4, c, v, w, lo, hi, scale, inv, zero, relaxed });
    f.localGet(S).localGet(r).i32Const(4).i32Mul().i32Add().localGet(scale).f32Store();
    f.localGet(Z).localGet(r).i32Const(4).i32Mul().i32Add().localGet(zero).i32Store();
    f.localGet(inv).f32x4Splat().localSet(vinv);
    f.localGet(zero).i32x4Splat().localSet(vzero);
    f.localGet(P).localGet(r).localGet(KP).i32Mul().i32Const(planes).i32Mul().i32Add();
    f.localSet(ph);
    f.i32Const(0).localSet(c);
    /** Pushes the 8 codes of x[c + at .. c + at + 8] as int16 lanes. */
    const codes8 = (at: number): void => {
      emitCodes4(f, px, c, at * 4, bounds);
      emitCodes4(f, px, c, (at + 4) * 4, bounds);
      f.i16x8NarrowI32x4S();
    };
    f.whileBelow(c, () => f.localGet(k16), 16, () => {
      codes8(0);
      f.localSet(ua);
      codes8(8);
      f.localSet(ub);
      f.localGet(ph).localGet(c).i32Add();
      if (planes === 1) {
        f.localGet(ua).localGet(ub).i8x16NarrowI16x8U().v128Store();
      } else {
        // hi bits, then the low 7
        f.localGet(ua).i32Const(7).i16x8ShrU().localGet(ub).i32Const(7).i16x8ShrU();
        f.i8x16NarrowI16x8U().v128Store();
        f.localGet(ph).localGet(KP).i32Add().localGet(c).i32Add();
        f.localGet(ua).localGet(low7).v128And().localGet(ub).localGet(low7).v128And();
        f.i8x16NarrowI16x8U().v128Store();
      }
    });
    f.whileBelow(c, () => f.localGet(K), 1, () => {
      emitCode1(f, px, c, inv, zero, u);
      if (planes === 1) {
        f.localGet(ph).localGet(c).i32Add().localGet(u).i32Store8();
      } else {
        f.localGet(ph).localGet(c).i32Add().localGet(u).i32Const(7).i32ShrU().i32Store8();
        f.localGet(ph).localGet(KP).i32Add().localGet(c).i32Add();
        f.localGet(u).i32Const(127).i32And().i32Store8();
      }
    });
    f.whileBelow(c, () => f.localGet(KP), 1, () => {
      for (let p = 0; p < planes; p++) {
        f.localGet(ph).localGet(KP).i32Const(p).i32Mul().i32Add().localGet(c).i32Add();
        f.i32Const(0).i32Store8();
      }
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

function gemmBody(planes: CodePlanes, { mr: MR, nr: NR, unroll }: RelaxedTile): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [P, SA, ZA, M, KP, W, LDW] = [0, 1, 2, 3, 4, 5, 6];
  const [SW, SUMS, N, BIAS, OUT, LDO] = [7, 8, 9, 10, 11, 12];
  const n0 = f.local(I32), m0 = f.local(I32), aEnd = f.local(I32), sum = f.local(I32);
  const locals = { sa: SA, m: M, sw: SW, n: N, bias: BIAS, out: OUT, ldo: LDO, m0, n0 };
  const ap: number[] = [], w: number[] = [], av: number[][] = [], acc: number[][][] = [];
  for (let i = 0; i < MR; i++) ap.push(f.local(I32));
  for (let j = 0; j < NR; j++) w.push(f.local(I32));
  for (let i = 0; i < MR; i++) {
    av.push([]);
    for (let p = 0; p < planes; p++) av[i]!.push(f.local(V128));
  }
  const wv = f.local(V128);
  for (let i = 0; i < MR; i++) {
    acc.push([]);
    for (let j = 0; j < NR; j++) {
      acc[i]!.push([]);
      for (let p = 0; p < planes; p++) acc[i]![j]!.push(f.local(V128));
    }
  }
  const s01 = f.local(V128), s23 = f.local(V128), high = f.local(V128);
  /** Pushes the four accumulators' lane sums as one vector (a 4 × 4 transpose, added). */
  const transposedSums = ([a0, a1, a2, a3]: number[]): void => {
    for (const [x, y, to] of [[a0!, a1!, s01], [a2!, a3!, s23]] as const) {
      f.localGet(x).localGet(y).i32x4Shuffle([0, 4, 1, 5]);
      f.localGet(x).localGet(y).i32x4Shuffle([2, 6, 3, 7]).i32x4Add().localSet(to);
    }
    f.localGet(s01).localGet(s23).i32x4Shuffle([0, 1, 4, 5]);
    f.localGet(s01).localGet(s23).i32x4Shuffle([2, 3, 6, 7]).i32x4Add();
  };
  const hsum = (x: number): void => {
    f.localGet(x).i32x4ExtractLane(0).localGet(x).i32x4ExtractLane(1).i32Add();
    f.localGet(x).i32x4ExtractLane(2).localGet(x).i32x4ExtractLane(3).i32Add().i32Add();
  };

  const tile = (mr: number, nr: number): void => {
    for (let i = 0; i < mr; i++) {
      f.localGet(P).localGet(m0).i32Const(i).i32Add().localGet(KP).i32Mul();
      f.i32Const(planes).i32Mul().i32Add().localSet(ap[i]!);
    }
    f.localGet(ap[0]!).localGet(KP).i32Add().localSet(aEnd);
    for (let j = 0; j < nr; j++) {
      f.localGet(W).localGet(n0).i32Const(j).i32Add().localGet(LDW).i32Mul().i32Add();
      f.localSet(w[j]!);
    }
    for (let i = 0; i < mr; i++) {
      for (let j = 0; j < nr; j++) {
        for (let p = 0; p < planes; p++) f.f32x4Const(0).localSet(acc[i]![j]![p]!);
      }
    }
    f.loop();
    for (let s = 0; s < unroll; s++) {
      for (let i = 0; i < mr; i++) {
        f.localGet(ap[i]!).v128Load(16 * s).localSet(av[i]![0]!);
        if (planes === 2) {
          f.localGet(ap[i]!).localGet(KP).i32Add().v128Load(16 * s).localSet(av[i]![1]!);
        }
      }
      for (let j = 0; j < nr; j++) {
        f.localGet(w[j]!).v128Load(16 * s).localSet(wv);
        for (let i = 0; i < mr; i++) {
          for (let p = 0; p < planes; p++) {
            const a = acc[i]![j]![p]!;
            f.localGet(wv).localGet(av[i]![p]!).localGet(a).i32x4RelaxedDotI8x16I7x16AddS();
            f.localSet(a);
          }
        }
      }
    }
    for (let i = 0; i < mr; i++) f.addConst(ap[i]!, 16 * unroll);
    for (let j = 0; j < nr; j++) f.addConst(w[j]!, 16 * unroll);
    f.localGet(ap[0]!).localGet(aEnd).i32LtU().brIf(0);
    f.end();
    for (let i = 0; i < mr; i++) {
      // Σ w·(u − z) = Σ w·u − z·Σ w, with Σ w·u = 128·Σ w·hi + Σ w·lo in two planes: four
      // channels at a time, the rest one by one
      const vector = nr - (nr % 4);
      for (let j = 0; j < vector; j += 4) {
        for (let p = 0; p < planes; p++) {
          transposedSums(acc[i]!.slice(j, j + 4).map((a) => a[p]!));
          if (p === 1) f.localGet(high).i32x4Add();
          if (p === 0 && planes === 2) f.i32Const(7).i32x4Shl().localSet(high);
        }
        f.localGet(ZA).localGet(m0).i32Const(4).i32Mul().i32Add().i32Load(i * 4).i32x4Splat();
        f.localGet(SUMS).localGet(n0).i32Const(4).i32Mul().i32Add().v128Load(j * 4);
        f.i32x4Mul().i32x4Sub().localSet(s01);
        emitScaledStore4(f, locals, s01, i, j);
      }
      for (let j = vector; j < nr; j++) {
        hsum(acc[i]![j]![0]!);
        if (planes === 2) {
          f.i32Const(128).i32Mul();
          hsum(acc[i]![j]![1]!);
          f.i32Add();
        }
        f.localGet(ZA).localGet(m0).i32Const(4).i32Mul().i32Add().i32Load(i * 4);
        f.localGet(SUMS).localGet(n0).i32Const(4).i32Mul().i32Add().i32Load(j * 4);
        f.i32Mul().i32Sub().localSet(sum);
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
 * @param planes the codes' layout (one plane only where {@linkcode relaxedDotIsUnsigned})
 * @param tile the register tile
 */
export function int8RelaxedModuleBytes(
  memory: MemoryImport,
  planes: CodePlanes,
  tile: RelaxedTile = RELAXED_TILES[planes],
): Uint8Array<ArrayBuffer> {
  return encodeModule(memory, [
    { name: "quantize_rows", body: quantizeRowsBody(planes) },
    { name: "row_sums", body: rowSumsBody() },
    { name: "gemm", body: gemmBody(planes, tile) },
  ]);
}

/** `probe()`: lane 0 of the relaxed dot of sixteen 127s with sixteen 255s. */
function probeBody(): FunctionBody {
  const f = new FunctionBody([], [I32]);
  f.i32Const(0x7f7f7f7f).i32x4Splat().i32Const(-1).i32x4Splat().i32Const(0).i32x4Splat();
  f.i32x4RelaxedDotI8x16I7x16AddS().i32x4ExtractLane(0);
  return f;
}

let unsigned: boolean | undefined;

/**
 * Whether this engine's relaxed dot multiplies second-operand bytes 128..255 as unsigned bytes,
 * exactly (x86 with VNNI): its four products 127·255 sum to 129,540 (a saturating lowering gives
 * 65,534, a signed one −508). False where relaxed SIMD is missing.
 */
export function relaxedDotIsUnsigned(): boolean {
  if (unsigned !== undefined) return unsigned;
  const bytes = encodeModule({ shared: false, minPages: 0 }, [
    { name: "probe", body: probeBody() },
  ]);
  try {
    if (!WebAssembly.validate(bytes)) return unsigned = false;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { memory: new WebAssembly.Memory({ initial: 0 }) },
    });
    unsigned = (instance.exports["probe"] as () => number)() === 4 * 127 * 255;
  } catch {
    unsigned = false;
  }
  return unsigned;
}

/** Signature of `row_sums`. */
export type RowSums = (w: number, n: number, k: number, sums: number) => void;

/** Signature of the relaxed `gemm`. */
export type RelaxedGemm = (
  planes: number,
  sa: number,
  za: number,
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
