/**
 * Postgres connection URLs for the pgvector index: parsing (`postgres://user:password@host:port/
 * database?table=psgs`), the password from the URL or `PGPASSWORD`, and redaction, so that no
 * message ever shows a password.
 * @module
 */
import { readEnv } from "../backend/env.ts";

/** What a Postgres index URL says. */
export interface PgLocation {
  /** Host name ("localhost" when the URL names none). */
  host: string;
  /** Port (default 5432). */
  port: number;
  /** Database (default: the user name, as libpq does). */
  database: string;
  /** User (the URL's, else `PGUSER`, else "postgres"). */
  user: string;
  /** Password (the URL's, else `PGPASSWORD`), or undefined. */
  password: string | undefined;
  /** The table, schema-qualified or not (`?table=`, default "passages"). */
  table: string;
  /** `hnsw.ef_search` for queries (`?ef_search=`), or undefined for the default. */
  efSearch: number | undefined;
  /** `?sslmode=`: disable, allow, prefer, require or verify-full (default: no TLS). */
  ssl: "disable" | "allow" | "prefer" | "require" | "verify-full" | undefined;
  /** Seconds to wait for a connection (`?connect_timeout=`, default 10). */
  connectTimeout: number;
  /** The URL with its password replaced by `***`, for messages. */
  redacted: string;
}

const PARAMS = ["table", "ef_search", "sslmode", "connect_timeout"] as const;
const SSL_MODES = ["disable", "allow", "prefer", "require", "verify-full"] as const;

/**
 * The URL with any password replaced by `***` (also for strings that are not valid URLs).
 * @param url a connection URL
 * @returns the URL, safe to print
 */
export function redactUrl(url: string): string {
  // scheme://user:password@host -> scheme://user:***@host; the last "@" ends the user info. Also
  // for a mistyped scheme://, with fewer slashes.
  return url.replace(/^([a-z][a-z0-9+.-]*:\/*[^/?#@:]*):[^/?#]*@/i, "$1:***@")
    .replace(/([?&]password=)[^&#]*/gi, "$1***");
}

/**
 * Parses a Postgres index URL.
 * @param url `postgres://` or `postgresql://` URL
 * @param env where `PGPASSWORD` and `PGUSER` are read (default: the process environment, when
 *   readable without a prompt; empty reads as unset)
 * @returns the connection settings
 */
export function parsePgUrl(
  url: string,
  env: (name: string) => string | undefined = readEnv,
): PgLocation {
  const redacted = redactUrl(url);
  const fail = (rule: string): never => {
    throw new TypeError(`Cannot open the Postgres index ${redacted}: ${rule}`);
  };
  if (!/^postgres(ql)?:\/\//i.test(url)) {
    fail("the URL must start with postgres:// or postgresql://");
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail("it is not a valid URL (user:password@host:port/database?table=name)");
  }
  for (const key of parsed.searchParams.keys()) {
    if (!(PARAMS as readonly string[]).includes(key)) {
      fail(`unknown parameter ${JSON.stringify(key)}; known: ${PARAMS.join(", ")}`);
    }
  }
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      return fail(`the ${what} is not valid percent-encoding`);
    }
  };
  const user = decode(parsed.username, "user name") || env("PGUSER") || "postgres";
  const password = parsed.password !== "" ? decode(parsed.password, "password") : env("PGPASSWORD");
  const database = decode(parsed.pathname.replace(/^\//, ""), "database name") || user;
  if (database.includes("/")) fail(`the database name ${JSON.stringify(database)} holds a "/"`);
  const table = parsed.searchParams.get("table") ?? "passages";
  if (!/^([A-Za-z_][A-Za-z0-9_]*\.)?[A-Za-z_][A-Za-z0-9_]*$/.test(table) || table.length > 127) {
    fail(
      `table must be a plain name or schema.name (letters, digits, _): received ${
        JSON.stringify(table)
      }`,
    );
  }
  const int = (name: string, min: number, max: number): number | undefined => {
    const raw = parsed.searchParams.get(name);
    if (raw === null) return undefined;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      fail(`${name} must be an integer from ${min} to ${max}: received ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const sslmode = parsed.searchParams.get("sslmode");
  if (sslmode !== null && !(SSL_MODES as readonly string[]).includes(sslmode)) {
    fail(`sslmode must be one of ${SSL_MODES.join(", ")}: received ${JSON.stringify(sslmode)}`);
  }
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "localhost",
    port: parsed.port === "" ? 5432 : Number(parsed.port),
    database,
    user,
    password,
    table,
    efSearch: int("ef_search", 1, 1000),
    ssl: (sslmode ?? undefined) as PgLocation["ssl"],
    connectTimeout: int("connect_timeout", 1, 3600) ?? 10,
    redacted,
  };
}
