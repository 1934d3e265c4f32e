/**
 * Stored codes to float32 through a table of levels, in WebAssembly: what a search does to each
 * block of float16 (a 65,536-entry table of every half's value) and int8 (the 256 levels) rows
 * before the product. A plain JavaScript loop does the same at a fraction of the speed (a bounds
 * check and a conversion per value); the module (built at run time with `wasm_writer.ts`, no
 * binary shipped) reads four codes per iteration and writes their levels into its own memory, which
 * the caller reads through a view.
 *
 * Each decoder owns its memory: a search holds one ({@link acquireDecoder}) from its first block
 * to its end, so concurrent searches never share a buffer.
 * @module
 */
import { encodeModule, FunctionBody, I32 } from "../backend/wasm_kernels/wasm_writer.ts";

/** Bytes of the table region (room for 65,536 float32 levels). */
const TABLE_BYTES = 65536 * 4;
const PAGE = 65536;

/** `decode(codes, out, end, table)`: `codes` advances by `width` bytes, four codes a step. */
function decodeBody(width: 1 | 2): FunctionBody {
  const f = new FunctionBody([I32, I32, I32, I32]);
  const [CODES, OUT, END, TABLE] = [0, 1, 2, 3];
  f.block().loop();
  f.localGet(CODES).localGet(END).i32Eq().brIf(1);
  for (let i = 0; i < 4; i++) {
    f.localGet(OUT);
    f.localGet(CODES);
    if (width === 1) f.i32Load8U(i);
    else f.i32Load16U(2 * i);
    f.i32Const(2).i32Shl().localGet(TABLE).i32Add().f32Load();
    f.f32Store(4 * i);
  }
  f.addConst(CODES, 4 * width).addConst(OUT, 16).br(0);
  f.end().end();
  return f;
}

let compiled: WebAssembly.Module | null | undefined;

function module(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    compiled = new WebAssembly.Module(
      encodeModule({ shared: false, minPages: 1 }, [
        { name: "decode8", body: decodeBody(1) },
        { name: "decode16", body: decodeBody(2) },
      ]),
    );
  } catch {
    compiled = null; // no WebAssembly here: callers decode in JavaScript
  }
  return compiled;
}

type Decode = (codes: number, out: number, end: number, table: number) => void;

/** A WebAssembly decoder with its own memory: table, then codes, then levels. */
export class LevelDecoder {
  #memory: WebAssembly.Memory;
  #decode8: Decode;
  #decode16: Decode;
  #table: Float32Array | null = null;

  private constructor(compiledModule: WebAssembly.Module) {
    this.#memory = new WebAssembly.Memory({ initial: TABLE_BYTES / PAGE + 1 });
    const instance = new WebAssembly.Instance(compiledModule, { env: { memory: this.#memory } });
    this.#decode8 = instance.exports.decode8 as Decode;
    this.#decode16 = instance.exports.decode16 as Decode;
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
   * `table[codes[i]]` for every code, as a view of the decoder's memory, valid until its next
   * call.
   * @param codes bytes (int8 codes) or 16-bit words (halves)
   * @param table the level of each code (256 or 65,536 of them)
   * @returns the levels
   */
  decode(codes: Uint8Array | Uint16Array, table: Float32Array): Float32Array {
    const n = codes.length, width = codes.BYTES_PER_ELEMENT;
    // Codes are read four at a time: room for up to three past the end.
    const codesAt = TABLE_BYTES, outAt = align(codesAt + (n + 4) * width);
    const bytes = outAt + 4 * (n + 4);
    if (bytes > this.#memory.buffer.byteLength) {
      this.#memory.grow(Math.ceil((bytes - this.#memory.buffer.byteLength) / PAGE));
    }
    const buffer = this.#memory.buffer;
    if (this.#table !== table) {
      new Float32Array(buffer, 0, table.length).set(table);
      this.#table = table;
    }
    if (width === 1) new Uint8Array(buffer, codesAt, n).set(codes);
    else new Uint16Array(buffer, codesAt, n).set(codes as Uint16Array);
    const steps = Math.ceil(n / 4);
    (width === 1 ? this.#decode8 : this.#decode16)(
      codesAt,
      outAt,
      codesAt + steps * 4 * width,
      0,
    );
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
