/**
 * The restricted unpickler's machine state and shared reads (see `pickle.ts`).
 * @module
 */
import { DEFAULT_PICKLE_LIMITS, PickleBounds, type PickleLimits } from "./pickle_limits.ts";

/** A callable a pickle may reference: one of the caller's data constructors. */
export interface PickleGlobal {
  /** `module.name`, for error messages. */
  readonly qualifiedName: string;
  /** Builds a value from the positional arguments of REDUCE or NEWOBJ. */
  call(args: unknown[]): unknown;
}

/** What the unpickler needs from its caller. */
export interface UnpickleOptions {
  /** Names the file in error messages. */
  description: string;
  /**
   * Returns the callable for an allowed global, or `undefined` to refuse it (the unpickler then
   * throws an error naming it).
   */
  findGlobal(module: string, name: string): PickleGlobal | undefined;
  /** Resolves a persistent id (torch uses them for tensor storages). */
  persistentLoad?(pid: unknown): unknown;
  /** Overrides of {@linkcode DEFAULT_PICKLE_LIMITS}. */
  limits?: Partial<PickleLimits>;
}

/**
 * The state of one unpickling run: the bytes and the read position, the stack with its marks, and
 * the memo, with the reads and checks every opcode shares. The opcodes themselves are in
 * `pickle.ts`.
 */
export class PickleMachine {
  /** The start of every error message: `Cannot unpickle <description>`. */
  readonly where: string;
  /** The values built so far (since the last MARK). */
  stack: unknown[] = [];
  /** The stacks saved by MARK. */
  readonly marks: unknown[][] = [];
  /** PUT / MEMOIZE values by key. */
  readonly memo: Map<number, unknown> = new Map();
  /** UTF-8 text (BINUNICODE). */
  readonly text: TextDecoder = new TextDecoder("utf-8", { fatal: false });
  /** Latin-1 text (protocol 0 lines, BINSTRING). */
  readonly latin1: TextDecoder = new TextDecoder("latin1");
  /** The caller's global table and persistent loader. */
  readonly options: UnpickleOptions;
  /** The read position. */
  p: number;
  readonly #bytes: Uint8Array;
  readonly #dv: DataView;
  readonly #bounds: PickleBounds;

  /**
   * Starts reading `bytes` at `start`.
   * @param bytes the buffer
   * @param start offset of the pickle's first opcode
   * @param options description, global table and persistent loader
   */
  constructor(bytes: Uint8Array, start: number, options: UnpickleOptions) {
    this.where = `Cannot unpickle ${options.description}`;
    this.options = options;
    this.p = start;
    this.#bytes = bytes;
    this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#bounds = new PickleBounds({ ...DEFAULT_PICKLE_LIMITS, ...options.limits }, this.where);
  }

  /** Throws a truncation error unless `n` more bytes are there. */
  need(n: number): void {
    if (n < 0 || this.p + n > this.#bytes.length) {
      throw new PickleTruncatedError(
        `${this.where}: the pickle is truncated (needs ${n} bytes at offset ${this.p})`,
      );
    }
  }

  /** Reads one byte. */
  u8(): number {
    this.need(1);
    return this.#bytes[this.p++]!;
  }

  /** Reads a little-endian uint16. */
  u16(): number {
    this.need(2);
    const v = this.#dv.getUint16(this.p, true);
    this.p += 2;
    return v;
  }

  /** Reads a little-endian uint32. */
  u32(): number {
    this.need(4);
    const v = this.#dv.getUint32(this.p, true);
    this.p += 4;
    return v;
  }

