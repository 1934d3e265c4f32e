/**
 * `convertCheckpoint`: turns a checkpoint (Hugging Face folder, URL, hub id, or an original
 * facebookresearch/DPR checkpoint file) into a folder of TensorFlow.js artifacts: `model.json`
 * (the layers-model topology of our custom layers and a tfjs `weightsManifest`), 4 MiB weight
 * shards, `config.json` and the tokenizer files. Once this package's layers are registered
 * (importing any model module does it), `tf.loadLayersModel` loads the folder; `fromPretrained`
 * loads its weights straight into the layers (matching the bindings kept in `model.json` with the
 * model's own); `resolvePretrained` reads them back under PyTorch names through those bindings.
 *
 * The folder is built under a temporary name beside `outDir` and renamed into place at the end,
 * so a failed run leaves nothing behind.
 * @module
 */
import { isFile } from "../io/path_exists.ts";
import { openFileReader } from "../io/byte_reader.ts";
import {
  ARCHITECTURE_PREFIXES,
  type DprArchitectureName,
  isIgnoredKey,
} from "../io/checkpoint_keys.ts";
import {
  detectDprOriginalKind,
  inferDprConfig,
  readDprOriginalCheckpoint,
  selectEncoder,
} from "../io/dpr_original.ts";
import type { FileSource } from "../io/file_source.ts";
import type { LayersLayout, LayoutBinding } from "../io/layers_layout.ts";
import { toLayersWeights } from "../io/layers_layout.ts";
import { DPRConfig, WEIGHT_SIZE_KEYS, WeightSizeError } from "../models/config.ts";
import { describeLayout } from "./model_layout.ts";
import type { Progress } from "../io/progress.ts";
import { SILENT_PROGRESS } from "../io/progress.ts";
import { readConfigObject, readWeights, resolveSource } from "../io/resolve.ts";
import type { PretrainedOptions } from "../io/resolve.ts";
import type { RawTensor, StateDict } from "../io/state_dict.ts";
import { type EncodedTensor, writeSafetensors } from "../io/safetensors_write.ts";
import { quantizeRows } from "../backend/quantized/quantized_weight.ts";
import { isQuantizableKey } from "../models/hf_weight_map.ts";
import { DTYPE_METADATA_KEY, SCALE_SUFFIX } from "../models/quantized_checkpoint.ts";
import type { ManifestGroup, Quantization } from "../io/tfjs_artifacts.ts";
import { writeTfjsWeights } from "../io/tfjs_artifacts.ts";

/** Tokenizer files copied next to the weights when the source has them. */
export const TOKENIZER_FILES: readonly string[] = [
  "vocab.txt",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "added_tokens.json",
];

/** How a converted folder stores its weights. */
export type WeightLayout = "layers-model" | "pytorch";

/** The `model.json` a converted folder holds. */
export interface ConvertedModelJson {
  /**
   * "layers-model": tfjs layers-model artifacts (topology and our layers' weights);
   * "dpr-weights": only a weights manifest whose weights keep PyTorch names and layouts.
   */
  format: "layers-model" | "dpr-weights";
  /** Which library wrote it. */
  generatedBy: string;
  /** Which tool converted it. */
  convertedBy: string;
  /** The layers model's topology (layers-model format only). */
  modelTopology?: unknown;
  /** tfjs's weights manifest. */
  weightsManifest: ManifestGroup[];
  /** Extra facts for readers of this folder. */
  userDefinedMetadata: {
    /** Layout, architectures, quantization, and for layers models the checkpoint bindings. */
    dpr: {
      layout: WeightLayout;
      architectures: string[];
      quantization: Quantization | null;
      bindings?: LayoutBinding[];
    };
  };
}

/** Options of {@linkcode convertCheckpoint}. */
export interface ConvertOptions extends PretrainedOptions {
  /**
   * "int8": a Hugging Face layout folder whose `model.safetensors` holds every dense matrix as
   * int8 with one scale per output channel and the word table with one per row, loading as int8
   * by default; "float16" or affine "uint8": tfjs weight shards (loading as float32).
   */
  quantize?: Quantization | "int8";
  /** Replace `outDir` when it exists; default false (an error). */
  overwrite?: boolean;
  /** Receives bytes of weights written. */
  weightsProgress?: Progress;
  /**
   * "layers-model" (default): tfjs layers-model artifacts that `tf.loadLayersModel` reads;
   * "pytorch": only the checkpoint's tensors under their PyTorch names (no model needed).
   */
  layout?: WeightLayout;
  /**
   * Where to copy tokenizer files from instead of the checkpoint's own folder (original DPR
   * checkpoints carry none: point this at a bert-base-uncased tokenizer folder).
   */
  tokenizerFrom?: string | FileSource;
}

