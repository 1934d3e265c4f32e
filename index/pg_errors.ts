/**
 * Errors of the `postgres` client turned into messages that name the problem (server unreachable,
 * credentials refused, no such database or table, pgvector missing, connection lost), the
 * redacted URL, and never the password.
 * @module
 */
import type { PgLocation } from "./pg_url.ts";

const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
]);
const LOST = new Set([
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "ECONNRESET",
  "EPIPE",
]);

/**
 * The error to throw for a failure of `what` (e.g. "search the Postgres index <url>").
 * @param error what the client threw
 * @param what the operation, as "Cannot <what>: ..." reads
 * @param where the connection settings (for the host, user and password to hide)
 * @param lostNote what a lost connection means for this operation
 * @returns an Error with a clear message and the original as `cause`
 */
export function pgError(error: unknown, what: string, where: PgLocation, lostNote?: string): Error {
  if (error instanceof Error && error.message.startsWith("Cannot ")) return error;
  const e = error as { code?: string; message?: string };
  const code = typeof e?.code === "string" ? e.code : "";
  let message = hide(String(e?.message ?? error), where.password);
  const server = `${where.host}:${where.port}`;
  if (UNREACHABLE.has(code)) {
    return new Deno.errors.ConnectionRefused(
      `Cannot ${what}: cannot reach a Postgres server at ${server} (${code}: ${message})`,
      { cause: error },
    );
  }
  if (LOST.has(code)) {
    return new Deno.errors.ConnectionReset(
      `Cannot ${what}: the connection to the Postgres server at ${server} was lost (${code})` +
        (lostNote ? `; ${lostNote}` : ""),
      { cause: error },
    );
  }
  switch (code) {
    case "28P01":
    case "28000":
      return new Deno.errors.PermissionDenied(
        `Cannot ${what}: the server refused the credentials of user ${
          JSON.stringify(where.user)
        } (${message}); the password comes from the URL or PGPASSWORD (${
          where.password === undefined ? "neither is set" : "one is set"
        })`,
        { cause: error },
      );
    case "3D000":
      return new Deno.errors.NotFound(
        `Cannot ${what}: database ${JSON.stringify(where.database)} does not exist (${message})`,
        { cause: error },
      );
    case "42P01":
      return new Deno.errors.NotFound(
        `Cannot ${what}: table ${where.table} does not exist (${message})`,
        { cause: error },
      );
    case "58P01":
    case "0A000":
      if (/vector/.test(message)) {
        message = `the pgvector extension is not installed on the server (${message})`;
      }
      break;
  }
  return new Error(`Cannot ${what}: ${message}${code ? ` (SQLSTATE ${code})` : ""}`, {
    cause: error,
  });
}

function hide(message: string, password: string | undefined): string {
  return password !== undefined && password.length >= 3
    ? message.replaceAll(password, "***")
    : message;
}
