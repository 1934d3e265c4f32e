/**
 * The command line's options, read with `node:util`'s `parseArgs` (positionals, `--name value`,
 * `--name=value`, boolean `--flag`s, `-h` for `--help`), with usage errors that name the option.
 * @module
 */
import { parseArgs as parseNodeArgs } from "node:util";

/** How an option is read. */
export type OptionKind = "string" | "boolean";

/** The parsed command line. */
export interface ParsedArgs {
  /** Arguments that are not options, in order. */
  positionals: string[];
  /** Options by name (without dashes). */
  options: Record<string, string | boolean>;
}

/** A usage mistake; the CLI prints it in one line with a hint to `--help`, exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Parses arguments against a table of known options (`help`, when listed, also answers `-h`).
 * `--` ends the options: what follows is positional.
 * @param args the arguments
 * @param spec option name -> kind
 * @returns positionals and options
 * @throws {UsageError} for an unknown option, a missing value or a value given to a flag
 */
export function parseArgs(args: readonly string[], spec: Record<string, OptionKind>): ParsedArgs {
  const options: Record<string, { type: OptionKind; short?: string }> = {};
  for (const [name, type] of Object.entries(spec)) {
    options[name] = name === "help" ? { type, short: "h" } : { type };
  }
  try {
    const { values, positionals } = parseNodeArgs({
      args: [...args],
      options,
      allowPositionals: true,
      strict: true,
    });
    return { positionals, options: { ...values } as Record<string, string | boolean> };
  } catch (error) {
    throw new UsageError(usageMessage(error));
  }
}

/** `node:util`'s parse error as one short line naming the option. */
function usageMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const option = /'(-[^' ]*)/.exec(message)?.[1] ?? "";
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const hint = /^-\d/.test(option) ? ` (an argument starting with "-" goes after "--")` : "";
    return `unknown option ${option}${hint}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    if (/does not take an argument/.test(message)) return `${option} takes no value`;
    if (/ambiguous/.test(message)) {
      return `${option} needs a value (one starting with "-" is written ${option}=-value)`;
    }
    return `${option} needs a value`;
  }
  return message.split("\n")[0]!;
}

/**
 * Reads an integer option.
 * @param options parsed options
 * @param name option name
 * @param fallback value when absent
 * @param min smallest allowed value
 * @param max largest allowed value (default: the largest safe integer)
 * @returns the integer
 */
export function intOption(
  options: Record<string, string | boolean>,
  name: string,
  fallback: number,
  min = 1,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  const raw = options[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== "string" || !/^-?\d+$/.test(raw) || value < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}: received ${JSON.stringify(raw)}`);
  }
  if (value > max) {
    throw new UsageError(`--${name} must be at most ${max}: received ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * Reads a string option.
 * @param options parsed options
 * @param name option name
 * @returns the value or undefined
 */
export function stringOption(
  options: Record<string, string | boolean>,
  name: string,
): string | undefined {
  const raw = options[name];
  return typeof raw === "string" ? raw : undefined;
}
