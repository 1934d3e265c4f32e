/**
 * Sharded safetensors checkpoints: `model.safetensors.index.json` names the shard file of each
 * tensor.
 * @module
 */
import type { NonFiniteOption } from "./finite_weights.ts";
import type { FileSource } from "./file_source.ts";
import { readJson } from "./file_source.ts";
import { readSafetensors, readSafetensorsFile } from "./safetensors.ts";
import type { StateDict } from "./state_dict.ts";

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
 * Reads a sharded safetensors checkpoint: the index names a shard file per tensor; each shard is
 * read in turn and must hold exactly the tensors the index assigns to it.
 * @param source the folder holding the index and the shards
 * @param indexName the index's file name
 * @param shardPath returns a shard's local path when it is on disk, so it is streamed tensor by
 *   tensor instead of read whole; `undefined` (the default) reads through `source.readFile`
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through
 * @returns all tensors by name, or `null` when the folder has no such index
 */
export async function readShardedSafetensors(
  source: FileSource,
  indexName: string = SAFETENSORS_INDEX_NAME,
  shardPath?: (file: string) => Promise<string | null | undefined>,
  nonFinite: NonFiniteOption = {},
): Promise<StateDict | null> {
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
  const result: StateDict = new Map();
  for (const [file, names] of byShard) {
    const options = {
      description: `${file} in ${source.description}`,
      filter: (name: string) => names.has(name),
      allowNonFinite: nonFinite.allowNonFinite,
    };
    const path = shardPath === undefined ? undefined : await shardPath(file);
    const bytes = typeof path === "string" || path === null ? null : await source.readFile(file);
    if (path === null || (path === undefined && bytes === null)) {
      throw new RangeError(`${where}: shard ${file} is missing (it holds ${names.size} tensors)`);
    }
    const shard = typeof path === "string"
      ? await readSafetensorsFile(path, options)
      : readSafetensors(bytes!, options);
    for (const name of names) {
      const tensor = shard.get(name);
      if (tensor === undefined) {
        throw new RangeError(`${where}: shard ${file} does not hold tensor "${name}"`);
      }
      result.set(name, tensor);
    }
  }
  return result;
}
