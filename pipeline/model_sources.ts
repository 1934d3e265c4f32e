/**
 * Where the DPR models are loaded from: a local folder in Hugging Face layout (`config.json`,
 * `model.safetensors` or `pytorch_model.bin`, `vocab.txt`, `tokenizer_config.json`), an http(s)
 * URL of such a folder, a hub id, or a {@link FileSource}; `models` names a folder holding one
 * subfolder per model:
 *
 * ```
 * <models>/question_encoder/   (or any single subfolder whose name contains "question_encoder")
 * <models>/ctx_encoder/        (or "ctx_encoder" / "context_encoder" in its name)
 * <models>/reader/             (or "reader" in its name)
 * ```
 *
 * and the dtype each model loads with.
 * @module
 */
import type { FileSource } from "../io/file_source.ts";
import type { HubOptions } from "../io/hub_source.ts";
import { resolveSource } from "../io/resolve.ts";
import { checkDtype, type WeightDtype } from "../models/hf_weight_map.ts";

/** The default checkpoints (Hugging Face hub ids), trained on Natural Questions. */
export const DEFAULT_MODELS: {
  questionEncoder: string;
  contextEncoder: string;
  reader: string;
} = {
  questionEncoder: "facebook/dpr-question_encoder-single-nq-base",
  contextEncoder: "facebook/dpr-ctx_encoder-single-nq-base",
  reader: "facebook/dpr-reader-single-nq-base",
};

/**
 * Where the three models come from; the hub options (`cacheDir`, `revision`, `endpoint`,
 * `token`, `offline`, `fetch`, `progress`) apply to sources that are hub ids or URLs.
 */
export interface DprModelSources extends HubOptions {
  /** Question encoder source (default: facebook's single-nq-base). */
  questionEncoder?: string | FileSource;
  /** Context encoder source (default: facebook's single-nq-base). */
  contextEncoder?: string | FileSource;
  /** Reader source (default: facebook's single-nq-base). */
  reader?: string | FileSource;
  /** A folder with one subfolder per model (see the module doc); used for unset sources. */
  models?: string;
  /** Longest input in tokens (default: the model's limit, at most 512). */
  maxLength?: number;
  /** Reader spans: "text" (default, passage text only, as original DPR) or "hf" (as HF). */
  spanScope?: "text" | "hf";
  /**
   * How the models hold their weights (`fromPretrained`'s `dtype`): one for all three, or one
   * per model, e.g. `{ questionEncoder: "int8", reader: "int8" }`. A model given none loads as
   * its checkpoint is stored: float32, or int8 / float16 for a folder saved quantized (such as
   * `convert --quantize int8` writes).
   */
  dtype?: WeightDtype | ModelDtypes;
}

/** A `dtype` per model of {@linkcode DprModelSources}. */
export interface ModelDtypes {
  /** The question encoder's. */
  questionEncoder?: WeightDtype;
  /** The context encoder's. */
  contextEncoder?: WeightDtype;
  /** The reader's. */
  reader?: WeightDtype;
}

/**
 * The dtype one model is asked to load with.
 * @param kind which model
 * @param sources the options
 * @returns its dtype, or undefined when none is named: then the checkpoint decides (a folder
 *   saved int8 / float16 loads as it is stored, any other float32)
 * @throws TypeError naming an unknown dtype
 */
export function dtypeFor(
  kind: "question" | "context" | "reader",
  sources: DprModelSources,
): WeightDtype | undefined {
  const dtype = sources.dtype;
  const field = kind === "question"
    ? "questionEncoder"
    : kind === "context"
    ? "contextEncoder"
    : "reader";
  const chosen = typeof dtype === "object" && dtype !== null ? dtype[field] : dtype;
  return chosen === undefined ? undefined : checkDtype(`the ${field}`, chosen);
}

const SUBFOLDER_HINTS = {
  question: ["question_encoder"],
  context: ["ctx_encoder", "context_encoder"],
  reader: ["reader"],
} as const;

/**
 * Finds a model's subfolder in a models folder.
 * @param models the folder
 * @param kind which model
 * @returns the subfolder's path
 */
export function modelSubfolder(models: string, kind: "question" | "context" | "reader"): string {
  const names: string[] = [];
  try {
    for (const entry of Deno.readDirSync(models)) if (entry.isDirectory) names.push(entry.name);
  } catch (error) {
    throw new Deno.errors.NotFound(
      `Cannot find models in ${models}: ${(error as Error).message}`,
    );
  }
  const exact = { question: "question_encoder", context: "ctx_encoder", reader: "reader" }[kind];
  if (names.includes(exact)) return `${models.replace(/\/+$/, "")}/${exact}`;
  const matches = names.filter((n) => SUBFOLDER_HINTS[kind].some((h) => n.includes(h)));
  if (matches.length !== 1) {
    throw new Deno.errors.NotFound(
      `Cannot find the ${kind} model in ${models}: expected a subfolder named ${exact} (or one ` +
        `folder containing ${SUBFOLDER_HINTS[kind].join(" or ")}): found ${
          matches.length === 0 ? "none" : matches.join(", ")
        }`,
    );
  }
  return `${models.replace(/\/+$/, "")}/${matches[0]}`;
}

/**
 * Turns a model source into a {@link FileSource}: a local folder, an http(s) URL of a folder, or
 * a hub id (downloaded on first use and cached by the conversion module's `resolveSource`).
 * @param source a folder, URL, hub id or FileSource
 * @param hub cache folder, revision, endpoint and token for hub ids and URLs
 * @returns the file source
 */
export async function resolveModelSource(
  source: string | FileSource,
  hub: HubOptions = {},
): Promise<FileSource> {
  const { revision, cacheDir, fetch, endpoint, token, offline, progress } = hub;
  return await resolveSource(source, {
    revision,
    cacheDir,
    fetch,
    endpoint,
    token,
    offline,
    progress,
  });
}

/**
 * The source of one model: the one named for it, else its subfolder of `models`, else the
 * default checkpoint.
 * @param kind which model
 * @param sources the options
 * @returns a folder, URL, hub id or FileSource
 */
export function sourceFor(
  kind: "question" | "context" | "reader",
  sources: DprModelSources,
): string | FileSource {
  const explicit = kind === "question"
    ? sources.questionEncoder
    : kind === "context"
    ? sources.contextEncoder
    : sources.reader;
  if (explicit !== undefined) return explicit;
  if (sources.models !== undefined) return modelSubfolder(sources.models, kind);
  return kind === "question"
    ? DEFAULT_MODELS.questionEncoder
    : kind === "context"
    ? DEFAULT_MODELS.contextEncoder
    : DEFAULT_MODELS.reader;
}
