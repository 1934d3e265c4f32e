/**
 * Short descriptions of unpickled values for error messages.
 * @module
 */

/**
 * A short description of an unpickled value for error messages: at most `maxLength` characters,
 * however large, deep or self-referencing the value is.
 *
 * @param value any unpickled value
 * @param maxLength the longest description returned (default 120)
 * @returns the description
 */
export function describeValue(value: unknown, maxLength = 120): string {
  const parts: string[] = [];
  let length = 0;
  const add = (text: string): boolean => {
    parts.push(text);
    length += text.length;
    return length < maxLength;
  };
  const visit = (v: unknown, depth: number): boolean => {
    if (typeof v === "string") return add(JSON.stringify(v.slice(0, maxLength)));
    if (typeof v !== "object" || v === null) return add(String(v));
    if (depth >= 3) return add("...");
    const isMap = v instanceof Map;
    const items: Iterable<unknown> = isMap
      ? (v as Map<unknown, unknown>).keys()
      : Array.isArray(v)
      ? v
      : v instanceof Set
      ? v
      : [];
    if (!isMap && !Array.isArray(v) && !(v instanceof Set)) {
      const named = v as { qualifiedName?: unknown; className?: unknown };
      return add(String(named.qualifiedName ?? named.className ?? v.constructor?.name ?? "object"));
    }
    if (!add(isMap ? "{" : "[")) return false;
    let first = true;
    for (const item of items) {
      if (!first && !add(", ")) return false;
      first = false;
      if (!visit(item, depth + 1)) return false;
    }
    return add(isMap ? "}" : "]");
  };
  visit(value, 0);
  const text = parts.join("");
  return text.length <= maxLength ? text : `${text.slice(0, maxLength - 3)}...`;
}
