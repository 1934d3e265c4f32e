/**
 * Stored values to float32 in WebAssembly: what a search does to each block of int8 rows (a code's
 * level from the table of 256) and float16 rows (halves converted by SIMD bit arithmetic) before
 * the product. A JavaScript loop over a table does the same at a fraction of the speed (a bounds
 * check and a conversion per value); the module (built at run time with `wasm_writer.ts`, no
 * binary shipped) writes the levels into its own memory, which the caller reads through a view.
 *
 * Each decoder owns its memory: a search holds one ({@link acquireDecoder}) from its first block
 * to its end, so concurrent searches never share a buffer.
 * @module
 */
import { encodeModule, F32, FunctionBody, I32, V128 } from "../backend/wasm_kernels/wasm_writer.ts";

/** Bytes of the table region (256 float32 levels). */
const TABLE_BYTES = 256 * 4;
const PAGE = 65536;

/**
 * `decode8(codes, out, end, table)`: the level of each byte from `codes` to `end`, four a step.
 */
function tableBody(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32]);
  const [CODES, OUT, END, TABLE] = [0, 1, 2, 3];
  f.block().loop();
  f.localGet(CODES).localGet(END).i32Eq().brIf(1);
  for (let i = 0; i < 4; i++) {
    f.localGet(OUT);
    f.localGet(CODES).i32Load8U(i).i32Const(2).i32Shl().localGet(TABLE).i32Add().f32Load();
    f.f32Store(4 * i);
  }
  f.addConst(CODES, 4).addConst(OUT, 16).br(0);
  f.end().end();
  return f;
}

/**
 * `decode16(codes, out, end)`: halves to float32 by integer arithmetic, eight a step. A normal
 * half's exponent and mantissa, shifted into a float32's places (`(h & 0x7fff) << 13`), need only
 * the exponents' bias difference added (112 << 23); a subnormal one (`h & 0x7fff` below 0x400) is
 * its mantissa times 2^-24, converted and multiplied (never on subnormal floats, which x86 slows
 * down a hundredfold); then the sign (`(h & 0x8000) << 16`). Halves with an all-ones exponent
 * (infinities, NaN) are never stored, so they need no case.
 */
function halfBody(): FunctionBody {
  const f = new FunctionBody([I32, I32, I32]);
  const [CODES, OUT, END] = [0, 1, 2];
  const h = f.local(V128), m = f.local(V128);
  f.block().loop();
  f.localGet(CODES).localGet(END).i32Eq().brIf(1);
  for (let i = 0; i < 2; i++) {
    f.localGet(OUT);
    halves(f, CODES, 8 * i, h, m);
    f.v128Store(16 * i);
  }
  f.addConst(CODES, 16).addConst(OUT, 32).br(0);
  f.end().end();
  return f;
}

/** Pushes the four halves at `codes + offset` as float32 lanes (`decode16`'s arithmetic). */
function halves(f: FunctionBody, codes: number, offset: number, h: number, m: number): void {
  f.localGet(codes).i32x4Load16x4U(offset).localTee(h).i32x4Const(0x7fff).v128And().localSet(m);
  f.localGet(m).f32x4ConvertI32x4S().f32x4Const(2 ** -24).f32x4Mul(); // subnormal
  f.localGet(m).i32Const(13).i32x4Shl().i32x4Const(112 << 23).i32x4Add(); // normal
  f.localGet(m).i32x4Const(0x400).i32x4LtU().v128Bitselect();
  f.localGet(h).i32x4Const(0x8000).v128And().i32Const(16).i32x4Shl();
  f.v128Or();
}

/**
 * `dot8(codes, out, rows, dim, table, q)` and `dot16(codes, out, rows, dim, q)`: for one query,
 * each row's product with `q` straight from its codes (no decoded block, no separate product);
 * `dim` a multiple of 8. Four running sums (int8) or two of four lanes (halves), so that no add
 * waits for the one before it.
 */
