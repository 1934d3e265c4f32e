/**
 * A converted folder's tfjs weights (`model.json` and its shards) as a {@linkcode TensorSource}:
 * the manifest is checked against the shards' sizes when opened, each weight is read when asked
 * for, by range across the shards it spans (a shard is never held whole). A layers-model folder
 * keeps the layers' own names and layouts, and the source carries `model.json`'s bindings so a
 * loader can write them straight into the layers.
 * @module
 */
import type { ByteReader } from "./byte_reader.ts";
import { concatReader } from "./concat_reader.ts";
import type { NonFiniteOption } from "./finite_weights.ts";
import { type FileSource, openSourceFile, readJson } from "./file_source.ts";
import type { LayoutBinding } from "./layers_layout.ts";
import { type RangedTensor, rangedTensorSource } from "./ranged_source.ts";
import type { TensorSource } from "./tensor_source.ts";
import { storedBytes, validateManifest } from "./tfjs_artifacts.ts";

/** The largest weight one typed array holds here. */
const MAX_WEIGHT_BYTES = 2 ** 31 - 1;

/**
 * Opens a converted folder's weights, or returns `null` when it has no `model.json`.
 * @param source the folder
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through (refused by default)
 * @returns the weights: PyTorch names for a "dpr-weights" folder, the layers' own names with
 *   `layersBindings` for a layers model
 * @throws TypeError / RangeError for a malformed manifest, a missing or truncated shard, or
 *   shards longer than the manifest says
 */
export async function openTfjsWeights(
  source: FileSource,
  nonFinite: NonFiniteOption = {},
): Promise<TensorSource | null> {
  const modelJson = await readJson(source, "model.json");
  if (modelJson === null) return null;
  const json = modelJson as {
    format?: unknown;
    weightsManifest?: unknown;
    userDefinedMetadata?: { dpr?: { bindings?: unknown } };
  };
  if (json.weightsManifest === undefined) {
    throw new TypeError(`Cannot read model.json in ${source.description}: no weightsManifest`);
  }
  const where = `Cannot read the weights of ${source.description}`;
  const groups = validateManifest(json.weightsManifest, where);
  let layersBindings: LayoutBinding[] | undefined;
  if (json.format === "layers-model") {
    const bindings = json.userDefinedMetadata?.dpr?.bindings;
    if (!Array.isArray(bindings)) {
      throw new TypeError(
        `Cannot read model.json in ${source.description}: a layers model without the ` +
          `userDefinedMetadata.dpr.bindings this converter writes; its weights cannot be named`,
      );
    }
    layersBindings = bindings as LayoutBinding[];
  }
  const readers: ByteReader[] = [];
  const closeAll = (): void => readers.forEach((reader) => reader.close());
  try {
    const tensors: RangedTensor[] = [];
    for (const group of groups) {
      const shards: ByteReader[] = [];
      for (const path of group.paths) {
        const shard = await openSourceFile(source, path);
        if (shard === null) throw new RangeError(`${where}: shard ${path} is missing`);
        shards.push(shard);
        readers.push(shard);
      }
      const reader = concatReader(shards, `the weights of ${source.description}`);
      let offset = 0;
      for (const entry of group.weights) {
        const count = entry.shape.reduce((a, b) => a * b, 1);
        const q = entry.quantization;
        const byteLength = storedBytes(count, q?.dtype);
        if (byteLength > MAX_WEIGHT_BYTES) {
          throw new RangeError(
            `${where}: weight "${entry.name}" of shape [${entry.shape}] needs ${byteLength} ` +
              `bytes, more than one array can hold`,
          );
        }
        if (offset + byteLength > reader.size) {
          throw new RangeError(
            `${where}: the shards end before weight "${entry.name}" is complete; a shard is ` +
              `truncated`,
          );
        }
        const tensor: RangedTensor = {
          name: entry.name,
          shape: [...entry.shape],
          dtype: q?.dtype === "float16" ? "F16" : q?.dtype === "uint8" ? "U8" : "F32",
          reader,
          begin: offset,
          byteLength,
        };
        if (q?.dtype === "uint8") {
          const scale = q.scale!, min = q.min!;
          tensor.decode = (bytes) => {
            const data = new Float32Array(bytes.length);
            for (let i = 0; i < bytes.length; i++) data[i] = bytes[i]! * scale + min;
            return data;
          };
        }
        tensors.push(tensor);
        offset += byteLength;
      }
      if (offset !== reader.size) {
        throw new RangeError(
          `${where}: the shards hold ${
            reader.size - offset
          } bytes more than the manifest describes`,
        );
      }
    }
    return rangedTensorSource(`the weights of ${source.description}`, tensors, {
      allowNonFinite: nonFinite.allowNonFinite,
      close: closeAll,
      ...(layersBindings === undefined ? {} : { layersBindings }),
    });
  } catch (error) {
    closeAll();
    throw error;
  }
}
