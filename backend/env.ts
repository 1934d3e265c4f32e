/**
 * The one reader of environment variables: never prompts for a permission (an unset, empty or
 * not permitted variable reads as unset), and one vocabulary for every `DPR_*` boolean flag:
 * `1`/`0`, `true`/`false`, `on`/`off`, `yes`/`no` (any case, spaces around ignored). Anything
 * else is an error naming the flag and the value.
 * @module
 */

const TRUE_WORDS: readonly string[] = ["1", "true", "on", "yes"];
const FALSE_WORDS: readonly string[] = ["0", "false", "off", "no"];

/**
 * Reads an environment variable without prompting.
 * @param name the variable
 * @returns its value, or `undefined` when unset, empty or not permitted
 */
export function readEnv(name: string): string | undefined {
  try {
    if (Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
      return undefined;
    }
    const value = Deno.env.get(name);
    return value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}

/**
 * A boolean word (`1`/`0`, `true`/`false`, `on`/`off`, `yes`/`no`) as a boolean.
 * @param value the text
 * @returns true, false, or `undefined` when `value` is no such word
 */
export function parseFlagWord(value: string): boolean | undefined {
  const word = value.trim().toLowerCase();
  if (TRUE_WORDS.includes(word)) return true;
  if (FALSE_WORDS.includes(word)) return false;
  return undefined;
}

/**
 * A boolean flag from the environment.
 * @param name the variable, e.g. `DPR_WASM_FMA`
 * @param fallback the value when it is unset, empty or not permitted
 * @returns the flag
 * @throws RangeError when the value is not one of the words, naming the flag and the value
 */
export function envFlag(name: string, fallback: boolean): boolean {
  const value = readEnv(name);
  if (value === undefined || value.trim() === "") return fallback;
  const flag = parseFlagWord(value);
  if (flag === undefined) {
    throw new RangeError(
      `${name} must be one of 1/0, true/false, on/off, yes/no: received ${JSON.stringify(value)}`,
    );
  }
  return flag;
}

/**
 * A flag that may also name a value (e.g. `DPR_ONEDNN`: off, on, or a library path).
 * @param name the variable
 * @returns true or false for a boolean word, the trimmed text otherwise, `undefined` when unset
 */
export function envFlagOrValue(name: string): boolean | string | undefined {
  const value = readEnv(name)?.trim();
  if (value === undefined || value === "") return undefined;
  return parseFlagWord(value) ?? value;
}
