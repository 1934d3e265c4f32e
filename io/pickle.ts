/**
 * A restricted Python unpickler: a stack machine that builds plain data (numbers, strings, lists,
 * tuples as arrays, dicts as `Map`) and nothing else. Globals are resolved only through a table the
 * caller supplies; any other global is refused by name. Nothing from the file is ever executed: a
 * "call" in a pickle can only reach the caller's own data-building functions.
 * @module
 */
import { littleEndianSigned, PickleMachine, toNumber } from "./pickle_machine.ts";
import type { UnpickleOptions } from "./pickle_machine.ts";
import { describeValue } from "./describe_value.ts";

export { type PickleGlobal, PickleTruncatedError, type UnpickleOptions } from "./pickle_machine.ts";
export { DEFAULT_PICKLE_LIMITS, type PickleLimits } from "./pickle_limits.ts";
export { describeValue };

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
  const m = new PickleMachine(bytes, start, options);
  while (true) {
    const opcodeOffset = m.p;
    const op = m.u8();
    if (op === 0x2e) { // STOP
      if (m.stack.length !== 1 || m.marks.length !== 0) {
        throw new SyntaxError(`${m.where}: STOP with ${m.stack.length} values on the stack`);
      }
      return { value: m.stack[0], end: m.p };
    }
    const known = stackOpcode(m, op) || scalarOpcode(m, op) || containerOpcode(m, op) ||
      memoOpcode(m, op) || objectOpcode(m, op, opcodeOffset);
    if (!known) {
      throw new SyntaxError(
        `${m.where}: opcode 0x${op.toString(16).padStart(2, "0")} at offset ${opcodeOffset} is ` +
          `not supported by the restricted unpickler`,
      );
    }
  }
}

/** Runs `op` when it is one of PROTO, FRAME, MARK, POP, POP_MARK, DUP: framing and the stack itself; false when it is not. */
function stackOpcode(m: PickleMachine, op: number): boolean {
  switch (op) {
    case 0x80: // PROTO
      if (m.u8() > 5) throw new SyntaxError(`${m.where}: unsupported pickle protocol`);
      break;
    case 0x95: // FRAME
      m.u64();
      break;
    case 0x28: // MARK
      m.mark();
      break;
    case 0x30: // POP
      m.pop();
      break;
    case 0x31: // POP_MARK
      m.popMark();
      break;
    case 0x32: // DUP
      m.stack.push(m.top());
      break;
    default:
      return false;
  }
  return true;
}

/** Runs `op` when it is one of None, booleans, integers, floats, strings and bytes; false when it is not. */
function scalarOpcode(m: PickleMachine, op: number): boolean {
  switch (op) {
    case 0x4e: // NONE
      m.stack.push(null);
      break;
    case 0x88: // NEWTRUE
      m.stack.push(true);
      break;
    case 0x89: // NEWFALSE
      m.stack.push(false);
      break;
    case 0x4a: // BININT
      m.stack.push(m.int32());
      break;
    case 0x4b: // BININT1
      m.stack.push(m.u8());
      break;
    case 0x4d: // BININT2
      m.stack.push(m.u16());
      break;
    case 0x49: // INT
      m.stack.push(m.int(m.line()));
      break;
    case 0x4c: // LONG
      m.stack.push(m.int(m.line()));
      break;
    case 0x8a: // LONG1
      m.stack.push(toNumber(littleEndianSigned(m.take(m.u8()))));
      break;
    case 0x8b: { // LONG4
      const n = m.u32();
      if (n > 64) throw new RangeError(`${m.where}: LONG4 of ${n} bytes is too large`);
      m.stack.push(toNumber(littleEndianSigned(m.take(n))));
      break;
    }
    case 0x47: // BINFLOAT (big-endian)
      m.stack.push(m.float64BigEndian());
      break;
    case 0x46: // FLOAT
      m.stack.push(Number(m.line()));
      break;
    case 0x58: // BINUNICODE
      m.stack.push(m.text.decode(m.take(m.u32())));
      break;
    case 0x8c: // SHORT_BINUNICODE
      m.stack.push(m.text.decode(m.take(m.u8())));
      break;
    case 0x8d: // BINUNICODE8
      m.stack.push(m.text.decode(m.take(m.u64())));
      break;
    case 0x55: // SHORT_BINSTRING
      m.stack.push(m.latin1.decode(m.take(m.u8())));
      break;
    case 0x54: // BINSTRING
      m.stack.push(m.latin1.decode(m.take(m.u32())));
      break;
    case 0x43: // SHORT_BINBYTES
      m.stack.push(m.take(m.u8()).slice());
      break;
    case 0x42: // BINBYTES
      m.stack.push(m.take(m.u32()).slice());
      break;
    case 0x8e: // BINBYTES8
      m.stack.push(m.take(m.u64()).slice());
      break;
    default:
      return false;
  }
  return true;
}

