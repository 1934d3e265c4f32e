/**
 * `hfJson`: JSON as transformers writes its files (`config.json`, `tokenizer_config.json`,
 * `special_tokens_map.json`): keys sorted, two-space indent, non-ASCII kept, a final newline.
 * @module
 */

/**
 * Serializes a value the way Python's `json.dumps(value, indent=2, sort_keys=True,
 * ensure_ascii=False)` does, plus a newline. Keys are sorted as strings ("100" before "2",
 * unlike JavaScript's own order for integer-like keys); a `bigint` is written as its digits.
 *
 * @example
 * ```ts
 * import { hfJson } from "./hf_json.ts";
 * console.log(hfJson({ b: 1, a: [true, null] }));
 * ```
 * @param value plain JSON data (objects, arrays, strings, finite numbers, booleans, null, bigint)
 * @returns the text
 * @throws {TypeError} for a value JSON cannot hold (a non-finite number, a function, undefined)
 */
export function hfJson(value: unknown): string {
  return `${write(value, "", "value")}\n`;
}

function write(value: unknown, indent: string, path: string): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") {
    return JSON.stringify(value);
  }
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "number") {
    if (!Number.isFinite(value)) {
      throw new TypeError(`Cannot write ${path} as JSON: ${value} is not a finite number`);
    }
    return JSON.stringify(value);
  }
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    const items = value.map((item, i) => `${inner}${write(item, inner, `${path}[${i}]`)}`);
    return `[\n${items.join(",\n")}\n${indent}]`;
  }
  if (typeof value === "object") {
    const keys = Object.keys(value).sort(compareCodePoints);
    if (keys.length === 0) return "{}";
    const record = value as Record<string, unknown>;
    const items = keys.map((key) =>
      `${inner}${JSON.stringify(key)}: ${write(record[key], inner, `${path}.${key}`)}`
    );
    return `{\n${items.join(",\n")}\n${indent}}`;
  }
  throw new TypeError(`Cannot write ${path} as JSON: a ${typeof value} is not JSON data`);
}

/** Python's string order: by code point (JavaScript's `<` compares UTF-16 units). */
function compareCodePoints(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}
