/**
 * Checks of request fields: each failure is an {@link HttpError} naming the field, the rule and
 * the value received.
 * @module
 */
import { HttpError } from "./http_error.ts";

/**
 * A short description of a value for error messages.
 * @param value any value
 * @returns e.g. `number 42`, `"abc"`, `an array`
 */
export function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/**
 * Refuses fields other than the allowed ones.
 * @param body the request object
 * @param allowed the field names
 */
export function checkKeys(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      throw new HttpError(
        400,
        `unknown field ${JSON.stringify(key)}; expected ${allowed.join(", ")}`,
      );
    }
  }
}

// Letters, digits, punctuation and symbols: what a reader can see. Separators, control and
// format characters (zero-width ones included), lone surrogates and unassigned code points are
// not; a question made only of those tokenizes to nothing.
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

/**
 * Checks a text field: a string, with at least one visible character, within the length limit.
 * @param value the field's value
 * @param name the field's name
 * @param maxLength the longest text in UTF-16 units
 * @returns the text
 */
export function checkText(value: unknown, name: string, maxLength: number): string {
  if (typeof value !== "string") {
    throw new HttpError(400, `${name} must be a string: received ${describe(value)}`);
  }
  if (value.trim() === "") throw new HttpError(400, `${name} must not be empty`);
  if (value.length > maxLength) {
    throw new HttpError(413, `${name} has ${value.length} characters; the limit is ${maxLength}`);
  }
  if (!VISIBLE.test(value)) {
    throw new HttpError(
      400,
      `${name} has no visible characters (only spaces, control or zero-width characters, or ` +
        `lone surrogates): received ${describe(value)}`,
    );
  }
  return value;
}

/**
 * Checks an optional integer field.
 * @param value the field's value
 * @param name the field's name
 * @param fallback the value when the field is absent
 * @param max the largest value allowed (the smallest is 1)
 * @returns the integer
 */
export function checkInt(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new HttpError(400, `${name} must be an integer: received ${describe(value)}`);
  }
  if (value < 1 || value > max) {
    throw new HttpError(400, `${name} must be between 1 and ${max}: received ${value}`);
  }
  return value;
}
