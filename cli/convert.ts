/**
 * The converter's command line: `deno run -A jsr:@dpr/dpr/convert <source> <out-dir>
 * [--quantize int8|float16|uint8] [--revision REV] [--overwrite]` (from a clone: `deno task convert`).
 * Converts a DPR checkpoint (Hugging Face folder, URL or hub id, or an original
 * facebookresearch/DPR checkpoint file) to TensorFlow.js weight artifacts.
 *
 * Exit codes: 0 done, 1 conversion failed (nothing written), 2 usage error.
 * @module
 */
import { tf } from "../backend/tf.ts";
import { convertCheckpoint } from "../convert/convert.ts";
import type { ConvertOptions } from "../convert/convert.ts";
import { stderrIsTerminal, stderrProgress } from "../io/progress.ts";
import type { Quantization } from "../io/tfjs_artifacts.ts";
import { parseArgs, UsageError } from "./args.ts";

/** The usage text. */
export const USAGE: string = `Usage: convert <source> <out-dir> [options]
(convert is "deno run -A jsr:@dpr/dpr/convert"; in a clone of the repository: "deno task convert")

  <source>    a folder (model.safetensors, sharded safetensors or pytorch_model.bin),
              an http(s) URL of a converted folder, a hub id org/name (the Hugging Face hub),
              or an original facebookresearch/DPR checkpoint file
  <out-dir>   the folder to create (a bi-encoder gives question_encoder/ and ctx_encoder/)

Options:
  --quantize int8|float16|uint8
                             int8: model.safetensors with int8 dense matrices (one scale per
                             output channel) and word table (one per row), which loads int8;
                             float16 or uint8: tfjs shards (they load as float32)
  --revision REV             hub revision (default main)
  --tokenizer SOURCE         copy tokenizer files from this folder, URL or hub id instead
                             (original DPR checkpoints carry none)
  --overwrite                replace <out-dir> if it exists
  -h, --help                 show this text

Environment: HF_ENDPOINT (another hub), HF_TOKEN (private repos), HF_HOME / HF_HUB_CACHE /
DPR_CACHE (the Hugging Face cache), HF_HUB_OFFLINE=1 (the cache only).
`;

/** A parsed command line. */
export interface ConvertArgs {
  /** The checkpoint. */
  source: string;
  /** The output folder. */
  outDir: string;
  /** Quantization, if any. */
  quantize?: Quantization | "int8";
  /** Hub revision, if given. */
  revision?: string;
  /** Replace an existing output. */
  overwrite: boolean;
  /** Where to copy tokenizer files from, if not the source. */
  tokenizer?: string;
}

/**
 * Parses the command line.
 * @param args the arguments after the script name
 * @returns the parsed arguments, "help", or an error message for a usage error
 */
export function parseConvertArgs(args: string[]): ConvertArgs | "help" | { error: string } {
  let parsed;
  try {
    parsed = parseArgs(args, {
      quantize: "string",
      revision: "string",
      tokenizer: "string",
      overwrite: "boolean",
      help: "boolean",
    });
  } catch (error) {
    if (error instanceof UsageError) return { error: error.message };
    throw error;
  }
  const { positionals, options } = parsed;
  if (options.help === true) return "help";
  const out: Partial<ConvertArgs> = { overwrite: options.overwrite === true };
  const quantize = options.quantize;
  if (quantize !== undefined) {
    if (quantize !== "float16" && quantize !== "uint8" && quantize !== "int8") {
      return { error: `--quantize must be int8, float16 or uint8: received ${quantize}` };
    }
    out.quantize = quantize;
  }
  if (options.revision !== undefined) {
    if (options.revision === "") return { error: "--revision needs a value" };
    out.revision = options.revision as string;
  }
  if (options.tokenizer !== undefined) {
    if (options.tokenizer === "") return { error: "--tokenizer needs a folder, URL or hub id" };
    out.tokenizer = options.tokenizer as string;
  }
  if (positionals.length !== 2) {
    return { error: `expected <source> and <out-dir>: received ${positionals.length} arguments` };
  }
  return { ...out, source: positionals[0]!, outDir: positionals[1]! } as ConvertArgs;
}

/**
 * Runs the command line.
 * @param args the arguments after the script name
 * @returns the exit code
 */
export async function main(args: string[]): Promise<number> {
  const parsed = parseConvertArgs(args);
  if (parsed === "help") {
    console.log(USAGE);
    return 0;
  }
  if ("error" in parsed) {
    console.error(`convert: ${parsed.error}\nRun "convert --help" for usage.`);
    return 2;
  }
  const show = stderrIsTerminal();
  const options: ConvertOptions = { overwrite: parsed.overwrite, progress: show };
  if (parsed.quantize) options.quantize = parsed.quantize;
  if (parsed.revision) options.revision = parsed.revision;
  if (parsed.tokenizer) options.tokenizerFrom = parsed.tokenizer;
  if (show) options.weightsProgress = stderrProgress("writing weights");
  try {
    const result = await convertCheckpoint(parsed.source, parsed.outDir, options);
    console.log(
      `converted ${result.tensors} weights into ${result.folders.join(", ")}${
        parsed.quantize ? ` (${parsed.quantize})` : ""
      }`,
    );
    return 0;
  } catch (error) {
    console.error(`convert: ${(error as Error).message}`);
    return 1;
  }
}

if (import.meta.main) {
  // Production mode: no tfjs warning on stderr breaks the progress line (the first-use banner is
  // skipped for every run in backend/tf.ts); the converter needs none of tfjs's debug checks.
  tf.env().set("PROD", true);
  Deno.exit(await main(Deno.args));
}
