/**
 * Command line: `deno task convert <source> <out-dir> [--quantize float16|uint8] [--revision REV]
 * [--overwrite]`. Converts a DPR checkpoint (Hugging Face folder, URL or hub id, or an original
 * facebookresearch/DPR checkpoint file) to TensorFlow.js weight artifacts.
 *
 * Exit codes: 0 done, 1 conversion failed (nothing written), 2 usage error.
 * @module
 */
import { tf } from "../backend/tf.ts";
import { convertCheckpoint } from "./convert.ts";
import type { ConvertOptions } from "./convert.ts";
import { stderrIsTerminal, stderrProgress } from "../io/progress.ts";
import type { Quantization } from "../io/tfjs_artifacts.ts";

/** The usage text. */
export const USAGE: string = `Usage: deno task convert <source> <out-dir> [options]

  <source>    a folder (model.safetensors, sharded safetensors or pytorch_model.bin),
              an http(s) URL of a converted folder, a hub id org/name (the Hugging Face hub),
              or an original facebookresearch/DPR checkpoint file
  <out-dir>   the folder to create (a bi-encoder gives question_encoder/ and ctx_encoder/)

Options:
  --quantize float16|uint8   store weights quantized (tfjs manifest conventions)
  --revision REV             hub revision (default main)
  --tokenizer SOURCE         copy tokenizer files from this folder, URL or hub id instead
                             (original DPR checkpoints carry none)
  --overwrite                replace <out-dir> if it exists
  --help                     show this text

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
  quantize?: Quantization;
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
  const positional: string[] = [];
  const parsed: Partial<ConvertArgs> = { overwrite: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] = arg.startsWith("--") && arg.includes("=")
      ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
      : [arg, undefined];
    const value = (): string | undefined => inline ?? args[++i];
    if (flag === "--help" || flag === "-h") return "help";
    if (flag === "--overwrite") parsed.overwrite = true;
    else if (flag === "--quantize") {
      const q = value();
      if (q !== "float16" && q !== "uint8") {
        return { error: `--quantize must be float16 or uint8: received ${q ?? "nothing"}` };
      }
      parsed.quantize = q;
    } else if (flag === "--revision") {
      const r = value();
      if (!r) return { error: "--revision needs a value" };
      parsed.revision = r;
    } else if (flag === "--tokenizer") {
      const t = value();
      if (!t) return { error: "--tokenizer needs a folder, URL or hub id" };
      parsed.tokenizer = t;
    } else if (flag.startsWith("-")) return { error: `unknown option ${flag}` };
    else positional.push(arg);
  }
  if (positional.length !== 2) {
    return { error: `expected <source> and <out-dir>: received ${positional.length} arguments` };
  }
  return { ...parsed, source: positional[0]!, outDir: positional[1]! } as ConvertArgs;
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
    console.error(`convert: ${parsed.error}\n\n${USAGE}`);
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
