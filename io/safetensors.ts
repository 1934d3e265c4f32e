/**
 * Reader of the safetensors format (the writer is `safetensors_write.ts`, sharded checkpoints
 * `safetensors_sharded.ts`): an 8-byte little-endian header length N, N bytes
 * of JSON describing each tensor (`dtype`, `shape`, `data_offsets` relative to the end of the
 * header), then the raw little-endian tensor bytes. The header is checked strictly before any
 * tensor is decoded, since a file may come from anywhere.
 * @module
 */
import { checkFiniteWeights, type NonFiniteOption } from "./finite_weights.ts";
import { LITTLE_ENDIAN_HOST, readUpTo } from "./byte_reader.ts";
import type { RawTensor, StateDict } from "./state_dict.ts";
import { decodeBfloat16, decodeFloat16 } from "./float16.ts";

export { writeSafetensors, type WriteSafetensorsOptions } from "./safetensors_write.ts";

/** The largest header this reader accepts (100 MB, the limit of the reference implementation). */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

/** Bytes per element of each dtype this reader can decode to float32. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** One tensor described by a safetensors header, with absolute byte offsets in the file. */
export interface SafetensorsEntry {
  /** The tensor's state-dict name. */
  name: string;
  /** The safetensors dtype, e.g. "F32". */
  dtype: string;
  /** Dimensions, outermost first. */
  shape: number[];
  /** First byte of the tensor's data, counted from the start of the file. */
  begin: number;
  /** One past the last byte of the tensor's data, counted from the start of the file. */
  end: number;
}

/** A validated safetensors header. */
export interface SafetensorsHeader {
  /** Where the tensor data starts in the file (8 + header length). */
  dataStart: number;
  /** The tensors in the order of their data. */
  entries: SafetensorsEntry[];
  /** The optional string-to-string `__metadata__` map. */
  metadata: Record<string, string>;
}

/** Options for {@linkcode readSafetensors}. */
export interface ReadSafetensorsOptions extends NonFiniteOption {
  /** Names the file in error messages; default "safetensors file". */
  description?: string;
  /** Decodes only the tensors whose names pass this test (the others are still validated). */
  filter?: (name: string) => boolean;
  /**
   * Return F32 tensors as views into `bytes` where alignment allows, instead of copies: memory
   * stays at one copy of the file, but the tensors keep the whole buffer alive and change with
   * it. Default false. Only {@linkcode readSafetensors} uses it.
   */
  share?: boolean;
}

/**
 * Reads the header length from the first 8 bytes of a safetensors file and checks it against the
 * file size.
 * @param first8 at least the first 8 bytes of the file
 * @param fileSize the file's total size in bytes
 * @param description names the file in error messages
 * @returns the header's length N in bytes (the header occupies bytes 8..8+N)
 */
export function safetensorsHeaderLength(
  first8: Uint8Array,
  fileSize: number,
  description = "safetensors file",
): number {
  if (fileSize < 8 || first8.length < 8) {
    throw new RangeError(
      `Cannot read ${description}: a safetensors file needs at least 8 bytes: received ${fileSize}`,
    );
  }
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const n = Number(view.getBigUint64(0, true));
  if (n < 2 || n > MAX_SAFETENSORS_HEADER_BYTES) {
    throw new RangeError(
      `Cannot read ${description}: header length must be between 2 and ` +
        `${MAX_SAFETENSORS_HEADER_BYTES} bytes: received ${n}`,
    );
  }
  if (8 + n > fileSize) {
    throw new RangeError(
      `Cannot read ${description}: header length ${n} runs past the end of the file ` +
        `(${fileSize} bytes); the file is truncated or not safetensors`,
    );
  }
  return n;
}