/** What {@linkcode convertCheckpoint} wrote. */
export interface ConvertResult {
  /** The model folders written: `outDir`, or `outDir/question_encoder` and `outDir/ctx_encoder`. */
  folders: string[];
  /** Number of weights written, over all folders. */
  tensors: number;
}

/**
 * Replacing `out` must not delete what is being converted: the source (a folder or a file) or
 * the tokenizer source may not be `out` or lie inside it.
 */
async function refuseReplacingSource(
  source: string,
  out: string,
  options: ConvertOptions,
): Promise<void> {
  const real = async (path: string): Promise<string | null> => {
    try {
      return await Deno.realPath(path);
    } catch {
      return null; // a URL or a hub id: nothing local to lose
    }
  };
  const outReal = await real(out);
  if (outReal === null) return;
  for (const candidate of [source, options.tokenizerFrom]) {
    if (typeof candidate !== "string") continue;
    const inReal = await real(candidate);
    if (inReal !== null && (inReal === outReal || inReal.startsWith(`${outReal}/`))) {
      throw new RangeError(
        `Cannot convert ${candidate} into ${out}: replacing ${out} would delete the files being ` +
          `converted; choose another output folder`,
      );
    }
  }
}

/**
 * Whether `bytes` can be allocated now: an explicit probe, one `ArrayBuffer` the size of every
 * weight together (zero pages, untouched and dropped at once: no memory is used).
 */
function canAllocate(bytes: number): boolean {
  try {
    new ArrayBuffer(bytes);
    return true;
  } catch (error) {
    if (error instanceof RangeError) return false;
    throw error;
  }
}

/**
 * `describeLayout`, refusing first, with a clear error, a config whose weights could not be
 * allocated: one weight larger than a typed array can hold, or all of them more than the memory
 * can.
 */
function layoutOrSizeError(config: Record<string, unknown>, where: string): LayersLayout {
  const sizeError = (): RangeError => {
    const sizes = WEIGHT_SIZE_KEYS.map((k) => `${k} ${config[k]}`).join(", ");
    return new RangeError(
      `Cannot convert ${where}: config.json's sizes (${sizes}) need more memory than can be ` +
        `allocated; is config.json corrupt?`,
    );
  };
  let dprConfig: DPRConfig;
  try {
    dprConfig = DPRConfig.fromJSON(config);
  } catch (error) {
    throw error instanceof WeightSizeError ? sizeError() : error;
  }
  if (!canAllocate(4 * dprConfig.weightElements)) throw sizeError();
  return describeLayout(config);
}

/**
 * Checks that a state dict's names fit the architecture named by `config.json` (its prefix in
 * `ARCHITECTURE_PREFIXES`; see `checkArchitectures` for why), and drops ignored keys.
 * @param config the model's config
 * @param stateDict its weights
 * @param where names the checkpoint in errors
 * @returns the weights to write
 */
export function checkArchitecture(
  config: Record<string, unknown>,
  stateDict: StateDict,
  where: string,
): StateDict {
  const architectures = config.architectures;
  const name = Array.isArray(architectures) ? architectures[0] : undefined;
  const prefix = typeof name === "string" && Object.hasOwn(ARCHITECTURE_PREFIXES, name)
    ? ARCHITECTURE_PREFIXES[name as DprArchitectureName]
    : undefined;
  if (prefix === undefined) {
    throw new TypeError(
      `Cannot convert ${where}: config.json's architectures must name one of ${
        Object.keys(ARCHITECTURE_PREFIXES).join(", ")
      }: received ${JSON.stringify(architectures)}`,
    );
  }
  const kept: StateDict = new Map();
  const foreign: string[] = [];
  for (const [key, tensor] of stateDict) {
    if (isIgnoredKey(key)) continue; // buffers and pooler weights are not written
    if (!key.startsWith(prefix)) foreign.push(key);
    kept.set(key, tensor);
  }
  if (foreign.length > 0 || kept.size === 0) {
    throw new TypeError(
      `Cannot convert ${where}: config.json says ${name}, whose weights start with "${prefix}", ` +
        `but the checkpoint holds ${
          kept.size === 0 ? "no weights" : foreign.slice(0, 5).join(", ")
        }${foreign.length > 5 ? ` and ${foreign.length - 5} more` : ""}`,
    );
  }
  return kept;
}

