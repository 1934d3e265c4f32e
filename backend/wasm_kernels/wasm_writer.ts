/**
 * A minimal WebAssembly binary writer: enough of the format (one imported memory, i32/v128
 * locals, structured control flow, SIMD loads, stores and arithmetic) to generate the matrix
 * kernels of `gemm_module.ts` at run time, so no prebuilt binary ships with the package.
 * Opcode numbers are those of the WebAssembly 2.0 core and relaxed-SIMD specifications.
 * @module
 */

import { sleb, uleb } from "./wasm_leb.ts";

/** Value types used by the kernels. */
export const I32 = 0x7f;
/** 32-bit float value type. */
export const F32 = 0x7d;
/** 128-bit SIMD value type. */
export const V128 = 0x7b;

/**
 * The body of one function: locals are declared up front by type, instructions are appended
 * by the methods below (each named after its WebAssembly mnemonic).
 */
export class FunctionBody {
  readonly code: number[] = [];
  private readonly localTypes: number[] = [];

  /**
   * @param params the parameter types (they are the first locals)
   * @param results the result types
   */
  constructor(readonly params: number[], readonly results: number[] = []) {}

  /** Declares a local of `type` and returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  /** The encoded body: local declarations, code, `end`. */
  encode(): number[] {
    const out: number[] = [];
    const groups: Array<[number, number]> = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last !== undefined && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    uleb(out, groups.length);
    for (const [count, type] of groups) {
      uleb(out, count);
      out.push(type);
    }
    out.push(...this.code, 0x0b);
    return out;
  }

  private op(byte: number, ...immediates: number[]): this {
    this.code.push(byte);
    for (const imm of immediates) uleb(this.code, imm);
    return this;
  }

  private simd(opcode: number, ...immediates: number[]): this {
    this.code.push(0xfd);
    uleb(this.code, opcode);
    for (const imm of immediates) uleb(this.code, imm);
    return this;
  }

  /** `local += n` for an i32 local. */
  addConst(local: number, n: number): this {
    return this.localGet(local).i32Const(n).i32Add().localSet(local);
  }

  /**
   * `while (counter !== limit) { body(); counter += 1; }` over i32 locals; the caller sets the
   * counter's start. `body`'s own blocks and loops must be closed within it.
   */
  countTo(counter: number, limit: number, body: () => void): this {
    this.block().loop();
    this.localGet(counter).localGet(limit).i32Eq().brIf(1);
    body();
    this.addConst(counter, 1).br(0);
    return this.end().end();
  }

  /**
   * `while (counter < limit) { body(); counter += step; }` over i32 values compared unsigned;
   * `limit` pushes the bound (evaluated before each iteration).
   */
  whileBelow(counter: number, limit: () => void, step: number, body: () => void): this {
    this.block().loop();
    this.localGet(counter);
    limit();
    this.i32GeU().brIf(1);
    body();
    this.addConst(counter, step).br(0);
    return this.end().end();
  }

