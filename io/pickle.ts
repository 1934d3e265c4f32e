/**
 * A restricted Python unpickler: a stack machine that builds plain data (numbers, strings, lists,
 * tuples as arrays, dicts as `Map`) and nothing else. Globals are resolved only through a table the
 * caller supplies; any other global is refused by name. Nothing from the file is ever executed: a
 * "call" in a pickle can only reach the caller's own data-building functions.
 * @module
 */

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
}

/**
 * Unpickles `bytes` with the restricted machine.
 *
 * @example
 * ```ts
 * import { unpickle } from "./pickle.ts";
 * // pickle.dumps({"a": 1}, protocol=2)
 * const bytes = new Uint8Array([0x80, 2, 0x7d, 0x71, 0, 0x58, 1, 0, 0, 0, 0x61, 0x71, 1, 0x4b, 1, 0x73, 0x2e]);
 * const value = unpickle(bytes, { description: "example", findGlobal: () => undefined });
 * console.assert((value as Map<string, number>).get("a") === 1);
 * ```
 * @param bytes the pickle
 * @param options description, global table and persistent loader
 * @returns the unpickled value
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): unknown {
  return unpickleAt(bytes, 0, options).value;
}

/**
 * Unpickles one pickle that starts at `start` and tells where it ended, for files that hold
 * several pickles in a row (the legacy torch format).
 * @param bytes the buffer
 * @param start offset of the pickle's first opcode
 * @param options description, global table and persistent loader
 * @returns the value and the offset just past its STOP opcode
 */