/** One model folder to write. */
interface Job {
  sub: string;
  config: Record<string, unknown>;
  sd: StateDict;
  layout: LayersLayout | null;
}

async function writeModelFolder(
  dir: string,
  job: Job,
  tokenizer: FileSource | null,
  options: ConvertOptions,
): Promise<number> {
  const { config, sd: stateDict, layout } = job;
  await Deno.mkdir(dir, { recursive: true });
  if (options.quantize === "int8") {
    await writeInt8Safetensors(`${dir}/model.safetensors`, stateDict);
    await writeConfigAndTokenizer(dir, config, tokenizer);
    return stateDict.size;
  }
  const architectures = (config.architectures as string[] | undefined) ?? [];
  const weights = layout === null
    ? stateDict
    : toLayersWeights(stateDict, layout, architectures[0] ?? "the model");
  const manifest = await writeTfjsWeights(dir, weights, {
    quantize: options.quantize as Quantization | undefined,
    progress: options.weightsProgress ?? SILENT_PROGRESS,
  });
  const quantization = (options.quantize ?? null) as Quantization | null;
  const modelJson: ConvertedModelJson = layout === null
    ? {
      format: "dpr-weights",
      generatedBy: "@dpr/dpr",
      convertedBy: "@dpr/dpr convert",
      weightsManifest: manifest,
      userDefinedMetadata: { dpr: { layout: "pytorch", architectures, quantization } },
    }
    : {
      format: "layers-model",
      generatedBy: "@dpr/dpr",
      convertedBy: "@dpr/dpr convert",
      modelTopology: layout.topology,
      weightsManifest: manifest,
      userDefinedMetadata: {
        dpr: { layout: "layers-model", architectures, quantization, bindings: layout.bindings },
      },
    };
  await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(modelJson, null, 1));
  await writeConfigAndTokenizer(dir, config, tokenizer);
  return manifest.reduce((n, g) => n + g.weights.length, 0);
}

async function writeConfigAndTokenizer(
  dir: string,
  config: Record<string, unknown>,
  tokenizer: FileSource | null,
): Promise<void> {
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config, null, 2) + "\n");
  if (tokenizer !== null) {
    for (const name of TOKENIZER_FILES) {
      const bytes = await tokenizer.readFile(name);
      if (bytes !== null) await Deno.writeFile(`${dir}/${name}`, bytes);
    }
  }
}

/**
 * Writes a state dict as `model.safetensors` with its dense matrices and word table int8 (PyTorch
 * layout: one scale per row, which is per output channel), recorded in the metadata so that the
 * folder loads as int8.
 */
async function writeInt8Safetensors(path: string, stateDict: StateDict): Promise<void> {
  const tensors = new Map<string, RawTensor | EncodedTensor>();
  for (const [key, tensor] of stateDict) {
    if (!isQuantizableKey(key) || tensor.shape.length !== 2) {
      tensors.set(key, tensor);
      continue;
    }
    const [rows, cols] = tensor.shape as [number, number];
    const q = quantizeRows(tensor.data, [rows, cols], "int8");
    tensors.set(key, { shape: [rows, cols], data: q.data as Int8Array, dtype: "I8" });
    tensors.set(`${key}${SCALE_SUFFIX}`, { shape: [rows], data: q.scales! });
  }
  const metadata = { format: "pt", [DTYPE_METADATA_KEY]: "int8" };
  await Deno.writeFile(path, writeSafetensors(tensors, { metadata }));
}

/**
 * Converts a checkpoint to TensorFlow.js weight artifacts in `outDir`.
 *
 * `source` is anything {@linkcode resolvePretrained} accepts, or the path of an original
 * facebookresearch/DPR checkpoint file: a bi-encoder becomes `outDir/question_encoder` and
 * `outDir/ctx_encoder`, a reader becomes `outDir` (configs are inferred from the weights' shapes
 * with BERT's defaults).
 *
 * @param source folder, URL, hub id, FileSource or original DPR checkpoint file
 * @param outDir the folder to create
 * @param options quantization, overwrite, progress, hub options
 * @returns the folders written
 */
