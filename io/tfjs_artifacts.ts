/**
 * TensorFlow.js weight artifacts: a `weightsManifest` (tfjs's format: groups of shard files, each
 * weight's `name`, `shape`, `dtype` and optional `quantization`) and the binary shards. Writing
 * streams shard by shard; `tfjs_source.ts` reads them back a weight at a time.
 *
 * A layers-model folder holds the layers' own weights (their names and layouts, with bindings to
 * the checkpoint's keys in `model.json`); a "dpr-weights" folder keeps the checkpoint's PyTorch
 * names and layouts.
 * @module
 */
import { encodeFloat16 } from "./float16.ts";
import type { Progress } from "./progress.ts";
import { SILENT_PROGRESS } from "./progress.ts";
import type { RawTensor, StateDict } from "./state_dict.ts";

/** The quantizations a converted folder may use. */
export type Quantization = "float16" | "uint8";

/** How one weight is quantized, as tfjs writes it. */
export interface ManifestQuantization {
  /** Stored dtype: "float16" or "uint8". */
  dtype: Quantization;
  /** For uint8: value = q * scale + min. */
  scale?: number;
  /** For uint8: value = q * scale + min. */
  min?: number;
}

/** One weight of a tfjs weights manifest. */
export interface ManifestEntry {
  /** The weight's name (here: its PyTorch state-dict name). */
  name: string;
  /** Dimensions. */
  shape: number[];
  /** The dtype after dequantization; always "float32" here. */
  dtype: "float32";
  /** Present when the stored bytes are quantized. */
  quantization?: ManifestQuantization;
}

/** One group of a tfjs weights manifest: its weights are the concatenation of its shard files. */
export interface ManifestGroup {
  /** Shard file names, in order. */
  paths: string[];
  /** Weights in storage order. */
  weights: ManifestEntry[];
}

/** tfjs's default shard size: 4 MiB. */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

/** One weight to write, produced on demand so only one is materialized at a time. */
export interface WeightSource {
  /** The manifest name. */
  name: string;
  /** Dimensions. */
  shape: number[];
  /** Returns the values, row-major. */
  read(): Float32Array;
}

/** Options of {@linkcode writeTfjsWeights}. */
export interface WriteWeightsOptions {
  /** Store weights as float16 or affine uint8 instead of float32. */
  quantize?: Quantization;
  /** Bytes per shard file; default 4 MiB. */
  shardBytes?: number;
  /** Receives bytes written of the total. */
  progress?: Progress;
}

/**
 * Bytes a weight of `count` values takes in a shard.
 * @param count the weight's element count
 * @param quantize how it is stored
 * @returns its stored size
 */
export function storedBytes(count: number, quantize?: Quantization): number {
  return quantize === "float16" ? count * 2 : quantize === "uint8" ? count : count * 4;
}

/**
 * Quantizes values to uint8 the way tfjs's converter does: the range [min, max] is widened to
 * include 0 and nudged so that 0 is exactly representable.
 * @param values the float32 values
 * @returns the codes and their scale and min (value = q * scale + min)
 */
export function quantizeUint8(values: Float32Array): { q: Uint8Array; scale: number; min: number } {
  let lo = 0;
  let hi = 0;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  let scale = (hi - lo) / 255;
  let min = lo;
  if (scale === 0) {
    scale = 1;
  } else {
    const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
    min = -zeroPoint * scale;
  }
  scale = Math.fround(scale);
  min = Math.fround(min);
  const q = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    q[i] = Math.min(255, Math.max(0, Math.round((values[i]! - min) / scale)));
  }
  return { q, scale, min };
}

/**
 * Lists a state dict's tensors as weight sources.
 * @param stateDict the tensors
 * @returns one source per tensor, in order
 */
export function stateDictSources(stateDict: StateDict): WeightSource[] {
  return [...stateDict].map(([name, tensor]) => ({
    name,
    shape: tensor.shape,
    read: () => tensor.data,
  }));
}

function encodeWeight(
  name: string,
  tensor: RawTensor,
  quantize?: Quantization,
): { entry: ManifestEntry; bytes: Uint8Array } {
  const entry: ManifestEntry = { name, shape: [...tensor.shape], dtype: "float32" };
  if (quantize === "float16") {
    entry.quantization = { dtype: "float16" };
    return { entry, bytes: encodeFloat16(tensor.data) };
  }
  if (quantize === "uint8") {
    const { q, scale, min } = quantizeUint8(tensor.data);
    entry.quantization = { dtype: "uint8", scale, min };
    return { entry, bytes: q };
  }
  const data = tensor.data;
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { entry, bytes };
}