/**
 * Parses and validates a safetensors header: every entry needs a known dtype, a shape of
 * non-negative integers and `data_offsets` inside the data section whose length equals the element
 * count times the dtype's size; the tensors must cover the data section exactly, without overlaps,
 * gaps or trailing bytes (as the reference `safetensors` library requires).
 * @param headerBytes the N bytes of JSON after the 8-byte length
 * @param fileSize the file's total size in bytes
 * @param description names the file in error messages
 * @returns the header with absolute offsets
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  fileSize: number,
  description = "safetensors file",
): SafetensorsHeader {
  const dataStart = 8 + headerBytes.length;
  const dataSize = fileSize - dataStart;
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (error) {
    throw new SyntaxError(
      `Cannot read ${description}: the header is not valid UTF-8 JSON: ${(error as Error).message}`,
    );
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new SyntaxError(`Cannot read ${description}: the header must be a JSON object`);
  }
  const metadata: Record<string, string> = {};
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new TypeError(`Cannot read ${description}: __metadata__ must be an object`);
      }
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (typeof v !== "string") {
          throw new TypeError(
            `Cannot read ${description}: __metadata__ values must be strings: "${k}" is ${
              JSON.stringify(v)
            }`,
          );
        }
        metadata[k] = v;
      }
      continue;
    }
    entries.push(parseEntry(name, value, dataStart, dataSize, description));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  // As the reference implementation: the tensors tile the data section exactly, in some order.
  let expected = dataStart;
  for (let i = 0; i < entries.length; i++) {
    const current = entries[i]!;
    if (i > 0 && current.begin < expected) {
      const previous = entries[i - 1]!;
      throw new RangeError(
        `Cannot read ${description}: tensor "${current.name}" (bytes ${
          current.begin - dataStart
        }..${current.end - dataStart}) overlaps tensor "${previous.name}" (bytes ${
          previous.begin - dataStart
        }..${previous.end - dataStart})`,
      );
    }
    if (current.begin !== expected) {
      throw new RangeError(
        `Cannot read ${description}: tensor "${current.name}" starts at data byte ${
          current.begin - dataStart
        }, leaving bytes ${expected - dataStart}..${current.begin - dataStart} unused ` +
          `(tensors must follow one another without gaps)`,
      );
    }
    expected = current.end;
  }
  if (expected !== fileSize) {
    throw new RangeError(
      `Cannot read ${description}: ${fileSize - expected} bytes follow the last tensor's data ` +
        `(the data section is ${dataSize} bytes, the tensors cover ${expected - dataStart})`,
    );
  }
  return { dataStart, entries, metadata };
}

function parseEntry(
  name: string,
  value: unknown,
  dataStart: number,
  dataSize: number,
  description: string,
): SafetensorsEntry {
  const where = `Cannot read ${description}: tensor "${name}"`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `${where} must be described by an object: received ${JSON.stringify(value)}`,
    );
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== "string") {
    throw new TypeError(`${where} needs a string dtype: received ${JSON.stringify(dtype)}`);
  }
  const itemBytes = DTYPE_BYTES[dtype];
  if (itemBytes === undefined) {
    throw new TypeError(
      `${where} has unsupported dtype ${JSON.stringify(dtype)}: supported are ${
        Object.keys(DTYPE_BYTES).join(", ")
      }`,
    );
  }
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
  ) {
    throw new TypeError(
      `${where} needs a shape of non-negative integers: received ${JSON.stringify(shape)}`,
    );
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
  ) {
    throw new TypeError(
      `${where} needs data_offsets [begin, end] of non-negative integers: received ${
        JSON.stringify(offsets)
      }`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end || end > dataSize) {
    throw new RangeError(
      `${where} has data_offsets [${begin}, ${end}] outside the data section of ${dataSize} bytes`,
    );
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  if (end - begin !== count * itemBytes) {
    throw new RangeError(
      `${where} has data_offsets [${begin}, ${end}] (${end - begin} bytes) that do not match ` +
        `dtype ${dtype} and shape [${shape}] (${count * itemBytes} bytes)`,
    );
  }
  return {
    name,
    dtype,
    shape: [...(shape as number[])],
    begin: dataStart + begin,
    end: dataStart + end,
  };
}

/**
 * Decodes one tensor's bytes to float32. Integer dtypes are converted too (they appear as buffers
 * such as `position_ids`), with an error when a value is not exactly representable.
 * @param entry the tensor's header entry
 * @param bytes exactly the tensor's `end - begin` bytes
 * @param description names the file in error messages
 * @param options `allowNonFinite: true` lets NaN and infinities through
 * @returns the decoded tensor
 * @throws {RangeError} when the tensor holds a NaN or an infinity and they are not allowed
 */
export function decodeSafetensorsTensor(
  entry: SafetensorsEntry,
  bytes: Uint8Array,
  description = "safetensors file",
  options: NonFiniteOption = {},
): RawTensor {
  if (bytes.length !== entry.end - entry.begin) {
    throw new RangeError(
      `Cannot read ${description}: tensor "${entry.name}" needs ${
        entry.end - entry.begin
      } bytes: received ${bytes.length}`,
    );
  }
  const data = decodeLittleEndian(entry.dtype, bytes, entry.name);
  checkFiniteWeights(data, entry.name, `Cannot read ${description}`, options);
  return { shape: [...entry.shape], data };
}

