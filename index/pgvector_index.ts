/**
 * A {@link VectorIndex} in Postgres with the pgvector extension, through the `postgres` client:
 * the index past one machine (many writers, one table; edge functions query it over the network).
 *
 * ```sql
 * CREATE TABLE <table> (
 *   id        text PRIMARY KEY,     -- passage id
 *   ord       bigint NOT NULL,      -- position in the collection: ties rank lower first
 *   title     text NOT NULL,
 *   text      text NOT NULL,
 *   embedding vector(<dim>) NOT NULL  -- or halfvec(<dim>): float16 storage
 * );
 * -- optional, createHnswIndex(): approximate search (halfvec_ip_ops for halfvec)
 * CREATE INDEX <table>_embedding_hnsw ON <table> USING hnsw (embedding vector_ip_ops)
 *   WITH (m = 16, ef_construction = 64);
 * ```
 *
 * With float16 storage (`halfvec`, pgvector 0.7+) vectors are rounded to float16 as a float16
 * `DenseIndex` rounds them, and scores are the stored vectors' inner products with the float32
 * queries, as there (an HNSW search orders its candidates by the query rounded to float16).
 *
 * Ranking is by inner product (`<#>` is its negative). Without an HNSW index, searches are exact
 * scans ordered as {@link DenseIndex} orders them; with one, each search sets `hnsw.ef_search` for
 * its own transaction (`SET LOCAL`). Each `upsert` is one transaction of multi-row
 * `INSERT ... ON CONFLICT (id) DO UPDATE` statements: a batch is stored whole or not at all, and
 * writing it again leaves one row per id. An encoding job writing into the table keeps its
 * settings and chunk digests beside it, in `<table>_dpr_job` ({@link PgVectorIndex.jobLedger}).
 * @module
 */
import postgres from "postgres";
import { parsePgUrl, type PgLocation } from "./pg_url.ts";
import type { SearchHit, StoredPassage, VectorBatch, VectorIndex } from "./vector_index.ts";
import { PgJobLedger } from "./pg_job_ledger.ts";
import { checkIds, rowsOf, vectorLiteral } from "./pg_vectors.ts";

export type {
  RowMetadata,
  SearchHit,
  StoredPassage,
  VectorBatch,
  VectorIndex,
} from "./vector_index.ts";
import { pgError } from "./pg_errors.ts";
import {
  createTable,
  hasHnsw,
  PG_VECTOR_TYPES,
  type PgVectorStorage,
  quoteIdent,
  quoteName,
  tableVectors,
} from "./pg_table.ts";

export type { PgVectorStorage } from "./pg_table.ts";
export type { PgJobLedger } from "./pg_job_ledger.ts";

type Sql = postgres.Sql;

/** Options of {@link PgVectorIndex.open}. */
export interface PgVectorIndexOptions {
  /**
   * Create the table (and the pgvector extension) when missing, with vectors of dimension `dim`
   * (writers: the encoding job). Without it a missing table is an error.
   */
  create?: boolean;
  /** The encoder's dimension: required with `create`; otherwise checked against the table's. */
  dim?: number;
  /**
   * How vectors are stored: "float32" (`vector(d)`, the default with `create`) or "float16"
   * (`halfvec(d)`, half the bytes). Checked against an existing table's when given.
   */
  storage?: PgVectorStorage;
  /** `hnsw.ef_search` for searches (default: the URL's `ef_search`, else 40, never below k). */
  efSearch?: number;
  /** Rows per INSERT statement (default 500). */
  rowsPerStatement?: number;
  /** Most connections the client opens (default 4). */
  maxConnections?: number;
  /** Called inside an upsert's transaction after each statement (testing). */
  afterStatement?: (rowsWritten: number) => Promise<void> | void;
  /** Environment lookup for `PGPASSWORD` and `PGUSER` (default: `Deno.env`). */
  env?: (name: string) => string | undefined;
}

