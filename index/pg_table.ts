/**
 * The passage table of the pgvector index: creating it, and checking one that exists (its
 * columns, vector type and dimension, whether it has an HNSW index).
 *
 * Vectors are `vector(d)` (float32, 4 bytes a value) or `halfvec(d)` (float16, 2 bytes a value;
 * pgvector 0.7 and later).
 * @module
 */
import type postgres from "postgres";
import type { PgLocation } from "./pg_url.ts";

type Sql = postgres.Sql;

/** How a Postgres index stores vectors: `vector(d)` (float32) or `halfvec(d)` (float16). */
export type PgVectorStorage = "float32" | "float16";

/** The pgvector column type of each storage. */
export const PG_VECTOR_TYPES: Readonly<Record<PgVectorStorage, string>> = {
  float32: "vector",
  float16: "halfvec",
};

/** A quoted SQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** A table name, schema-qualified or not, quoted part by part. */
export function quoteName(table: string): string {
  return table.split(".").map(quoteIdent).join(".");
}

/**
 * The table beside `table` (same schema) where encoding jobs record what they wrote.
 * @param table the passage table, schema-qualified or not
 * @returns `<table>_dpr_job`, unquoted
 */
export function jobTableOf(table: string): string {
  return `${table}_dpr_job`;
}

// Shard jobs starting together race on IF NOT EXISTS: Postgres can then report the object the
// other job just created (duplicate key in its catalog, or "already exists"); it exists: go on.
function raced(error: unknown): void {
  if (!["23505", "42P07", "42710"].includes((error as { code?: string })?.code ?? "")) {
    throw error;
  }
}

/** Creates the pgvector extension and the passage table when missing. */
export async function createTable(
  sql: Sql,
  where: PgLocation,
  dim: number,
  storage: PgVectorStorage,
): Promise<void> {
  await sql`CREATE EXTENSION IF NOT EXISTS vector`.catch(raced);
  await sql.unsafe(
    `CREATE TABLE IF NOT EXISTS ${quoteName(where.table)} (id text PRIMARY KEY, ` +
      `ord bigint NOT NULL, title text NOT NULL, text text NOT NULL, ` +
      `embedding ${PG_VECTOR_TYPES[storage]}(${dim}) NOT NULL)`,
  ).catch(raced);
}

/**
 * Creates the table where an encoding job records its settings and each chunk's digest
 * (`key text PRIMARY KEY, value text`), when missing.
 * @param sql the client
 * @param name the table's name (see {@link jobTableOf})
 */
export async function createJobTable(sql: Sql, name: string): Promise<void> {
  await sql.unsafe(
    `CREATE TABLE IF NOT EXISTS ${quoteName(name)} (key text PRIMARY KEY, value text NOT NULL)`,
  ).catch(raced);
}

/**
 * Checks the table's columns and returns its vectors' dimension and storage (clear errors
 * otherwise).
 */
export async function tableVectors(
  sql: Sql,
  where: PgLocation,
): Promise<{ dim: number; storage: PgVectorStorage }> {
  const columns = await sql`
    SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type
    FROM pg_attribute a
    WHERE a.attrelid = to_regclass(${quoteName(where.table)}) AND a.attnum > 0
      AND NOT a.attisdropped`;
  const where_ = `${where.redacted}`;
  if (columns.length === 0) {
    throw new Deno.errors.NotFound(
      `Cannot open the Postgres index ${where_}: table ${where.table} does not exist in database ` +
        `${where.database} (dpr index <passages> <url> creates it)`,
    );
  }
  const types = new Map(columns.map((c) => [c.name as string, c.type as string]));
  const missing = ["id", "ord", "title", "text", "embedding"].filter((c) => !types.has(c));
  if (missing.length > 0) {
    throw new TypeError(
      `Cannot open the Postgres index ${where_}: table ${where.table} lacks the column` +
        `${missing.length > 1 ? "s" : ""} ${missing.join(", ")} (expected id, ord, title, text, ` +
        `embedding vector(d) or halfvec(d))`,
    );
  }
  const m = /^(vector|halfvec)\((\d+)\)$/.exec(types.get("embedding")!);
  if (m === null) {
    throw new TypeError(
      `Cannot open the Postgres index ${where_}: column embedding of ${where.table} must be ` +
        `vector(d) or halfvec(d): received ${types.get("embedding")}`,
    );
  }
  return { dim: Number(m[2]), storage: m[1] === "halfvec" ? "float16" : "float32" };
}

/** Whether the table has an HNSW index. */
export async function hasHnsw(sql: Sql, table: string): Promise<boolean> {
  const rows = await sql`
    SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am
      ON am.oid = c.relam
    WHERE i.indrelid = to_regclass(${quoteName(table)}) AND am.amname = 'hnsw'`;
  return rows.length > 0;
}
