/**
 * A small command-line parser: positionals, `--name value`, `--name=value` and boolean
 * `--flag`s, with errors that say which option is wrong.
 * @module
 */

/** How an option is read. */
export type OptionKind = "string" | "boolean";

/** The parsed command line. */
export interface ParsedArgs {
  /** Arguments that are not options, in order. */
  positionals: string[];
  /** Options by name (without dashes). */
  options: Record<string, string | boolean>;
}

/** A usage mistake; the CLI prints it with the usage text and exits with status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * Parses arguments against a table of known options.
 * @param args the arguments
 * @param spec option name -> kind
 * @returns positionals and options
 */
export function parseArgs(args: readonly string[], spec: Record<string, OptionKind>): ParsedArgs {
  const positionals: string[] = [];
  const options: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--") || arg === "-") {
      if (arg.startsWith("-") && arg.length > 1 && !/^-\d/.test(arg)) {
        throw new UsageError(`unknown option ${arg}`);
      }
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const kind = spec[name];
    if (kind === undefined) {
      throw new UsageError(
        `unknown option --${name}; known: ${Object.keys(spec).map((k) => `--${k}`).join(", ")}`,
      );
    }
    if (kind === "boolean") {
      if (eq !== -1) throw new UsageError(`--${name} takes no value`);
      options[name] = true;
      continue;
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else value = args[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    options[name] = value;
  }
  return { positionals, options };
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
