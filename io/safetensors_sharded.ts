/**
 * Sharded safetensors checkpoints: `model.safetensors.index.json` names the shard file of each
 * tensor.
 * @module
 */
import type { ByteReader } from "./byte_reader.ts";
import type { NonFiniteOption } from "./finite_weights.ts";
import { type FileSource, openSourceFile, readJson } from "./file_source.ts";
import { type RangedTensor, rangedTensorSource } from "./ranged_source.ts";
import { readSafetensorsLayout } from "./safetensors_source.ts";
import type { StateDict } from "./state_dict.ts";
import { collectTensors, type TensorSource } from "./tensor_source.ts";

/** The JSON index of a sharded safetensors checkpoint (`model.safetensors.index.json`). */
export interface SafetensorsIndex {
  /** Optional metadata such as `total_size`. */
  metadata?: Record<string, unknown>;
  /** Which shard file holds each tensor. */
  weight_map: Record<string, string>;
}

/** The default name of a sharded checkpoint's index. */
export const SAFETENSORS_INDEX_NAME = "model.safetensors.index.json";

/**
 * Opens a sharded safetensors checkpoint as one tensor source: the index names a shard file per
 * tensor; every shard's header is read and checked now (a missing or truncated shard, or one
 * that lacks a tensor the index gives it, is refused before any tensor is read), each tensor's
 * bytes when asked for, by range.
 * @param source the folder holding the index and the shards
 * @param indexName the index's file name
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through
 * @returns the tensors (close the source when done), or `null` when the folder has no index
 */
export async function openShardedSafetensors(
  source: FileSource,
  indexName: string = SAFETENSORS_INDEX_NAME,
  nonFinite: NonFiniteOption = {},
): Promise<TensorSource | null> {
  const index = await readJson(source, indexName);
  if (index === null) return null;
  const where = `Cannot read ${indexName} in ${source.description}`;
  const map = (index as { weight_map?: unknown }).weight_map;
  if (typeof map !== "object" || map === null || Array.isArray(map)) {
    throw new TypeError(`${where}: weight_map must be an object of tensor name to shard file`);
  }
  const byShard = new Map<string, Set<string>>();
  for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
    if (typeof file !== "string" || file.includes("/") || file.includes("\\")) {
      throw new TypeError(
        `${where}: tensor "${name}" must map to a file name in the same folder: received ${
          JSON.stringify(file)
        }`,
      );
    }
    let names = byShard.get(file);
    if (names === undefined) byShard.set(file, names = new Set());
    names.add(name);
  }
  const readers: ByteReader[] = [];
  const closeAll = (): void => readers.forEach((reader) => reader.close());
  try {
    const tensors: RangedTensor[] = [];
    const metadata: Record<string, string> = {};
    for (const [file, names] of byShard) {
      const reader = await openSourceFile(source, file);
      if (reader === null) {
        throw new RangeError(`${where}: shard ${file} is missing (it holds ${names.size} tensors)`);
      }
      readers.push(reader);
      const shard = await readSafetensorsLayout(reader);
      for (const [key, value] of Object.entries(shard.metadata)) metadata[key] ??= value;
      const byName = new Map(shard.tensors.map((t) => [t.name, t] as const));
      for (const name of names) {
        const tensor = byName.get(name);
        if (tensor === undefined) {
          throw new RangeError(`${where}: shard ${file} does not hold tensor "${name}"`);
        }
        tensors.push(tensor);
      }
    }
    return rangedTensorSource(`${indexName} in ${source.description}`, tensors, {
      metadata,
      allowNonFinite: nonFinite.allowNonFinite,
      close: closeAll,
    });
  } catch (error) {
    closeAll();
    throw error;
  }
}

/**
 * Reads a sharded safetensors checkpoint whole (see {@linkcode openShardedSafetensors}), one
 * tensor at a time.
 * @param source the folder holding the index and the shards
 * @param indexName the index's file name
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through
 * @returns all tensors by name, or `null` when the folder has no such index
 */
export async function readShardedSafetensors(
  source: FileSource,
  indexName: string = SAFETENSORS_INDEX_NAME,
  nonFinite: NonFiniteOption = {},
): Promise<StateDict | null> {
  const tensors = await openShardedSafetensors(source, indexName, nonFinite);
  if (tensors === null) return null;
  try {
    return await collectTensors(tensors);
  } finally {
    tensors.close();
  }
}
