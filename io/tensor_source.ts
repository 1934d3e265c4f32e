/**
 * A checkpoint read one tensor at a time: every tensor's name and shape up front, values on
 * request. Loaders take weights from it into their final storage one by one, so a model never
 * exists twice in memory; a local `model.safetensors` is read by byte ranges and never held whole.
 * @module
 */
import { checkFiniteWeights, type NonFiniteOption } from "./finite_weights.ts";
import {
  decodeLittleEndian,
  decodeSafetensorsTensor,
  parseSafetensorsHeader,
  readAt,
  type SafetensorsEntry,
  safetensorsHeaderLength,
} from "./safetensors.ts";
import type { StateDict } from "./state_dict.ts";

/** A checkpoint's tensors (PyTorch names and layouts), read on request. */
export interface TensorSource {
  /** Names the checkpoint in error messages. */
  readonly description: string;
  /** Every tensor's name and shape, in the file's order. */
  readonly shapes: ReadonlyMap<string, readonly number[]>;
  /** Each tensor's stored dtype (safetensors names: "F32", "F16", "I8", ...), where known. */
  readonly dtypes?: ReadonlyMap<string, string>;
  /** The file's string metadata, where it has any. */
  readonly metadata?: Readonly<Record<string, string>>;
  /** One tensor's stored bytes, undecoded (little-endian), where the format keeps them. */
  readRaw?(name: string): Promise<Uint8Array>;
  /**
   * One tensor's values as float32 (a fresh array the caller may keep or modify).
   * @throws RangeError for a name the checkpoint lacks
   */
  read(name: string): Promise<Float32Array>;
  /**
   * Rows `start..end` of a tensor (its first axis), as float32, where the format allows reading
   * part of a tensor (a large table can then be quantized a block of rows at a time). The array
   * may be a view of a buffer the next `readRows` call reuses: use it before reading again.
   */
  readRows?(name: string, start: number, end: number): Promise<Float32Array>;
  /** Releases the file, if any. */
  close(): void;
}

/**
 * A tensor source over a state dict already in memory (formats read whole).
 * @param stateDict the tensors
 * @param description names it in error messages
 * @returns the source; reading hands out the state dict's own arrays
 */
export function stateDictSource(stateDict: StateDict, description: string): TensorSource {
  const shapes = new Map([...stateDict].map(([name, t]) => [name, t.shape] as const));
  return {
    description,
    shapes,
    read(name: string): Promise<Float32Array> {
      const tensor = stateDict.get(name);
      if (tensor === undefined) {
        return Promise.reject(new RangeError(`Cannot read ${name}: ${description} lacks it`));
      }
      return Promise.resolve(tensor.data);
    },
    close(): void {},
  };
}

/**
 * Opens a `model.safetensors` on disk: reads and validates its header now, each tensor's bytes
 * when asked (by offset; the file is never held whole).
 * @param path the file
 * @param description names it in error messages
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through (refused by default)
 * @returns the source; close it when done
 * @throws RangeError / SyntaxError for a truncated or malformed file
 */
export async function safetensorsFileSource(
  path: string,
  description: string = path,
  nonFinite: NonFiniteOption = {},
): Promise<TensorSource> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const n = safetensorsHeaderLength(await readAt(file, 0, Math.min(8, size)), size, description);
    const header = parseSafetensorsHeader(await readAt(file, 8, n), size, description);
    const entries = new Map<string, SafetensorsEntry>(header.entries.map((e) => [e.name, e]));
    let scratch = new Uint8Array(0); // readRows' buffer, grown to the largest block read
    return {
      description,
      shapes: new Map(header.entries.map((e) => [e.name, e.shape] as const)),
      dtypes: new Map(header.entries.map((e) => [e.name, e.dtype] as const)),
      metadata: header.metadata,
      async readRaw(name: string): Promise<Uint8Array> {
        const entry = entries.get(name);
        if (entry === undefined) {
          throw new RangeError(`Cannot read ${name}: ${description} lacks it`);
        }
        return await readAt(file, entry.begin, entry.end - entry.begin);
      },
      async read(name: string): Promise<Float32Array> {
        const entry = entries.get(name);
        if (entry === undefined) {
          throw new RangeError(`Cannot read ${name}: ${description} lacks it`);
        }
        const bytes = await readAt(file, entry.begin, entry.end - entry.begin);
        return decodeSafetensorsTensor(entry, bytes, description, nonFinite).data;
      },
      async readRows(name: string, start: number, end: number): Promise<Float32Array> {
        const entry = entries.get(name);
        if (entry === undefined) {
          throw new RangeError(`Cannot read ${name}: ${description} lacks it`);
        }
        const rows = entry.shape[0] ?? 1;
        const rowBytes = rows === 0 ? 0 : (entry.end - entry.begin) / rows;
        if (!(Number.isInteger(start) && start >= 0 && start <= end && end <= rows)) {
          throw new RangeError(`Cannot read rows ${start}..${end} of ${name}: it has ${rows}`);
        }
        const length = (end - start) * rowBytes;
        if (scratch.length < length) scratch = new Uint8Array(length);
        const bytes = scratch.subarray(0, length);
        await readInto(file, entry.begin + start * rowBytes, bytes, description);
        // float32 on a little-endian host: a view of the reused buffer, no copy and no garbage
        const values = entry.dtype === "F32" && LITTLE_ENDIAN_HOST
          ? new Float32Array(bytes.buffer, 0, length / 4)
          : decodeLittleEndian(entry.dtype, bytes, name);
        const rowElements = entry.shape.slice(1).reduce((a, b) => a * b, 1);
        checkFiniteWeights(
          values,
          name,
          `Cannot read ${description}`,
          nonFinite,
          start * rowElements,
        );
        return values;
      },
      close(): void {
        file.close();
      },
    };
  } catch (error) {
    file.close();
    throw error;
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Fills `bytes` from `offset` of `file`; a file that ends first is a RangeError. */
async function readInto(
  file: Deno.FsFile,
  offset: number,
  bytes: Uint8Array,
  description: string,
): Promise<void> {
  await file.seek(offset, Deno.SeekMode.Start);
  let filled = 0;
  while (filled < bytes.length) {
    const n = await file.read(bytes.subarray(filled));
    if (n === null) {
      throw new RangeError(
        `Cannot read ${description}: the file ended at ${offset + filled} bytes, before ` +
          `${offset + bytes.length}; it is truncated`,
      );
    }
    filled += n;
  }
}