  localGet(i: number): this {
    return this.op(0x20, i);
  }
  localSet(i: number): this {
    return this.op(0x21, i);
  }
  localTee(i: number): this {
    return this.op(0x22, i);
  }
  i32Const(n: number): this {
    this.code.push(0x41);
    sleb(this.code, n);
    return this;
  }
  i32Add(): this {
    return this.op(0x6a);
  }
  i32Sub(): this {
    return this.op(0x6b);
  }
  i32Mul(): this {
    return this.op(0x6c);
  }
  i32Eqz(): this {
    return this.op(0x45);
  }
  i32Eq(): this {
    return this.op(0x46);
  }
  i32Ne(): this {
    return this.op(0x47);
  }
  i32LtU(): this {
    return this.op(0x49);
  }
  i32GtU(): this {
    return this.op(0x4b);
  }
  i32GeU(): this {
    return this.op(0x4f);
  }
  i32And(): this {
    return this.op(0x71);
  }
  i32ShrU(): this {
    return this.op(0x76);
  }
  i32Load8S(offset = 0): this {
    return this.op(0x2c, 0, offset);
  }
  i32Store8(offset = 0): this {
    return this.op(0x3a, 0, offset);
  }
  /** `block` with no result. */
  block(): this {
    return this.op(0x02).op(0x40);
  }
  /** `loop` with no result. */
  loop(): this {
    return this.op(0x03).op(0x40);
  }
  /** `if` with no result. */
  if(): this {
    return this.op(0x04).op(0x40);
  }
  else(): this {
    return this.op(0x05);
  }
  end(): this {
    return this.op(0x0b);
  }
  br(depth: number): this {
    return this.op(0x0c, depth);
  }
  brIf(depth: number): this {
    return this.op(0x0d, depth);
  }
  i32Load(offset = 0): this {
    return this.op(0x28, 2, offset);
  }
  i32Store(offset = 0): this {
    return this.op(0x36, 2, offset);
  }
  f32Load(offset = 0): this {
    return this.op(0x2a, 2, offset);
  }
  f32Store(offset = 0): this {
    return this.op(0x38, 2, offset);
  }
  f32Const(x: number): this {
    this.code.push(0x43);
    const bytes = new Uint8Array(new Float32Array([x]).buffer);
    this.code.push(...bytes);
    return this;
  }
  f32Add(): this {
    return this.op(0x92);
  }
  f32Mul(): this {
    return this.op(0x94);
  }
  f32Div(): this {
    return this.op(0x95);
  }
  f32Abs(): this {
    return this.op(0x8b);
  }
  f32Max(): this {
    return this.op(0x97);
  }
  f32Sub(): this {
    return this.op(0x93);
  }
  f32Min(): this {
    return this.op(0x96);
  }
  f32Neg(): this {
    return this.op(0x8c);
  }
  i32LtS(): this {
    return this.op(0x48);
  }
  i32GtS(): this {
    return this.op(0x4a);
  }
  f32Nearest(): this {
    return this.op(0x90);
  }
  f32Gt(): this {
    return this.op(0x5e);
  }
  f32ConvertI32S(): this {
    return this.op(0xb2);
  }
  /** `i32.trunc_sat_f32_s`: NaN gives 0, out-of-range values saturate. */
  i32TruncSatF32S(): this {
    return this.op(0xfc, 0);
  }
  i32Store16(offset = 0): this {
    return this.op(0x3b, 1, offset);
  }
  /** `select` of two values of the same numeric type by an i32 condition. */
  select(): this {
    return this.op(0x1b);
  }
  /** `i32.load8_u`: one byte, zero-extended. */
  i32Load8U(offset = 0): this {
    return this.op(0x2d, 0, offset);
  }
  /** `i32.load16_u`: two bytes (little-endian), zero-extended. */
  i32Load16U(offset = 0): this {
    return this.op(0x2f, 1, offset);
  }
  i32Shl(): this {
    return this.op(0x74);
  }
  /** `v128.load16x4_u`: four 16-bit values, zero-extended to i32 lanes. */
  i32x4Load16x4U(offset = 0): this {
    return this.simd(0x04, 3, offset);
  }
  /** `v128.const` of four equal i32 lanes. */
  i32x4Const(n: number): this {
    this.code.push(0xfd);
    uleb(this.code, 0x0c);
    this.code.push(...new Uint8Array(new Int32Array([n, n, n, n]).buffer));
    return this;
  }
  i32x4Shl(): this {
    return this.simd(0xab);
  }
  v128And(): this {
    return this.simd(0x4e);
  }
  v128Or(): this {
    return this.simd(0x50);
  }
  /** `v128.bitselect(a, b, mask)`: bits of `a` where `mask` is 1, of `b` elsewhere. */
  v128Bitselect(): this {
    return this.simd(0x52);
  }
  i32x4LtU(): this {
    return this.simd(0x3a);
  }
  f32x4ConvertI32x4S(): this {
    return this.simd(0xfa);
  }
  v128Load(offset = 0): this {
    return this.simd(0x00, 4, offset);
  }
  v128Load32Splat(offset = 0): this {
    return this.simd(0x09, 2, offset);
  }
  v128Store(offset = 0): this {
    return this.simd(0x0b, 4, offset);
  }
  /** `i16x8.load8x8_s`: eight int8 values sign-extended to int16 lanes. */
  i16x8Load8x8S(offset = 0): this {
    return this.simd(0x01, 3, offset);
  }
  f32x4ExtractLane(lane: number): this {
    this.simd(0x1f);
    this.code.push(lane);
    return this;
  }
  i32x4ExtractLane(lane: number): this {
    this.simd(0x1b);
    this.code.push(lane);
    return this;
  }
  f32x4Abs(): this {
    return this.simd(0xe0);
  }
  f32x4Nearest(): this {
    return this.simd(0x6a);
  }
  i32x4TruncSatF32x4S(): this {
    return this.simd(0xf8);
  }
  i16x8NarrowI32x4S(): this {
    return this.simd(0x85);
  }
  i32x4Add(): this {
    return this.simd(0xae);
  }
  i32x4Splat(): this {
    return this.simd(0x11);
  }
  i32x4Sub(): this {
    return this.simd(0xb1);
  }
  /** `i8x16.shuffle` taking whole 32-bit lanes: `lanes[i]` (0-3 of a, 4-7 of b) into lane i. */
  i32x4Shuffle(lanes: [number, number, number, number]): this {
    this.simd(0x0d);
    for (const lane of lanes) for (let b = 0; b < 4; b++) this.code.push(4 * lane + b);
    return this;
  }
  i32x4Mul(): this {
    return this.simd(0xb5);
  }
  i32x4MinS(): this {
    return this.simd(0xb6);
  }
  i32x4MaxS(): this {
    return this.simd(0xb8);
  }
  i16x8ShrU(): this {
    return this.simd(0x8d);
  }
  i8x16NarrowI16x8U(): this {
    return this.simd(0x66);
  }
  /**
   * Relaxed SIMD `i32x4.relaxed_dot_i8x16_i7x16_add_s(a, b, c)`: lane i is c[i] plus the sum of
   * a[4i..4i+3]·b[4i..4i+3], a signed bytes; defined (the same on every engine) when every byte of
   * b is in 0..127.
   */
  i32x4RelaxedDotI8x16I7x16AddS(): this {
    return this.simd(0x113);
  }
  /** `i32x4.dot_i16x8_s`: lane i is a[2i]·b[2i] + a[2i+1]·b[2i+1] (exact). */
  i32x4DotI16x8S(): this {
    return this.simd(0xba);
  }
  /** `v128.const` of four equal float32 lanes. */
  f32x4Const(x: number): this {
    this.code.push(0xfd);
    uleb(this.code, 0x0c);
    const lanes = new Uint8Array(new Float32Array([x, x, x, x]).buffer);
    this.code.push(...lanes);
    return this;
  }
  f32x4Splat(): this {
    return this.simd(0x13);
  }
  f32x4Add(): this {
    return this.simd(0xe4);
  }
  f32x4Sub(): this {
    return this.simd(0xe5);
  }
  f32x4Mul(): this {
    return this.simd(0xe6);
  }
  f32x4Div(): this {
    return this.simd(0xe7);
  }
  f32x4Min(): this {
    return this.simd(0xe8);
  }
  f32x4Max(): this {
    return this.simd(0xe9);
  }
  /** Relaxed SIMD `f32x4.relaxed_min` / `_max`: NaN and ±0 cases are the engine's choice. */
  f32x4RelaxedMin(): this {
    return this.simd(0x10d);
  }
  f32x4RelaxedMax(): this {
    return this.simd(0x10e);
  }
  /** Relaxed SIMD `i32x4.relaxed_trunc_f32x4_s`: NaN and out-of-range lanes are the engine's. */
  i32x4RelaxedTruncF32x4S(): this {
    return this.simd(0x101);
  }
  /** Relaxed SIMD `f32x4.relaxed_madd` (a * b + c, fused or not). */
  f32x4RelaxedMadd(): this {
    return this.simd(0x105);
  }
}

