/**
 * The encoding job's ledger in Postgres: a table beside the passage table, `<table>_dpr_job`
 * (`key text PRIMARY KEY, value text`), holding the job's settings (key `settings`, JSON) and the
 * SHA-256 of each chunk's passages (key `chunk-000012`), written in the transaction that writes
 * the chunk's rows. A re-run reads it to resume the same job and to refuse another one.
 * @module
 */
import type postgres from "postgres";
import { pgError } from "./pg_errors.ts";
import { createJobTable, jobTableOf } from "./pg_table.ts";
import type { PgLocation } from "./pg_url.ts";
import type { EncodeJobLedger, VectorBatch } from "./vector_index.ts";

type Sql = postgres.Sql;
type Tx = postgres.TransactionSql;

/** Writes a batch in one transaction, running `extra` inside it (the index's upsert). */
export type WriteInTransaction = (
  batch: VectorBatch,
  what: string,
  extra: (tx: Tx) => Promise<unknown>,
) => Promise<void>;

/** The key of chunk `chunk`'s digest. */
function chunkKey(chunk: number): string {
  return `chunk-${String(chunk).padStart(6, "0")}`;
}

/** {@link EncodeJobLedger} of a Postgres passage table. */
export class PgJobLedger implements EncodeJobLedger {
  /** The index's URL, password hidden. */
  readonly location: string;
  /** The ledger table's name (`<table>_dpr_job`). */
  readonly table: string;
  #sql: Sql;
  #where: PgLocation;
  #write: WriteInTransaction;

  /**
   * @param sql the index's client
   * @param where the index's location
   * @param write the index's transactional write
   */
  constructor(sql: Sql, where: PgLocation, write: WriteInTransaction) {
    this.#sql = sql;
    this.#where = where;
    this.#write = write;
    this.location = where.redacted;
    this.table = jobTableOf(where.table);
  }

  /**
   * {@link EncodeJobLedger.recordJob}: creates the ledger table when missing; the first job to
   * record wins (concurrent shards wait on a lock).
   * @param settings the job's settings (JSON)
   * @returns the settings recorded
   */
  async recordJob(settings: string): Promise<string> {
    const what = `record the encoding job in ${this.location}`;
    const sql = this.#sql;
    try {
      await createJobTable(sql, this.table);
      return await sql.begin(async (tx) => {
        await tx`LOCK TABLE ${tx(this.table)} IN SHARE ROW EXCLUSIVE MODE`;
        const [row] = await tx`SELECT value FROM ${tx(this.table)} WHERE key = 'settings'`;
        if (row !== undefined) return row.value as string;
        const [rows] = await tx`SELECT EXISTS (SELECT 1 FROM ${tx(this.#where.table)}) AS any`;
        if (rows!.any === true) {
          throw new RangeError(
            `Cannot ${what}: table ${this.#where.table} holds rows that no encoding job recorded ` +
              `(written by upsert, or before jobs were recorded in ${this.table}), so a job ` +
              `cannot tell what they were encoded from. Refused, nothing was written: write ` +
              `into another table, or empty this one (TRUNCATE ${this.#where.table})`,
          );
        }
        await tx`INSERT INTO ${tx(this.table)} (key, value) VALUES ('settings', ${settings})`;
        return settings;
      });
    } catch (error) {
      throw pgError(error, what, this.#where);
    }
  }

  /**
   * {@link EncodeJobLedger.chunkDigests}
   * @param chunks chunk numbers
   * @returns the digest recorded for each, or null
   */
  async chunkDigests(chunks: readonly number[]): Promise<Array<string | null>> {
    const keys = chunks.map(chunkKey);
    let rows: Array<{ key: string; value: string }>;
    try {
      rows = await this.#sql`
        SELECT key, value FROM ${this.#sql(this.table)} WHERE key = ANY(${keys})
      ` as unknown as typeof rows;
    } catch (error) {
      throw pgError(error, `read the encoding job of ${this.location}`, this.#where);
    }
    const byKey = new Map(rows.map((r) => [r.key, r.value]));
    return keys.map((key) => byKey.get(key) ?? null);
  }

  /**
   * {@link EncodeJobLedger.writeChunk}: the rows and the digest in one transaction.
   * @param chunk the chunk number
   * @param digest the digest of its passages
   * @param batch its rows
   */
  async writeChunk(chunk: number, digest: string, batch: VectorBatch): Promise<void> {
    const key = chunkKey(chunk);
    await this.#write(batch, `write to the Postgres index ${this.location}`, (tx) =>
      tx`
        INSERT INTO ${tx(this.table)} (key, value) VALUES (${key}, ${digest})
        ON CONFLICT (key) DO UPDATE SET value = excluded.value`);
  }
}