export function unpickleAt(
  bytes: Uint8Array,
  start: number,
  options: UnpickleOptions,
): { value: unknown; end: number } {
  const where = `Cannot unpickle ${options.description}`;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder("utf-8", { fatal: false });
  const latin1 = new TextDecoder("latin1");
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let p = start;

  const need = (n: number): void => {
    if (n < 0 || p + n > bytes.length) {
      throw new PickleTruncatedError(
        `${where}: the pickle is truncated (needs ${n} bytes at offset ${p})`,
      );
    }
  };
  const u8 = (): number => {
    need(1);
    return bytes[p++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(p, true);
    p += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(p, true);
    p += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = Number(dv.getBigUint64(p, true));
    p += 8;
    return v;
  };
  const take = (n: number): Uint8Array => {
    need(n);
    const out = bytes.subarray(p, p + n);
    p += n;
    return out;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, p);
    if (end < 0) {
      throw new PickleTruncatedError(`${where}: the pickle is truncated inside a text line`);
    }
    const s = latin1.decode(bytes.subarray(p, end));
    p = end + 1;
    return s;
  };
  const pop = (): unknown => {
    if (stack.length === 0) throw new SyntaxError(`${where}: stack underflow at offset ${p}`);
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw new SyntaxError(`${where}: stack underflow at offset ${p}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    // Callers must not write `stack.push(popMark())`: `stack` would be read before the pop.
    const items = stack;
    const previous = marks.pop();
    if (previous === undefined) throw new SyntaxError(`${where}: MARK missing at offset ${p}`);
    stack = previous;
    return items;
  };
  const global = (module: string, name: string): PickleGlobal => {
    const found = options.findGlobal(module, name);
    if (found === undefined) {
      throw new TypeError(
        `${where}: global ${module}.${name} is not allowed; a checkpoint may only reference ` +
          `tensor and storage types and OrderedDict, and nothing in it is ever executed`,
      );
    }
    return found;
  };
  const callable = (value: unknown, opcode: string): PickleGlobal => {
    if (
      typeof value === "object" && value !== null && "call" in value && "qualifiedName" in value
    ) {
      return value as PickleGlobal;
    }
    throw new TypeError(`${where}: ${opcode} on a value that is not an allowed global`);
  };
  const setItem = (target: unknown, key: unknown, value: unknown): void => {
    if (!(target instanceof Map)) {
      throw new TypeError(`${where}: SETITEM on a value that is not a dict at offset ${p}`);
    }
    target.set(key, value);
  };
  const append = (target: unknown, values: unknown[]): void => {
    if (!Array.isArray(target)) {
      throw new TypeError(`${where}: APPEND on a value that is not a list at offset ${p}`);
    }
    target.push(...values);
  };
  const int = (s: string): number | bigint | boolean => {
    if (s === "00") return false;
    if (s === "01") return true;
    const big = BigInt(s.replace(/L$/, ""));
    return toNumber(big);
  };

  while (true) {
    const opcodeOffset = p;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw new SyntaxError(`${where}: unsupported pickle protocol`);
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: { // STOP
        if (stack.length !== 1 || marks.length !== 0) {
          throw new SyntaxError(`${where}: STOP with ${stack.length} values on the stack`);
        }
        return { value: stack[0], end: p };
      }
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        need(4);
        stack.push(dv.getInt32(p, true));
        p += 4;
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x49: // INT
        stack.push(int(line()));
        break;
      case 0x4c: // LONG
        stack.push(int(line()));
        break;
      case 0x8a: // LONG1
        stack.push(toNumber(littleEndianSigned(take(u8()))));
        break;
      case 0x8b: { // LONG4
        const n = u32();
        if (n > 64) throw new RangeError(`${where}: LONG4 of ${n} bytes is too large`);
        stack.push(toNumber(littleEndianSigned(take(n))));
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        need(8);
        stack.push(dv.getFloat64(p, false));
        p += 8;
        break;
      case 0x46: // FLOAT
        stack.push(Number(line()));
        break;
      case 0x58: // BINUNICODE
        stack.push(text.decode(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text.decode(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text.decode(take(u64())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(take(u8())));
        break;
      case 0x54: // BINSTRING
        stack.push(latin1.decode(take(u32())));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: { // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x74: // TUPLE
        {
          const items = popMark();
          stack.push(items);
        }
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        {
          const items = popMark();
          stack.push(items);
        }
        break;
      case 0x61: // APPEND
        {
          const value = pop();
          append(top(), [value]);
        }
        break;
      case 0x65: { // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new Map());
        break;
      case 0x64: { // DICT
        const items = popMark();
        const map = new Map();
        for (let i = 0; i + 1 < items.length; i += 2) map.set(items[i], items[i + 1]);
        stack.push(map);
        break;
      }
      case 0x73: { // SETITEM
        const value = pop();
        const key = pop();
        setItem(top(), key, value);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        const target = top();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(target, items[i], items[i + 1]);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        const target = top();
        if (!(target instanceof Set)) throw new TypeError(`${where}: ADDITEMS on a non-set`);
        for (const item of items) target.add(item);
        break;
      }
      case 0x91: // FROZENSET
        {
          const items = popMark();
          stack.push(new Set(items));
        }
        break;
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(Number(line()), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: { // GET
        const key = op === 0x68 ? u8() : op === 0x6a ? u32() : Number(line());
        if (!memo.has(key)) throw new SyntaxError(`${where}: memo key ${key} is not defined`);
        stack.push(memo.get(key));
        break;
      }
      case 0x63: { // GLOBAL
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          throw new TypeError(`${where}: STACK_GLOBAL needs two strings`);
        }
        stack.push(global(module, name));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = callable(pop(), "REDUCE");
        if (!Array.isArray(args)) throw new TypeError(`${where}: REDUCE arguments must be a tuple`);
        stack.push(fn.call(args));
        break;
      }
      case 0x81: { // NEWOBJ
        const args = pop();
        const cls = callable(pop(), "NEWOBJ");
        if (!Array.isArray(args)) throw new TypeError(`${where}: NEWOBJ arguments must be a tuple`);
        stack.push(cls.call(args));
        break;
      }
      case 0x62: { // BUILD
        const state = pop();
        const target = top();
        if (target instanceof Map) break; // e.g. OrderedDict._metadata: not needed
        if (target instanceof PickleRecord && state instanceof Map) {
          for (const [k, v] of state) target.fields[String(k)] = v;
          break;
        }
        throw new TypeError(`${where}: BUILD on an unsupported value at offset ${opcodeOffset}`);
      }
      case 0x51: // BINPERSID
      case 0x50: { // PERSID
        const pid = op === 0x51 ? pop() : line();
        if (options.persistentLoad === undefined) {
          throw new TypeError(`${where}: persistent ids are not supported here`);
        }
        stack.push(options.persistentLoad(pid));
        break;
      }
      default:
        throw new SyntaxError(
          `${where}: opcode 0x${op.toString(16).padStart(2, "0")} at offset ${opcodeOffset} is ` +
            `not supported by the restricted unpickler`,
        );
    }
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

/** A plain record built for an allowed class such as a namedtuple. */
export class PickleRecord {
  /** `module.name` of the class. */
  readonly className: string;
  /** Field values by name. */
  readonly fields: Record<string, unknown>;

  /**
   * Builds a record of an allowed class.
   * @param className the class's qualified name
   * @param fields the record's fields
   */
  constructor(className: string, fields: Record<string, unknown>) {
    this.className = className;
    this.fields = fields;
  }
}

function littleEndianSigned(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return value;
}

function toNumber(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(value)
    : value;
}
