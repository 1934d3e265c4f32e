/**
 * A checkpoint read one tensor at a time: every tensor's name and shape up front, values on
 * request. Loaders take weights from it into their final storage one by one, so a model never
 * exists twice in memory; a local `model.safetensors` is read by byte ranges and never held whole.
 * @module
 */
import {
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
  /**
   * One tensor's values as float32 (a fresh array the caller may keep or modify).
   * @throws RangeError for a name the checkpoint lacks
   */
  read(name: string): Promise<Float32Array>;
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
 * @returns the source; close it when done
 * @throws RangeError / SyntaxError for a truncated or malformed file
 */
export async function safetensorsFileSource(
  path: string,
  description: string = path,
): Promise<TensorSource> {
  const file = await Deno.open(path, { read: true });
  try {
    const size = (await file.stat()).size;
    const n = safetensorsHeaderLength(await readAt(file, 0, Math.min(8, size)), size, description);
    const header = parseSafetensorsHeader(await readAt(file, 8, n), size, description);
    const entries = new Map<string, SafetensorsEntry>(header.entries.map((e) => [e.name, e]));
    return {
      description,
      shapes: new Map(header.entries.map((e) => [e.name, e.shape] as const)),
      async read(name: string): Promise<Float32Array> {
        const entry = entries.get(name);
        if (entry === undefined) {
          throw new RangeError(`Cannot read ${name}: ${description} lacks it`);
        }
        const bytes = await readAt(file, entry.begin, entry.end - entry.begin);
        return decodeSafetensorsTensor(entry, bytes, description).data;
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