function dotBody(width: 1 | 2): FunctionBody {
  const f = new FunctionBody(
    width === 1 ? [I32, I32, I32, I32, I32, I32] : [I32, I32, I32, I32, I32],
  );
  const [CODES, OUT, ROWS, DIM] = [0, 1, 2, 3];
  const TABLE = 4, Q = width === 1 ? 5 : 4;
  const row = f.local(I32), end = f.local(I32), qp = f.local(I32);
  const acc = [f.local(V128), f.local(V128)], h = f.local(V128), m = f.local(V128);
  const sums = [f.local(F32), f.local(F32), f.local(F32), f.local(F32)];
  f.i32Const(0).localSet(row);
  f.countTo(row, ROWS, () => {
    f.localGet(CODES).localGet(DIM).i32Const(width - 1).i32Shl().i32Add().localSet(end);
    f.localGet(Q).localSet(qp);
    if (width === 2) { for (const a of acc) f.f32x4Const(0).localSet(a); }
    else for (const sum of sums) f.f32Const(0).localSet(sum);
    f.block().loop();
    f.localGet(CODES).localGet(end).i32Eq().brIf(1);
    if (width === 2) {
      acc.forEach((a, i) => {
        f.localGet(a);
        halves(f, CODES, 8 * i, h, m);
        f.localGet(qp).v128Load(16 * i).f32x4Mul().f32x4Add().localSet(a);
      });
      f.addConst(CODES, 16);
    } else {
      for (let i = 0; i < 8; i++) {
        const sum = sums[i % 4]!;
        f.localGet(sum);
        f.localGet(CODES).i32Load8U(i).i32Const(2).i32Shl().localGet(TABLE).i32Add().f32Load();
        f.localGet(qp).f32Load(4 * i).f32Mul().f32Add().localSet(sum);
      }
      f.addConst(CODES, 8);
    }
    f.addConst(qp, 32).br(0);
    f.end().end();
    f.localGet(OUT);
    if (width === 2) {
      f.localGet(acc[0]!).localGet(acc[1]!).f32x4Add().localSet(h);
      f.localGet(h).f32x4ExtractLane(0).localGet(h).f32x4ExtractLane(1).f32Add();
      f.localGet(h).f32x4ExtractLane(2).localGet(h).f32x4ExtractLane(3).f32Add().f32Add();
    } else {
      f.localGet(sums[0]!).localGet(sums[1]!).f32Add();
      f.localGet(sums[2]!).localGet(sums[3]!).f32Add().f32Add();
    }
    f.f32Store().addConst(OUT, 4);
  });
  return f;
}

let compiled: WebAssembly.Module | null | undefined;

function module(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    compiled = new WebAssembly.Module(
      encodeModule({ shared: false, minPages: 1 }, [
        { name: "decode8", body: tableBody() },
        { name: "decode16", body: halfBody() },
        { name: "dot8", body: dotBody(1) },
        { name: "dot16", body: dotBody(2) },
      ]),
    );
  } catch {
    compiled = null; // no WebAssembly here: callers decode in JavaScript
  }
  return compiled;
}

type Decode = (codes: number, out: number, end: number, table?: number) => void;
type Dot8 = (
  codes: number,
  out: number,
  rows: number,
  dim: number,
  table: number,
  q: number,
) => void;
type Dot16 = (codes: number, out: number, rows: number, dim: number, q: number) => void;

/** A WebAssembly decoder with its own memory: table, then codes, then levels. */
export class LevelDecoder {
  #memory: WebAssembly.Memory;
  #decode8: Decode;
  #decode16: Decode;
  #dot8: Dot8;
  #dot16: Dot16;
  #table: Float32Array | null = null;

