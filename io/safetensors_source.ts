/**
 * A safetensors file (or shard) as a {@linkcode TensorSource}: its header is read and checked
 * when opened, each tensor's bytes when asked for, by range (the file is never held whole).
 * @module
 */
import { type ByteReader, openFileReader } from "./byte_reader.ts";
import type { NonFiniteOption } from "./finite_weights.ts";
import { type RangedTensor, rangedTensorSource } from "./ranged_source.ts";
import {
  parseSafetensorsHeader,
  type ReadSafetensorsOptions,
  safetensorsHeaderLength,
} from "./safetensors.ts";
import type { StateDict } from "./state_dict.ts";
import type { TensorSource } from "./tensor_source.ts";

/** A safetensors file's tensors as byte ranges of its reader, and its metadata. */
export interface SafetensorsLayout {
  /** Every tensor, in the order of its data. */
  tensors: RangedTensor[];
  /** The header's `__metadata__`. */
  metadata: Record<string, string>;
}

/**
 * Reads and checks a safetensors header through a reader (a truncated or malformed file is
 * refused here, before any tensor is read).
 * @param reader the file (its description names it in errors)
 * @returns the tensors' ranges and the metadata
 * @throws RangeError / SyntaxError / TypeError for a truncated or malformed file
 */
export async function readSafetensorsLayout(reader: ByteReader): Promise<SafetensorsLayout> {
  const { description, size } = reader;
  const n = safetensorsHeaderLength(
    await reader.read(0, Math.min(8, size)),
    size,
    description,
  );
  const header = parseSafetensorsHeader(await reader.read(8, n), size, description);
  const tensors = header.entries.map((e): RangedTensor => ({
    name: e.name,
    shape: e.shape,
    dtype: e.dtype,
    reader,
    begin: e.begin,
    byteLength: e.end - e.begin,
  }));
  return { tensors, metadata: header.metadata };
}

/**
 * Opens a safetensors file held by a reader as a tensor source; closing the source closes the
 * reader (also when opening fails).
 * @param reader the file
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through (refused by default)
 * @returns the source
 */
export async function safetensorsSource(
  reader: ByteReader,
  nonFinite: NonFiniteOption = {},
): Promise<TensorSource> {
  try {
    const { tensors, metadata } = await readSafetensorsLayout(reader);
    return rangedTensorSource(reader.description, tensors, {
      metadata,
      allowNonFinite: nonFinite.allowNonFinite,
      close: () => reader.close(),
    });
  } catch (error) {
    reader.close();
    throw error;
  }
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
  return await safetensorsSource(await openFileReader(path, description), nonFinite);
}

/**
 * Reads a safetensors file from disk one tensor at a time, so memory stays near one copy of the
 * weights (the file itself is never held whole).
 * @param path the file's path
 * @param options a description for errors, an optional name filter, and `allowNonFinite`
 * @returns tensors by name
 */
export async function readSafetensorsFile(
  path: string,
  options: ReadSafetensorsOptions = {},
): Promise<StateDict> {
  const tensors = await safetensorsFileSource(path, options.description ?? path, options);
  try {
    const result: StateDict = new Map();
    for (const [name, shape] of tensors.shapes) {
      if (options.filter && !options.filter(name)) continue;
      result.set(name, { shape: [...shape], data: await tensors.read(name) });
    }
    return result;
  } finally {
    tensors.close();
  }
}