/** One exported function of a module. */
export interface ExportedFunction {
  name: string;
  body: FunctionBody;
}

/** How the module's single imported memory (`env.memory`) is declared. */
export interface MemoryImport {
  /** Shared (threads): a shared memory must be imported as shared. */
  shared: boolean;
  /** Minimum pages (64 KiB). */
  minPages: number;
  /** Maximum pages; required when shared. */
  maxPages?: number;
}

function section(out: number[], id: number, content: number[]): void {
  out.push(id);
  uleb(out, content.length);
  out.push(...content);
}

function vector(items: number[][]): number[] {
  const out: number[] = [];
  uleb(out, items.length);
  for (const item of items) out.push(...item);
  return out;
}

function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  const out: number[] = [];
  uleb(out, bytes.length);
  out.push(...bytes);
  return out;
}

/**
 * Encodes a module that imports `env.memory` and exports `functions` (each with its own type).
 * @returns the module's bytes, ready for `WebAssembly.Module`
 */
export function encodeModule(
  memory: MemoryImport,
  functions: ExportedFunction[],
): Uint8Array<ArrayBuffer> {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  section(
    out,
    1,
    vector(functions.map(({ body }) => [
      0x60,
      ...vector(body.params.map((t) => [t])),
      ...vector(body.results.map((t) => [t])),
    ])),
  );
  const limits: number[] = [];
  const hasMax = memory.maxPages !== undefined;
  limits.push((memory.shared ? 0x02 : 0) | (hasMax ? 0x01 : 0));
  uleb(limits, memory.minPages);
  if (hasMax) uleb(limits, memory.maxPages!);
  section(out, 2, vector([[...name("env"), ...name("memory"), 0x02, ...limits]]));
  section(
    out,
    3,
    vector(functions.map((_, i) => {
      const idx: number[] = [];
      uleb(idx, i);
      return idx;
    })),
  );
  section(
    out,
    7,
    vector(functions.map(({ name: n }, i) => {
      const idx: number[] = [];
      uleb(idx, i);
      return [...name(n), 0x00, ...idx];
    })),
  );
  section(
    out,
    10,
    vector(functions.map(({ body }) => {
      const encoded = body.encode();
      const sized: number[] = [];
      uleb(sized, encoded.length);
      return [...sized, ...encoded];
    })),
  );
  return new Uint8Array(out);
}