/** Options of {@link PgVectorIndex.createHnswIndex}. */
export interface HnswOptions {
  /** Links per node (pgvector's `m`, default 16). */
  m?: number;
  /** Candidate list size while building (pgvector's `ef_construction`, default 64). */
  efConstruction?: number;
}

/**
 * A passage table in Postgres + pgvector.
 *
 * @example
 * ```ts ignore
 * import { PgVectorIndex } from "./pgvector_index.ts";
 * // PGPASSWORD in the environment, or in the URL; never printed.
 * const index = await PgVectorIndex.open("postgres://dpr@db.example/dpr?table=psgs");
 * const [hits] = await index.search([new Float32Array(768)], 10);
 * await index.close();
 * ```
 */
export class PgVectorIndex implements VectorIndex {
  /** Vector dimension (the table's). */
  readonly dim: number;
  /** How the table stores vectors: "float32" (`vector`) or "float16" (`halfvec`). */
  readonly storage: PgVectorStorage;
  /** The table name. */
  readonly table: string;
  /** The URL with its password hidden. */
  readonly location: string;
  /** Where encoding jobs record their settings and chunks (`<table>_dpr_job`). */
  readonly jobLedger: PgJobLedger;
  #sql: Sql;
  #efSearch: number;
  #rowsPerStatement: number;
  #hnsw: boolean;
  #afterStatement: PgVectorIndexOptions["afterStatement"];
  #where: PgLocation;
  #closed = false;

  private constructor(
    sql: Sql,
    where: PgLocation,
    dim: number,
    storage: PgVectorStorage,
    hnsw: boolean,
    options: PgVectorIndexOptions,
  ) {
    this.#sql = sql;
    this.#where = where;
    this.dim = dim;
    this.storage = storage;
    this.jobLedger = new PgJobLedger(
      sql,
      where,
      (batch, what, extra) => this.#write(batch, what, extra),
    );
    this.table = where.table;
    this.location = where.redacted;
    this.#hnsw = hnsw;
    this.#efSearch = options.efSearch ?? where.efSearch ?? 40;
    this.#rowsPerStatement = options.rowsPerStatement ?? 500;
    this.#afterStatement = options.afterStatement;
  }