  private constructor(compiledModule: WebAssembly.Module) {
    this.#memory = new WebAssembly.Memory({ initial: 1 });
    const instance = new WebAssembly.Instance(compiledModule, { env: { memory: this.#memory } });
    this.#decode8 = instance.exports.decode8 as Decode;
    this.#decode16 = instance.exports.decode16 as Decode;
    this.#dot8 = instance.exports.dot8 as Dot8;
    this.#dot16 = instance.exports.dot16 as Dot16;
  }

  /**
   * Each row's product with one query, straight from the codes: what a one-query search does to a
   * block (a view of the decoder's memory, valid until its next call).
   * @param codes `rows * dim` bytes (int8 codes) or 16-bit words (halves)
   * @param table the level of each byte (unused for halves)
   * @param query `dim` float32 values, `dim` a multiple of 8
   * @returns `rows` products
   */
  dot(codes: Uint8Array | Uint16Array, table: Float32Array, query: Float32Array): Float32Array {
    const dim = query.length, rows = codes.length / dim, width = codes.BYTES_PER_ELEMENT;
    const qAt = TABLE_BYTES, codesAt = align(qAt + 4 * dim);
    const outAt = align(codesAt + codes.length * width), bytes = outAt + 4 * rows;
    this.#room(bytes);
    const buffer = this.#memory.buffer;
    new Float32Array(buffer, qAt, dim).set(query);
    if (width === 1) {
      this.#loadTable(table);
      new Uint8Array(buffer, codesAt, codes.length).set(codes);
      this.#dot8(codesAt, outAt, rows, dim, 0, qAt);
    } else {
      new Uint16Array(buffer, codesAt, codes.length).set(codes as Uint16Array);
      this.#dot16(codesAt, outAt, rows, dim, qAt);
    }
    return new Float32Array(buffer, outAt, rows);
  }

  #room(bytes: number): void {
    if (bytes > this.#memory.buffer.byteLength) {
      this.#memory.grow(Math.ceil((bytes - this.#memory.buffer.byteLength) / PAGE));
    }
  }

  #loadTable(table: Float32Array): void {
    if (this.#table !== table) {
      new Float32Array(this.#memory.buffer, 0, table.length).set(table);
      this.#table = table;
    }
  }

  /**
   * A new decoder, or null where WebAssembly is not available.
   * @returns the decoder
   */
  static create(): LevelDecoder | null {
    const m = module();
    return m === null ? null : new LevelDecoder(m);
  }

  /**
   * The level of every code, as a view of the decoder's memory, valid until its next call.
   * @param codes bytes (int8 codes, levels from `table`) or 16-bit words (halves, converted)
   * @param table the level of each byte (unused for halves)
   * @returns the levels
   */
  decode(codes: Uint8Array | Uint16Array, table: Float32Array): Float32Array {
    const n = codes.length, width = codes.BYTES_PER_ELEMENT;
    // Steps of 4 bytes or 8 halves: room for the last step's codes and levels past the end.
    const codesAt = TABLE_BYTES, outAt = align(codesAt + (n + 8) * width);
    this.#room(outAt + 4 * (n + 8));
    const buffer = this.#memory.buffer;
    if (width === 1) {
      this.#loadTable(table);
      new Uint8Array(buffer, codesAt, n).set(codes);
      this.#decode8(codesAt, outAt, codesAt + Math.ceil(n / 4) * 4, 0);
    } else {
      new Uint16Array(buffer, codesAt, n).set(codes as Uint16Array);
      this.#decode16(codesAt, outAt, codesAt + Math.ceil(n / 8) * 16);
    }
    return new Float32Array(buffer, outAt, n);
  }
}

function align(n: number): number {
  return Math.ceil(n / 64) * 64;
}

const idle: LevelDecoder[] = [];

/**
 * A decoder for one search (a new one when every other is in use), or null without WebAssembly.
 * @returns the decoder; give it back with {@link releaseDecoder}
 */
export function acquireDecoder(): LevelDecoder | null {
  return idle.pop() ?? LevelDecoder.create();
}

/**
 * Returns a decoder for later searches (a few are kept; their memory is a block of levels each).
 * @param decoder the decoder
 */
export function releaseDecoder(decoder: LevelDecoder | null): void {
  if (decoder !== null && idle.length < 4) idle.push(decoder);
}
