/**
 * The JSON value stored with each row of a {@link DenseIndex}, and the field schema `index.json`
 * records for it (`metadata_fields`: the fields every row holds, with their JSON types), which
 * loading checks line by line.
 * @module
 */

import type { RowMetadata } from "./vector_index.ts";

/** The JSON type of a metadata field. */
export type MetadataFieldType = "string" | "number" | "boolean" | "object" | "array" | "null";

const FIELD_TYPES: readonly MetadataFieldType[] = [
  "string",
  "number",
  "boolean",
  "object",
  "array",
  "null",
];

/** The JSON type of `value`. */
function jsonType(value: unknown): MetadataFieldType | undefined {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  const t = typeof value;
  return t === "string" || t === "number" || t === "boolean" || t === "object" ? t : undefined;
}

/**
 * The fields every row holds with one JSON type, or undefined when some row is not an object
 * (or there are no rows).
 * @param rows the rows' metadata
 * @returns field name -> JSON type
 */
export function commonFields(
  rows: readonly RowMetadata[],
): Record<string, MetadataFieldType> | undefined {
  if (rows.length === 0) return undefined;
  let fields: Map<string, MetadataFieldType> | undefined;
  for (const row of rows) {
    if (jsonType(row) !== "object") return undefined;
    const entries = Object.entries(row as Record<string, RowMetadata>);
    if (fields === undefined) {
      fields = new Map(entries.map(([key, value]) => [key, jsonType(value)!]));
      continue;
    }
    const here = new Map(entries);
    for (const [key, type] of fields) {
      if (!here.has(key) || jsonType(here.get(key)) !== type) fields.delete(key);
    }
  }
  return Object.fromEntries(fields!);
}

/**
 * Checks a `metadata_fields` value read from `index.json`.
 * @param value the parsed value
 * @param where names the index in errors
 * @returns the schema
 */
export function parseFieldSchema(
  value: unknown,
  where: string,
): Record<string, MetadataFieldType> {
  if (jsonType(value) !== "object") {
    throw new TypeError(
      `Cannot load DenseIndex from ${where}: index.json metadata_fields must be an object of ` +
        `field types: received ${JSON.stringify(value)}`,
    );
  }
  for (const [key, type] of Object.entries(value as Record<string, unknown>)) {
    if (!FIELD_TYPES.includes(type as MetadataFieldType)) {
      throw new TypeError(
        `Cannot load DenseIndex from ${where}: index.json metadata_fields.${key} must be one of ` +
          `${FIELD_TYPES.join(", ")}: received ${JSON.stringify(type)}`,
      );
    }
  }
  return value as Record<string, MetadataFieldType>;
}

/**
 * Checks that each row is an object holding `fields` with their types.
 * @param rows the rows' metadata, parsed from `name`
 * @param fields field name -> JSON type
 * @param name the file, for errors (lines are numbered from 1)
 */
export function checkFields(
  rows: readonly unknown[],
  fields: Readonly<Record<string, MetadataFieldType>>,
  name: string,
): void {
  const wanted = Object.entries(fields);
  const describe = wanted.map(([key, type]) => `${key} (${type})`).join(", ");
  rows.forEach((row, i) => {
    const bad = jsonType(row) !== "object" ||
      wanted.some(([key, type]) => jsonType((row as Record<string, unknown>)[key]) !== type);
    if (bad) {
      const shown = JSON.stringify(row);
      throw new TypeError(
        `Cannot read ${name}: line ${i + 1} must be an object with ${describe || "no fields"}: ` +
          `received ${shown.length > 120 ? shown.slice(0, 117) + "..." : shown}`,
      );
    }
  });
}