  /**
   * Connects and checks the table (creating it with `create`).
   * @param url `postgres://user[:password]@host[:port]/database?table=name[&ef_search=n]`
   * @param options creation, dimension check, batch sizes
   * @returns the open index
   */
  static async open(url: string, options: PgVectorIndexOptions = {}): Promise<PgVectorIndex> {
    const where = parsePgUrl(url, options.env);
    const positive = (name: string, value: number | undefined, max: number) => {
      if (value !== undefined && (!Number.isInteger(value) || value < 1 || value > max)) {
        throw new RangeError(
          `Cannot open the Postgres index ${where.redacted}: ${name} must be an integer from 1 ` +
            `to ${max}: received ${value}`,
        );
      }
    };
    positive("dim", options.dim, 16000);
    positive("efSearch", options.efSearch, 1000);
    positive("rowsPerStatement", options.rowsPerStatement, 100000);
    positive("maxConnections", options.maxConnections, 1000);
    if (options.storage !== undefined && !(options.storage in PG_VECTOR_TYPES)) {
      throw new RangeError(
        `Cannot open the Postgres index ${where.redacted}: storage must be float32 (vector) or ` +
          `float16 (halfvec): received ${JSON.stringify(options.storage)}`,
      );
    }
    if (options.create && options.dim === undefined) {
      throw new TypeError(
        `Cannot create the Postgres index ${where.redacted}: give the vector dimension (dim)`,
      );
    }
    const sql = postgres({
      host: where.host,
      port: where.port,
      database: where.database,
      user: where.user,
      password: where.password,
      ssl: where.ssl === undefined || where.ssl === "disable" ? false : where.ssl,
      max: options.maxConnections ?? 4,
      connect_timeout: where.connectTimeout,
      idle_timeout: 30,
      onnotice: () => {},
      connection: { application_name: "dpr" },
    });
    try {
      if (options.create) {
        await createTable(sql, where, options.dim!, options.storage ?? "float32");
      }
      const { dim, storage } = await tableVectors(sql, where);
      if (options.dim !== undefined && dim !== options.dim) {
        throw new RangeError(
          `Cannot use the Postgres index ${where.redacted}: table ${where.table} holds vectors of ` +
            `dimension ${dim}, the encoder gives ${options.dim}; use another table`,
        );
      }
      if (options.storage !== undefined && storage !== options.storage) {
        throw new RangeError(
          `Cannot use the Postgres index ${where.redacted}: table ${where.table} stores ` +
            `${storage} vectors (${PG_VECTOR_TYPES[storage]}), ${options.storage} was asked ` +
            `for; use another table`,
        );
      }
      const hnsw = await hasHnsw(sql, where.table);
      return new PgVectorIndex(sql, where, dim, storage, hnsw, options);
    } catch (error) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw pgError(error, `open the Postgres index ${where.redacted}`, where);
    }
  }

  #check(what: string): void {
    if (this.#closed) {
      throw new TypeError(`Cannot ${what} the Postgres index ${this.location}: it is closed`);
    }
  }

  /** Whether the table has an HNSW index (searches are then approximate). */
  get approximate(): boolean {
    return this.#hnsw;
  }

  /**
   * {@link VectorIndex.search}: one top-k statement per query, in one transaction.
   * @param queries one vector of length `dim` per query, or a flat row-major matrix
   * @param k how many hits per query
   * @returns the hits per query, best first
   */
  async search(queries: Float32Array | readonly Float32Array[], k: number): Promise<SearchHit[][]> {
    this.#check("search");
    if (!Number.isInteger(k) || k <= 0) {
      throw new RangeError(
        `Cannot search the Postgres index ${this.location}: k must be a positive integer: ` +
          `received ${k}`,
      );
    }
    // A float16 table's HNSW search rounds the query to float16 (the index's type).
    const vectors = rowsOf(
      queries,
      this.dim,
      this.#hnsw ? this.storage : "float32",
      `search the Postgres index ${this.location}`,
      "query",
    );
    if (vectors.length === 0) return [];
    const efSearch = Math.min(1000, Math.max(this.#efSearch, k));
    // One plain top-k statement per query, in one transaction: a form every server plans well,
    // Citus included (it pushes ORDER BY ... LIMIT down to each shard and merges).
    // Scores: the stored vectors (a halfvec widened) against the float32 query, as DenseIndex.
    // The query ($1) is sent as text and cast: a parameter typed vector, a type the client does
    // not know, left the client waiting for an answer (against PGlite). Exact scans order ties by
    // position, as DenseIndex does. An HNSW index serves only "ORDER BY embedding <#> q" (q of
    // the column's type), so with one, ties are ordered here afterwards.
    const product = this.storage === "float16"
      ? "embedding::vector <#> $1::text::vector"
      : "embedding <#> $1::text::vector";
    const order = !this.#hnsw
      ? `${product}, ord, id`
      : this.storage === "float16"
      ? "embedding <#> $1::text::halfvec"
      : product;
    const text = `SELECT id, ord::text AS ord, title, text, -(${product}) AS s ` +
      `FROM ${quoteName(this.table)} ORDER BY ${order} LIMIT ${k}`;
    type Row = { id: string; ord: string; title: string; text: string; s: number };
    let results: Row[][];
    try {
      results = await this.#sql.begin(async (tx) => {
        if (this.#hnsw) await tx.unsafe(`SET LOCAL hnsw.ef_search = ${efSearch}`);
        const out: Row[][] = [];
        for (const v of vectors) {
          out.push(await tx.unsafe(text, [vectorLiteral(v, "float32")]) as unknown as Row[]);
        }
        return out;
      }) as unknown as Row[][];
    } catch (error) {
      throw pgError(error, `search the Postgres index ${this.location}`, this.#where);
    }
    const hits: SearchHit[][] = results.map((rows) =>
      rows.map((r) => ({
        id: r.id,
        score: r.s,
        row: Number(r.ord),
        metadata: { title: r.title, text: r.text },
      }))
    );
    for (const list of hits) list.sort((a, b) => b.score - a.score || a.row - b.row);
    return hits;
  }

  /**
   * {@link VectorIndex.passages}: title and text by id.
   * @param ids the ids
   * @returns one entry per id, null where the id is not stored
   */
  async passages(ids: readonly string[]): Promise<Array<StoredPassage | null>> {
    this.#check("read");
    checkIds(ids, `read the Postgres index ${this.location}`);
    if (ids.length === 0) return [];
    let rows: Array<{ id: string; title: string; text: string }>;
    try {
      rows = await this.#sql`
        SELECT id, title, text FROM ${this.#sql(this.table)} WHERE id = ANY(${ids as string[]})
      ` as unknown as typeof rows;
    } catch (error) {
      throw pgError(error, `read the Postgres index ${this.location}`, this.#where);
    }
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => {
      const r = byId.get(id);
      return r === undefined ? null : { id, title: r.title, text: r.text };
    });
  }

  /**
   * {@link VectorIndex.upsert}: one transaction; rows of an id already stored are replaced.
   * Metadata must be `{title, text}` (or null: both empty). Rows without a position get the
   * next one after the largest stored.
   * @param batch ids, vectors, `{title, text}` metadata and positions
   */
  async upsert(batch: VectorBatch): Promise<void> {
    await this.#write(batch, `write to the Postgres index ${this.location}`);
  }

  /** One transaction: the batch's rows, then `extra` (a job's ledger entry). */
  async #write(
    batch: VectorBatch,
    what: string,
    extra?: (tx: postgres.TransactionSql) => Promise<unknown>,
  ): Promise<void> {
    this.#check("write to");
    const { ids, metadata, rows } = batch;
    checkIds(ids, what);
    const vectors = rowsOf(batch.vectors, this.dim, this.storage, what, "vector");
    if (vectors.length !== ids.length) {
      throw new RangeError(`Cannot ${what}: got ${ids.length} ids but ${vectors.length} vectors`);
    }
    if (new Set(ids).size !== ids.length) {
      const dup = ids.find((id, i) => ids.indexOf(id) !== i);
      throw new RangeError(`Cannot ${what}: duplicate id ${JSON.stringify(dup)} in one batch`);
    }
    for (const [name, list] of [["metadata", metadata], ["rows", rows]] as const) {
      if (list !== undefined && list.length !== ids.length) {
        throw new RangeError(
          `Cannot ${what}: got ${ids.length} ids but ${list.length} ${name} entries`,
        );
      }
    }
    const titles: string[] = [];
    const texts: string[] = [];
    (metadata ?? ids.map(() => null)).forEach((m, i) => {
      if (m === null || m === undefined) {
        titles.push("");
        texts.push("");
        return;
      }
      const ok = typeof m === "object" && !Array.isArray(m) &&
        Object.keys(m).every((key) => key === "title" || key === "text") &&
        (m.title === undefined || typeof m.title === "string") &&
        (m.text === undefined || typeof m.text === "string");
      if (!ok) {
        throw new TypeError(
          `Cannot ${what}: metadata ${i} must be {title, text} strings (the table's columns): ` +
            `received ${JSON.stringify(m).slice(0, 80)}`,
        );
      }
      titles.push((m as { title?: string }).title ?? "");
      texts.push((m as { text?: string }).text ?? "");
    });
    rows?.forEach((r, i) => {
      if (!Number.isSafeInteger(r) || r < 0) {
        throw new RangeError(`Cannot ${what}: rows[${i}] must be an integer >= 0: received ${r}`);
      }
    });
    const literals = vectors.map((v) => vectorLiteral(v, this.storage));
    if (ids.length === 0 && extra === undefined) return;
    const table = this.#sql(this.table);
    const type = this.#sql.unsafe(PG_VECTOR_TYPES[this.storage]);
    try {
      await this.#sql.begin(async (tx) => {
        let ords: Array<string | number>;
        if (rows !== undefined) ords = rows as number[];
        else {
          // Positions after the largest stored one; the lock makes concurrent writers wait.
          await tx`LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`;
          const [top] = await tx`SELECT coalesce(max(ord) + 1, 0)::text AS next FROM ${table}`;
          const next = BigInt(top!.next as string);
          ords = ids.map((_, i) => (next + BigInt(i)).toString());
        }
        for (let start = 0; start < ids.length; start += this.#rowsPerStatement) {
          const end = Math.min(ids.length, start + this.#rowsPerStatement);
          await tx`
            INSERT INTO ${table} (id, ord, title, text, embedding)
            SELECT u.id, u.ord::bigint, u.title, u.text, u.embedding::${type}
            FROM unnest(
              ${ids.slice(start, end) as string[]}::text[],
              ${ords.slice(start, end).map(String)}::text[],
              ${titles.slice(start, end)}::text[],
              ${texts.slice(start, end)}::text[],
              ${literals.slice(start, end)}::text[]
            ) AS u(id, ord, title, text, embedding)
            ON CONFLICT (id) DO UPDATE SET ord = excluded.ord, title = excluded.title,
              text = excluded.text, embedding = excluded.embedding`;
          await this.#afterStatement?.(end);
        }
        await extra?.(tx);
      });
    } catch (error) {
      throw pgError(error, what, this.#where, "nothing of this batch was stored");
    }
  }

  /**
   * {@link VectorIndex.count}: the number of rows.
   * @returns the count
   */
  async count(): Promise<number> {
    this.#check("count");
    try {
      const [row] = await this.#sql`SELECT count(*)::text AS n FROM ${this.#sql(this.table)}`;
      return Number(row!.n);
    } catch (error) {
      throw pgError(error, `count the Postgres index ${this.location}`, this.#where);
    }
  }

  /**
   * Builds an HNSW index for inner product (`vector_ip_ops`) unless the table has one; later
   * searches are approximate. Building after the rows are in is faster than inserting into one.
   * @param options `m` and `efConstruction`
   */
  async createHnswIndex(options: HnswOptions = {}): Promise<void> {
    this.#check("index");
    const m = options.m ?? 16;
    const ef = options.efConstruction ?? 64;
    if (!Number.isInteger(m) || m < 2 || m > 100) {
      throw new RangeError(`Cannot build an HNSW index: m must be 2..100: received ${m}`);
    }
    if (!Number.isInteger(ef) || ef < 2 * m || ef > 1000) {
      throw new RangeError(
        `Cannot build an HNSW index: efConstruction must be ${2 * m}..1000 (at least 2m): ` +
          `received ${ef}`,
      );
    }
    const name = `${this.table.replace(/^.*\./, "")}_embedding_hnsw`;
    try {
      await this.#sql.unsafe(
        `CREATE INDEX IF NOT EXISTS ${quoteIdent(name)} ON ${quoteName(this.table)} ` +
          `USING hnsw (embedding ${PG_VECTOR_TYPES[this.storage]}_ip_ops) ` +
          `WITH (m = ${m}, ef_construction = ${ef})`,
      );
    } catch (error) {
      throw pgError(error, `build an HNSW index on ${this.location}`, this.#where);
    }
    this.#hnsw = true;
  }

  /** {@link VectorIndex.close}: ends the connections (waits up to 5 s for running queries). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#sql.end({ timeout: 5 });
  }

  /** Closes the index (`await using index = await PgVectorIndex.open(url)`). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