/**
 * Writes weights as tfjs shard files `group1-shard{i}of{N}.bin` into `dir` (which must exist).
 * Only one shard's bytes are held at a time.
 * @param dir the output folder
 * @param weights the weights, written in this order (a state dict, or sources read one by one)
 * @param options quantization, shard size, progress
 * @returns the manifest (one group)
 */
export async function writeTfjsWeights(
  dir: string,
  weights: StateDict | readonly WeightSource[],
  options: WriteWeightsOptions = {},
): Promise<ManifestGroup[]> {
  const sources = weights instanceof Map ? stateDictSources(weights) : weights;
  const shardBytes = options.shardBytes ?? DEFAULT_SHARD_BYTES;
  const progress = options.progress ?? SILENT_PROGRESS;
  let total = 0;
  for (const source of sources) {
    total += storedBytes(source.shape.reduce((a, b) => a * b, 1), options.quantize);
  }
  const shardCount = Math.max(1, Math.ceil(total / shardBytes));
  const paths = Array.from(
    { length: shardCount },
    (_, i) => `group1-shard${i + 1}of${shardCount}.bin`,
  );
  const entries: ManifestEntry[] = [];
  let shard = new Uint8Array(Math.min(shardBytes, total));
  let fill = 0;
  let shardIndex = 0;
  let written = 0;
  const flush = async (): Promise<void> => {
    await Deno.writeFile(`${dir}/${paths[shardIndex]}`, shard.subarray(0, fill));
    written += fill;
    progress.update(written, total);
    shardIndex++;
    fill = 0;
    shard = new Uint8Array(Math.min(shardBytes, total - written));
  };
  for (const source of sources) {
    const data = source.read();
    const count = source.shape.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new TypeError(
        `Cannot write weight "${source.name}": shape [${source.shape}] holds ${count} values: ` +
          `received ${data.length}`,
      );
    }
    const { entry, bytes } = encodeWeight(
      source.name,
      { shape: source.shape, data },
      options.quantize,
    );
    entries.push(entry);
    let p = 0;
    while (p < bytes.length) {
      const n = Math.min(bytes.length - p, shard.length - fill);
      shard.set(bytes.subarray(p, p + n), fill);
      fill += n;
      p += n;
      if (fill === shard.length) await flush();
    }
  }
  if (shardIndex < shardCount) await flush(); // an empty state dict still gets its one shard
  progress.finish();
  return [{ paths, weights: entries }];
}

/**
 * Checks a `weightsManifest`: groups of shard paths inside the folder, weights with a name, a
 * shape, dtype float32 and a quantization this reader knows.
 * @param manifest `model.json`'s `weightsManifest`
 * @param where the start of error messages
 * @returns the groups
 */
export function validateManifest(manifest: unknown, where: string): ManifestGroup[] {
  if (!Array.isArray(manifest)) throw new TypeError(`${where}: weightsManifest must be an array`);
  for (const group of manifest) {
    const g = group as Partial<ManifestGroup>;
    if (
      !Array.isArray(g.paths) || !g.paths.every((p) => typeof p === "string") ||
      !Array.isArray(g.weights)
    ) {
      throw new TypeError(`${where}: each weightsManifest group needs paths and weights arrays`);
    }
    for (const path of g.paths) {
      if (path.includes("..") || path.startsWith("/") || path.includes("\\")) {
        throw new RangeError(
          `${where}: shard path ${JSON.stringify(path)} must stay in the folder`,
        );
      }
    }
    for (const w of g.weights) {
      const e = w as Partial<ManifestEntry>;
      if (
        typeof e.name !== "string" || !Array.isArray(e.shape) ||
        !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)
      ) {
        throw new TypeError(`${where}: weight ${JSON.stringify(e.name)} needs a name and a shape`);
      }
      if (e.dtype !== "float32") {
        throw new TypeError(
          `${where}: weight "${e.name}" has dtype ${
            JSON.stringify(e.dtype)
          }; only float32 is supported`,
        );
      }
      const q = e.quantization;
      if (
        q !== undefined &&
        !(q.dtype === "float16" ||
          (q.dtype === "uint8" && typeof q.scale === "number" && typeof q.min === "number"))
      ) {
        throw new TypeError(
          `${where}: weight "${e.name}" has unsupported quantization ${JSON.stringify(q)}`,
        );
      }
    }
  }
  return manifest as ManifestGroup[];
}