/**
 * Decodes little-endian values of a safetensors dtype to float32.
 * @param dtype a safetensors dtype such as "F32", "F16", "BF16" or "I64"
 * @param bytes the raw values
 * @param name names the tensor in error messages
 * @returns the values as float32
 */
export function decodeLittleEndian(dtype: string, bytes: Uint8Array, name: string): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case "F32": {
      if (LITTLE_ENDIAN_HOST) {
        // Reuse a buffer that holds exactly these bytes (a fresh read); otherwise copy, since a
        // view into a whole file would keep the file alive and may be misaligned.
        const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength &&
          bytes.buffer instanceof ArrayBuffer;
        return new Float32Array(whole ? bytes.buffer as ArrayBuffer : bytes.slice().buffer);
      }
      const out = new Float32Array(bytes.length / 4);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
      return out;
    }
    case "F16":
      return decodeFloat16(bytes);
    case "BF16":
      return decodeBfloat16(bytes);
    case "F64": {
      const out = new Float32Array(bytes.length / 8);
      for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(8 * i, true);
      return out;
    }
    case "I64":
    case "I32":
    case "I16":
    case "I8":
    case "U8":
    case "BOOL": {
      const size = DTYPE_BYTES[dtype]!;
      const out = new Float32Array(bytes.length / size);
      for (let i = 0; i < out.length; i++) {
        const v = dtype === "I64"
          ? Number(view.getBigInt64(8 * i, true))
          : dtype === "I32"
          ? view.getInt32(4 * i, true)
          : dtype === "I16"
          ? view.getInt16(2 * i, true)
          : dtype === "I8"
          ? view.getInt8(i)
          : view.getUint8(i);
        if (Math.abs(v) > 2 ** 24) {
          throw new RangeError(
            `Cannot decode tensor "${name}": ${dtype} value ${v} at index ${i} is not exactly ` +
              `representable as float32`,
          );
        }
        out[i] = v;
      }
      return out;
    }
    default:
      throw new TypeError(`Cannot decode tensor "${name}": unsupported dtype ${dtype}`);
  }
}

/**
 * Reads a whole safetensors file held in memory into a state dict of float32 tensors.
 *
 * @example
 * ```ts
 * import { readSafetensors, writeSafetensors } from "@dpr/dpr";
 * const bytes = writeSafetensors(new Map([["w", { shape: [2], data: new Float32Array([1, 2]) }]]));
 * const sd = readSafetensors(bytes);
 * console.assert(sd.get("w")?.data[1] === 2);
 * ```
 * @param bytes the file's bytes
 * @param options a description for errors and an optional name filter
 * @returns tensors by name, in the header's order of data
 */
export function readSafetensors(
  bytes: Uint8Array,
  options: ReadSafetensorsOptions = {},
): StateDict {
  const description = options.description ?? "safetensors file";
  const n = safetensorsHeaderLength(bytes, bytes.length, description);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), bytes.length, description);
  const result: StateDict = new Map();
  for (const entry of header.entries) {
    if (options.filter && !options.filter(entry.name)) continue;
    const start = bytes.byteOffset + entry.begin;
    if (options.share && entry.dtype === "F32" && LITTLE_ENDIAN_HOST && start % 4 === 0) {
      const count = (entry.end - entry.begin) / 4;
      const data = new Float32Array(bytes.buffer as ArrayBuffer, start, count);
      checkFiniteWeights(data, entry.name, `Cannot read ${description}`, options);
      result.set(entry.name, { shape: [...entry.shape], data });
      continue;
    }
    result.set(
      entry.name,
      decodeSafetensorsTensor(entry, bytes.subarray(entry.begin, entry.end), description, options),
    );
  }
  return result;
}

/**
 * Reads exactly `length` bytes at `offset` of an open file.
 * @param file an open file
 * @param offset where to start
 * @param length how many bytes
 * @returns the bytes
 */
export async function readAt(
  file: Deno.FsFile,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  const { bytes, filled } = await readUpTo(file, offset, length);
  if (filled < length) {
    throw new RangeError(
      `Cannot read ${length} bytes at offset ${offset}: the file ended after ${filled}`,
    );
  }
  return bytes;
}