  /** Reads a little-endian uint64 as a number. */
  u64(): number {
    this.need(8);
    const v = Number(this.#dv.getBigUint64(this.p, true));
    this.p += 8;
    return v;
  }

  /** Reads a little-endian int32 (BININT). */
  int32(): number {
    this.need(4);
    const v = this.#dv.getInt32(this.p, true);
    this.p += 4;
    return v;
  }

  /** Reads a big-endian float64 (BINFLOAT). */
  float64BigEndian(): number {
    this.need(8);
    const v = this.#dv.getFloat64(this.p, false);
    this.p += 8;
    return v;
  }

  /** Reads `n` bytes (a view into the buffer). */
  take(n: number): Uint8Array {
    this.#bounds.checkString(n, "a string", this.p);
    this.need(n);
    const out = this.#bytes.subarray(this.p, this.p + n);
    this.p += n;
    return out;
  }

  /** Reads a newline-terminated Latin-1 line (protocol 0 arguments). */
  line(): string {
    const end = this.#bytes.indexOf(0x0a, this.p);
    if (end < 0) {
      throw new PickleTruncatedError(`${this.where}: the pickle is truncated inside a text line`);
    }
    this.#bounds.checkString(end - this.p, "a text line", this.p);
    const s = this.latin1.decode(this.#bytes.subarray(this.p, end));
    this.p = end + 1;
    return s;
  }

  /** Pops the top value. */
  pop(): unknown {
    if (this.stack.length === 0) {
      throw new SyntaxError(`${this.where}: stack underflow at offset ${this.p}`);
    }
    return this.stack.pop();
  }

  /** The top value, left on the stack. */
  top(): unknown {
    if (this.stack.length === 0) {
      throw new SyntaxError(`${this.where}: stack underflow at offset ${this.p}`);
    }
    return this.stack[this.stack.length - 1];
  }

  /** MARK: saves the stack and starts an empty one. */
  mark(): void {
    this.#bounds.checkMarks(this.marks.length + 1, this.p - 1);
    this.marks.push(this.stack);
    this.stack = [];
  }

  /**
   * Pops everything since the last MARK, restoring the stack before it. Callers must not write
   * `m.stack.push(m.popMark())`: `m.stack` would be read before the pop.
   */
  popMark(): unknown[] {
    const items = this.stack;
    const previous = this.marks.pop();
    if (previous === undefined) {
      throw new SyntaxError(`${this.where}: MARK missing at offset ${this.p}`);
    }
    this.stack = previous;
    return items;
  }

  /** The caller's callable for `module.name`, or an error naming the refused global. */
  global(module: string, name: string): PickleGlobal {
    const found = this.options.findGlobal(module, name);
    if (found === undefined) {
      throw new TypeError(
        `${this.where}: global ${module}.${name} is not allowed; a checkpoint may only reference ` +
          `tensor and storage types and OrderedDict, and nothing in it is ever executed`,
      );
    }
    return found;
  }

  /** `value` as an allowed global, or an error naming the opcode. */
  callable(value: unknown, opcode: string): PickleGlobal {
    if (
      typeof value === "object" && value !== null && "call" in value && "qualifiedName" in value
    ) {
      return value as PickleGlobal;
    }
    throw new TypeError(`${this.where}: ${opcode} on a value that is not an allowed global`);
  }

  /** SETITEM into a dict. */
  setItem(target: unknown, key: unknown, value: unknown): void {
    if (!(target instanceof Map)) {
      throw new TypeError(
        `${this.where}: SETITEM on a value that is not a dict at offset ${this.p}`,
      );
    }
    this.#bounds.nest(target, [key, value], this.p);
    target.set(key, value);
  }

  /** APPEND to a list. */
  append(target: unknown, values: unknown[]): void {
    if (!Array.isArray(target)) {
      throw new TypeError(
        `${this.where}: APPEND on a value that is not a list at offset ${this.p}`,
      );
    }
    this.#bounds.nest(target, values, this.p);
    // One at a time: spreading a million values would overflow the call stack.
    for (const value of values) target.push(value);
  }

  /**
   * `container` (a tuple, list, set or dict just built), after checking how deep it nests.
   * @param container the new container
   * @param items what it holds (default: its own elements)
   * @returns the container
   */
  built<T extends object>(
    container: T,
    items: Iterable<unknown> = container as Iterable<unknown>,
  ): T {
    this.#bounds.nest(container, items, this.p);
    return container;
  }

  /**
   * Records that `items` went into `container` (ADDITEMS, BUILD), checking how deep it nests.
   * @param container the container
   * @param items what went into it
   */
  nest(container: object, items: Iterable<unknown>): void {
    this.#bounds.nest(container, items, this.p);
  }

  /**
   * PUT / MEMOIZE: stores `value` under `key`, within the memo's bound.
   * @param key the memo key
   * @param value the value
   */
  remember(key: number, value: unknown): void {
    this.#bounds.checkMemo(this.memo, key, this.p);
    this.memo.set(key, value);
  }

  /** A protocol 0 INT / LONG argument (`00` and `01` are booleans). */
  int(s: string): number | bigint | boolean {
    if (s === "00") return false;
    if (s === "01") return true;
    const big = BigInt(s.replace(/L$/, ""));
    return toNumber(big);
  }
}

/** The pickle ended before its STOP opcode. */
export class PickleTruncatedError extends RangeError {
  /**
   * Creates the error.
   * @param message what was truncated where
   */
  constructor(message: string) {
    super(message);
    this.name = "RangeError";
  }
}

/** A little-endian two's-complement integer of any width (LONG1, LONG4). */
export function littleEndianSigned(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return value;
}

/** A bigint as a number where it is exact. */
export function toNumber(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}