/** Runs `op` when it is one of tuples, lists, dicts and sets; false when it is not. */
function containerOpcode(m: PickleMachine, op: number): boolean {
  switch (op) {
    case 0x29: // EMPTY_TUPLE
      m.stack.push([]);
      break;
    case 0x85: // TUPLE1
      m.stack.push(m.built([m.pop()]));
      break;
    case 0x86: { // TUPLE2
      const b = m.pop();
      m.stack.push(m.built([m.pop(), b]));
      break;
    }
    case 0x87: { // TUPLE3
      const c = m.pop();
      const b = m.pop();
      m.stack.push(m.built([m.pop(), b, c]));
      break;
    }
    case 0x74: // TUPLE
      {
        const items = m.popMark();
        m.stack.push(m.built(items));
      }
      break;
    case 0x5d: // EMPTY_LIST
      m.stack.push([]);
      break;
    case 0x6c: // LIST
      {
        const items = m.popMark();
        m.stack.push(m.built(items));
      }
      break;
    case 0x61: // APPEND
      {
        const value = m.pop();
        m.append(m.top(), [value]);
      }
      break;
    case 0x65: { // APPENDS
      const items = m.popMark();
      m.append(m.top(), items);
      break;
    }
    case 0x7d: // EMPTY_DICT
      m.stack.push(new Map());
      break;
    case 0x64: { // DICT
      const items = m.popMark();
      const map = new Map();
      for (let i = 0; i + 1 < items.length; i += 2) map.set(items[i], items[i + 1]);
      m.stack.push(m.built(map, items));
      break;
    }
    case 0x73: { // SETITEM
      const value = m.pop();
      const key = m.pop();
      m.setItem(m.top(), key, value);
      break;
    }
    case 0x75: { // SETITEMS
      const items = m.popMark();
      const target = m.top();
      for (let i = 0; i + 1 < items.length; i += 2) m.setItem(target, items[i], items[i + 1]);
      break;
    }
    case 0x8f: // EMPTY_SET
      m.stack.push(new Set());
      break;
    case 0x90: { // ADDITEMS
      const items = m.popMark();
      const target = m.top();
      if (!(target instanceof Set)) throw new TypeError(`${m.where}: ADDITEMS on a non-set`);
      m.nest(target, items);
      for (const item of items) target.add(item);
      break;
    }
    case 0x91: // FROZENSET
      {
        const items = m.popMark();
        m.stack.push(m.built(new Set(items)));
      }
      break;
    default:
      return false;
  }
  return true;
}

/** Runs `op` when it is one of the memo: PUT and GET in their forms; false when it is not. */
function memoOpcode(m: PickleMachine, op: number): boolean {
  switch (op) {
    case 0x71: // BINPUT
      m.remember(m.u8(), m.top());
      break;
    case 0x72: // LONG_BINPUT
      m.remember(m.u32(), m.top());
      break;
    case 0x70: // PUT
      m.remember(Number(m.line()), m.top());
      break;
    case 0x94: // MEMOIZE
      m.remember(m.memo.size, m.top());
      break;
    case 0x68: // BINGET
    case 0x6a: // LONG_BINGET
    case 0x67: { // GET
      const key = op === 0x68 ? m.u8() : op === 0x6a ? m.u32() : Number(m.line());
      if (!m.memo.has(key)) throw new SyntaxError(`${m.where}: m.memo key ${key} is not defined`);
      m.stack.push(m.memo.get(key));
      break;
    }
    default:
      return false;
  }
  return true;
}

/** Runs `op` when it is one of globals (through the caller's table), calls, BUILD and persistent ids; false when it is not. */
function objectOpcode(m: PickleMachine, op: number, opcodeOffset: number): boolean {
  switch (op) {
    case 0x63: { // GLOBAL
      const module = m.line();
      const name = m.line();
      m.stack.push(m.global(module, name));
      break;
    }
    case 0x93: { // STACK_GLOBAL
      const name = m.pop();
      const module = m.pop();
      if (typeof module !== "string" || typeof name !== "string") {
        throw new TypeError(`${m.where}: STACK_GLOBAL needs two strings`);
      }
      m.stack.push(m.global(module, name));
      break;
    }
    case 0x52: { // REDUCE
      const args = m.pop();
      const fn = m.callable(m.pop(), "REDUCE");
      if (!Array.isArray(args)) throw new TypeError(`${m.where}: REDUCE arguments must be a tuple`);
      m.stack.push(fn.call(args));
      break;
    }
    case 0x81: { // NEWOBJ
      const args = m.pop();
      const cls = m.callable(m.pop(), "NEWOBJ");
      if (!Array.isArray(args)) throw new TypeError(`${m.where}: NEWOBJ arguments must be a tuple`);
      m.stack.push(cls.call(args));
      break;
    }
    case 0x62: { // BUILD
      const state = m.pop();
      const target = m.top();
      if (target instanceof Map) break; // e.g. OrderedDict._metadata: not needed
      if (target instanceof PickleRecord && state instanceof Map) {
        m.nest(target, state.values());
        for (const [k, v] of state) {
          target.fields[typeof k === "string" ? k : describeValue(k)] = v;
        }
        break;
      }
      throw new TypeError(`${m.where}: BUILD on an unsupported value at offset ${opcodeOffset}`);
    }
    case 0x51: // BINPERSID
    case 0x50: { // PERSID
      const pid = op === 0x51 ? m.pop() : m.line();
      if (m.options.persistentLoad === undefined) {
        throw new TypeError(`${m.where}: persistent ids are not supported here`);
      }
      m.stack.push(m.options.persistentLoad(pid));
      break;
    }
    default:
      return false;
  }
  return true;
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