export async function convertCheckpoint(
  source: string | FileSource,
  outDir: string,
  options: ConvertOptions = {},
): Promise<ConvertResult> {
  if (options.quantize !== undefined && !["int8", "float16", "uint8"].includes(options.quantize)) {
    throw new RangeError(
      `Cannot convert: quantize must be "int8", "float16" or "uint8": received ${
        JSON.stringify(options.quantize)
      }`,
    );
  }
  const out = outDir.replace(/\/+$/, "");
  let outExists = false;
  try {
    await Deno.stat(out);
    outExists = true;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (outExists && !options.overwrite) {
    throw new RangeError(
      `Cannot convert into ${out}: it already exists (pass overwrite, or --overwrite on the command line)`,
    );
  }
  if (outExists && typeof source === "string") {
    await refuseReplacingSource(source, out, options);
  }
  const wantLayout = (options.layout ?? "layers-model") === "layers-model";
  // Read everything before touching the disk, so a bad checkpoint leaves nothing.
  const jobs: Job[] = [];
  let tokenizer: FileSource | null = null;
  if (typeof source === "string" && await isFile(source)) {
    const reader = await openFileReader(source);
    let original;
    try {
      original = await readDprOriginalCheckpoint(reader, source);
    } finally {
      reader.close();
    }
    if (original.kind === "biencoder") {
      for (
        const [which, arch] of [["question", "DPRQuestionEncoder"], [
          "ctx",
          "DPRContextEncoder",
        ]] as const
      ) {
        const sd = selectEncoder(original.stateDict, which);
        const config = inferDprConfig(sd, arch);
        jobs.push({
          sub: `${which}_encoder`,
          config,
          sd: checkArchitecture(config, sd, source),
          layout: wantLayout ? describeLayout(config) : null,
        });
      }
    } else {
      const config = inferDprConfig(original.stateDict, "DPRReader");
      jobs.push({
        sub: "",
        config,
        sd: checkArchitecture(config, original.stateDict, source),
        layout: wantLayout ? describeLayout(config) : null,
      });
    }
  } else {
    const files = await resolveSource(source, options);
    const where = files.description;
    const cfg = await readConfigObject(files, `Cannot convert ${where}`);
    // The layout is built (and its zero-weight model freed) before the checkpoint is read.
    const layout = wantLayout ? layoutOrSizeError(cfg, where) : null;
    const { stateDict } = await readWeights(files);
    if (detectDprOriginalKind(stateDict.keys()) !== null) {
      throw new TypeError(
        `Cannot convert ${where}: its weights use the original DPR names; pass the checkpoint ` +
          `file itself`,
      );
    }
    jobs.push({ sub: "", config: cfg, sd: checkArchitecture(cfg, stateDict, where), layout });
    tokenizer = files;
  }
  if (options.tokenizerFrom !== undefined) {
    tokenizer = await resolveSource(options.tokenizerFrom, options);
    if (await tokenizer.readFile("vocab.txt") === null) {
      throw new RangeError(`Cannot copy a tokenizer from ${tokenizer.description}: no vocab.txt`);
    }
  }
  const slash = out.lastIndexOf("/");
  const parent = slash >= 0 ? out.slice(0, slash) || "/" : ".";
  const base = slash >= 0 ? out.slice(slash + 1) : out;
  await Deno.mkdir(parent, { recursive: true });
  const temp = await Deno.makeTempDir({ dir: parent, prefix: `.${base}.converting-` });
  try {
    // makeTempDir creates the folder private (0700); a converted model is an ordinary folder.
    if (Deno.build.os !== "windows") await Deno.chmod(temp, 0o755);
    let tensors = 0;
    for (const job of jobs) {
      tensors += await writeModelFolder(
        job.sub ? `${temp}/${job.sub}` : temp,
        job,
        tokenizer,
        options,
      );
    }
    if (outExists) {
      const old = `${temp}.old`;
      await Deno.rename(out, old);
      await Deno.rename(temp, out);
      await Deno.remove(old, { recursive: true });
    } else {
      await Deno.rename(temp, out);
    }
    return { folders: jobs.map((j) => (j.sub ? `${out}/${j.sub}` : out)), tensors };
  } catch (error) {
    await Deno.remove(temp, { recursive: true }).catch(() => {});
    throw error;
  }
}
