// The Postgres + pgvector index against a real engine: PGlite (Postgres 17 in WebAssembly, with
// pgvector) served over the wire by PGlite-socket in this process; the `postgres` client connects
// by URL as to any server (see pg_server.ts for what PGlite-socket lacks and how it is supplied).
import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { openIndex } from "../../index/open_index.ts";
import { parsePgUrl, redactUrl } from "../../index/pg_url.ts";
import { PgVectorIndex } from "../../index/pgvector_index.ts";
import type { SearchHit } from "../../index/vector_index.ts";
import { seeded } from "../seeded.ts";
import { PgServer } from "./pg_server.ts";

function rows(values: Float32Array, dim: number): Float32Array[] {
  return Array.from(
    { length: values.length / dim },
    (_, i) => values.slice(i * dim, (i + 1) * dim),
  );
}

/** Values that are multiples of 1/8 in [-1, 1]: every inner product is exact, so ties are real. */
function coarse(size: number, seed: number): Float32Array {
  return seeded(size, seed).map((x) => Math.round(x * 8) / 8);
}

const brief = (hits: SearchHit[][]) => hits.map((list) => list.map((h) => [h.id, h.score, h.row]));

async function withServer(run: (server: PgServer) => Promise<void>): Promise<void> {
  const server = await PgServer.start();
  try {
    await run(server);
  } finally {
    await server.close();
  }
}

Deno.test("PgVectorIndex: exact scans rank as DenseIndex, ties included; upsert is idempotent", async () => {
  await withServer(async (server) => {
    const dim = 8;
    const n = 600;
    // Coarse values make many exact ties: both order them by row, lower first.
    const vectors = rows(coarse(n * dim, 3), dim);
    const ids = vectors.map((_, i) => `p${i}`);
    const metadata = ids.map((id, i) => ({ title: `T${i}`, text: `text of ${id}` }));
    const dense = new DenseIndex(dim);
    dense.add(ids, vectors, metadata);

    const index = await PgVectorIndex.open(server.url("psgs"), { create: true, dim });
    assert.equal(index.approximate, false);
    // Written in shuffled chunks, with positions: the order of writes does not matter.
    const order = [400, 0, 200];
    for (const start of order) {
      const at = Array.from({ length: 200 }, (_, i) => start + i);
      await index.upsert({
        ids: at.map((i) => ids[i]!),
        vectors: at.map((i) => vectors[i]!),
        metadata: at.map((i) => metadata[i]!),
        rows: at,
      });
    }
    // The same chunk again (a re-run job): still one row per id.
    await index.upsert({
      ids: ids.slice(0, 200),
      vectors: vectors.slice(0, 200),
      metadata: metadata.slice(0, 200),
      rows: Array.from({ length: 200 }, (_, i) => i),
    });
    assert.equal(await index.count(), n);

    const queries = rows(coarse(12 * dim, 7), dim);
    const expected = await dense.search(queries, 15);
    const got = await index.search(queries, 15);
    assert.deepEqual(brief(got), brief(expected));
    assert.deepEqual(got[0]![0]!.metadata, expected[0]![0]!.metadata);
    const tied = expected.flat().filter((h, i, all) => i > 0 && all[i - 1]!.score === h.score);
    assert.ok(tied.length > 20, `the data has ties (${tied.length})`);

    // Random float32 vectors: the same ids in the same order (pgvector and tfjs sum in different
    // orders, so scores agree to float32 rounding).
    const fine = rows(seeded(n * dim, 11), dim);
    const fineDense = new DenseIndex(dim);
    fineDense.add(ids, fine);
    await index.upsert({ ids, vectors: fine, metadata, rows: ids.map((_, i) => i) });
    const fineQueries = rows(seeded(10 * dim, 13), dim);
    const a = await fineDense.search(fineQueries, 10);
    const b = await index.search(fineQueries, 10);
    assert.deepEqual(b.map((l) => l.map((h) => h.id)), a.map((l) => l.map((h) => h.id)));
    b.flat().forEach((h, i) => assert.ok(Math.abs(h.score - a.flat()[i]!.score) < 1e-5));

    // Passage lookup by id, and a flat query matrix.
    assert.deepEqual(await index.passages(["p5", "nope", "p599"]), [
      { id: "p5", title: "T5", text: "text of p5" },
      null,
      { id: "p599", title: "T599", text: "text of p599" },
    ]);
    const [flat] = await index.search(fineQueries[0]!, 3);
    assert.deepEqual(flat!.map((h) => h.id), a[0]!.slice(0, 3).map((h) => h.id));
    assert.deepEqual(await index.search([], 3), []);

    // Rows without positions go after the largest stored one.
    await index.upsert({ ids: ["extra"], vectors: [new Float32Array(dim).fill(9)] });
    const [top] = await index.search([new Float32Array(dim).fill(1)], 1);
    assert.deepEqual([top![0]!.id, top![0]!.row, top![0]!.metadata], [
      "extra",
      n,
      { title: "", text: "" },
    ]);

    await index.close();
    await assert.rejects(index.count(), /it is closed/);
    // The same table by location, as the CLI opens it (PGlite-socket serves one connection at a
    // time, so the first client has closed).
    const reopened = await openIndex(server.url("psgs"));
    assert.equal(reopened.dim, dim);
    assert.equal(await reopened.count(), n + 1);
    await reopened.close();
  });
});

Deno.test("PgVectorIndex: bad batches are refused before anything is sent", async () => {
  await withServer(async (server) => {
    const index = await PgVectorIndex.open(server.url(), { create: true, dim: 2 });
    try {
      const v = (...x: number[]) => new Float32Array(x);
      await assert.rejects(index.upsert({ ids: ["a", "a"], vectors: [v(1, 0), v(0, 1)] }), /dup/);
      await assert.rejects(index.upsert({ ids: ["a"], vectors: [v(NaN, 0)] }), /NaN/);
      await assert.rejects(index.upsert({ ids: ["a"], vectors: [v(1, 0, 0)] }), /length 2/);
      await assert.rejects(
        index.upsert({ ids: ["a"], vectors: [v(1, 0)], metadata: [{ title: "t", extra: 1 }] }),
        /metadata 0 must be \{title, text\}/,
      );
      await assert.rejects(index.search([v(1, 0)], 0), /k must be a positive integer/);
      await assert.rejects(index.search([v(Infinity, 0)], 1), /query 0 holds NaN or Infinity/);
      assert.equal(await index.count(), 0);
    } finally {
      await index.close();
    }
  });
});

Deno.test("PgVectorIndex: HNSW recall@10 >= 0.95 against exact, 20,000 vectors, vector and halfvec", async () => {
  await withServer(async (server) => {
    // Dimension 16 keeps the WebAssembly engine's build short; the recall bar is the issue's.
    const dim = 16;
    const n = 20000;
    const all = seeded(n * dim, 21);
    const ids = Array.from({ length: n }, (_, i) => `p${i}`);
    const dense = new DenseIndex(dim);
    dense.add(ids, all);
    const queries = rows(seeded(100 * dim, 22), dim);
    const exact = await dense.search(queries, 10);
    for (const storage of ["float32", "float16"] as const) {
      const table = `big_${storage}`;
      const index = await PgVectorIndex.open(server.url(table, "&ef_search=64"), {
        create: true,
        dim,
        storage,
      });
      try {
        let started = performance.now();
        for (let start = 0; start < n; start += 2000) {
          const end = Math.min(n, start + 2000);
          await index.upsert({
            ids: ids.slice(start, end),
            vectors: all.subarray(start * dim, end * dim),
            rows: Array.from({ length: end - start }, (_, i) => start + i),
          });
        }
        const insertS = (performance.now() - started) / 1000;
        started = performance.now();
        await index.createHnswIndex({ m: 16, efConstruction: 64 });
        const buildS = (performance.now() - started) / 1000;
        assert.equal(index.approximate, true);
        started = performance.now();
        const approx = await index.search(queries, 10);
        const searchMs = (performance.now() - started) / 100;
        let found = 0;
        approx.forEach((hits, q) => {
          const truth = new Set(exact[q]!.map((h) => h.id));
          found += hits.filter((h) => truth.has(h.id)).length;
          assert.equal(hits.length, 10);
        });
        const recall = found / (10 * queries.length);
        console.log(
          `PGlite (WebAssembly Postgres), ${n} x ${dim} ${storage}: insert ${
            (n / insertS).toFixed(0)
          } rows/s, HNSW build ${buildS.toFixed(1)} s, search ${
            searchMs.toFixed(1)
          } ms/query, recall@10 ${recall.toFixed(3)}`,
        );
        assert.ok(recall >= 0.95, `${storage}: recall@10 ${recall}`);
      } finally {
        await index.close();
      }
      // The index is built with the column type's inner-product operator class.
      const { rows: defs } = await server.db.query<{ def: string }>(
        `SELECT indexdef AS def FROM pg_indexes WHERE tablename = '${table}' AND indexdef ~ 'hnsw'`,
      );
      const ops = storage === "float16" ? "halfvec_ip_ops" : "vector_ip_ops";
      assert.match(
        defs[0]?.def ?? "",
        new RegExp(`USING hnsw \\(embedding ${ops}\\) WITH \\(m='?16'?, ef_construction='?64'?\\)`),
      );
    }
  });
});

Deno.test("PgVectorIndex float16 (halfvec): exact scans rank as a float16 DenseIndex; clear errors", async () => {
  await withServer(async (server) => {
    const dim = 8;
    const n = 300;
    // Multiples of 1/8 are exact in float16 too: ties, and scores equal to the last bit.
    const coarseRows = rows(coarse(n * dim, 31), dim);
    const fineRows = rows(seeded(n * dim, 33).map((x) => x * 3), dim);
    const ids = coarseRows.map((_, i) => `p${i}`);
    const metadata = ids.map((id) => ({ title: id.toUpperCase(), text: `text of ${id}` }));
    const index = await PgVectorIndex.open(server.url("half"), {
      create: true,
      dim,
      storage: "float16",
    });
    try {
      assert.equal(index.storage, "float16");
      for (const [vectors, seed] of [[coarseRows, 35], [fineRows, 37]] as const) {
        await index.upsert({ ids, vectors, metadata, rows: ids.map((_, i) => i) });
        const dense = new DenseIndex(dim, { storage: "float16" });
        dense.add(ids, vectors, metadata);
        const queries = rows(seeded(10 * dim, seed), dim);
        const want = await dense.search(queries, 12);
        const got = await index.search(queries, 12);
        assert.deepEqual(
          got.map((l) => l.map((h) => [h.id, h.row, h.metadata])),
          want.map((l) => l.map((h) => [h.id, h.row, h.metadata])),
        );
        // The same float16 values on both sides; products agree to float32 rounding.
        got.flat().forEach((h, i) => assert.ok(Math.abs(h.score - want.flat()[i]!.score) < 1e-5));
      }
      assert.equal(await index.count(), n);
      // float16 holds at most 65504 (65519.99 rounds to it); nothing is sent beyond.
      const big = new Float32Array(dim).fill(65519);
      await index.upsert({ ids: ["edge"], vectors: [big] });
      await assert.rejects(
        index.upsert({ ids: ["over"], vectors: [new Float32Array(dim).fill(70000)] }),
        /vector 0 holds 70000, beyond float16's range \(largest 65504\) of the table's halfvec column/,
      );
      assert.equal(await index.count(), n + 1);
    } finally {
      await index.close();
    }
    // The table's type decides; asking for the other one is refused.
    const reopened = await PgVectorIndex.open(server.url("half"));
    assert.deepEqual([reopened.storage, reopened.dim], ["float16", dim]);
    await reopened.close();
    await assert.rejects(
      PgVectorIndex.open(server.url("half"), { storage: "float32" }),
      /table half stores float16 vectors \(halfvec\), float32 was asked for; use another table/,
    );
    await assert.rejects(
      PgVectorIndex.open(server.url("half"), { storage: "int8" as "float16" }),
      /storage must be float32 \(vector\) or float16 \(halfvec\): received "int8"/,
    );
    const { rows: types } = await server.db.query<{ t: string }>(
      "SELECT format_type(atttypid, atttypmod) AS t FROM pg_attribute " +
        "WHERE attrelid = 'half'::regclass AND attname = 'embedding'",
    );
    assert.deepEqual(types, [{ t: `halfvec(${dim})` }]);
  });
});

Deno.test("PgVectorIndex: wrong URL, unreachable server, missing table, other dimension: clear errors", async () => {
  await withServer(async (server) => {
    const bad = [
      ["mysql://h/db", /must start with postgres:\/\//],
      ["postgres://u:secretpw@h:99999/db", /not a valid URL/],
      ["postgres://h/db?table=a;drop", /table must be a plain name/],
      ["postgres://h/db?tabel=x", /unknown parameter "tabel"/],
      ["postgres://h/db?ef_search=0", /ef_search must be an integer from 1 to 1000/],
    ] as const;
    for (const [url, message] of bad) {
      await assert.rejects(PgVectorIndex.open(url), (error: Error) => {
        assert.match(error.message, message);
        assert.ok(!error.message.includes("secretpw"), error.message);
        return true;
      });
    }
    // Nothing listens on a stopped server's port.
    const closed = await PgServer.start();
    const gone = closed.url();
    await closed.close();
    await assert.rejects(
      PgVectorIndex.open(gone.replace("postgres@", "postgres:secretpw@")),
      (error: Error) => {
        assert.match(
          error.message,
          /cannot reach a Postgres server at 127\.0\.0\.1:\d+ \(ECONNREFUSED/,
        );
        assert.match(error.message, /postgres:\*\*\*@127/);
        assert.ok(!error.message.includes("secretpw"));
        return true;
      },
    );
    await assert.rejects(
      PgVectorIndex.open(server.url("nowhere")),
      /table nowhere does not exist in database postgres \(dpr index <passages> <url> creates it\)/,
    );
    const index = await PgVectorIndex.open(server.url("d8"), { create: true, dim: 8 });
    await index.close();
    await assert.rejects(
      PgVectorIndex.open(server.url("d8"), { dim: 768 }),
      /table d8 holds vectors of dimension 8, the encoder gives 768/,
    );
    await assert.rejects(
      PgVectorIndex.open(server.url("d8"), { create: true, dim: 768 }),
      /table d8 holds vectors of dimension 8, the encoder gives 768/,
    );
    await server.db.exec("CREATE TABLE plain (id text, body text)");
    await assert.rejects(
      PgVectorIndex.open(server.url("plain")),
      /table plain lacks the columns ord, title, text, embedding/,
    );
  });
});

Deno.test("PgVectorIndex: wrong credentials are refused by name; the password never shows", async () => {
  await withServer(async (server) => {
    // PGlite accepts any password; the gate asks for one as a server's `password` method does.
    const port = server.passwordGate("right-password");
    const url = (password: string) =>
      `postgres://dpr:${password}@127.0.0.1:${port}/postgres?table=psgs`;
    await assert.rejects(PgVectorIndex.open(url("wrong-password")), (error: Error) => {
      assert.ok(error instanceof Deno.errors.PermissionDenied);
      assert.match(
        error.message,
        /the server refused the credentials of user "dpr" \(password authentication failed/,
      );
      assert.ok(!error.message.includes("wrong-password"), error.message);
      return true;
    });
    // PGPASSWORD stands in for a password the URL leaves out.
    const env = (name: string) => name === "PGPASSWORD" ? "right-password" : undefined;
    const index = await PgVectorIndex.open(
      `postgres://dpr@127.0.0.1:${port}/postgres?table=psgs`,
      { create: true, dim: 4, env },
    );
    assert.equal(await index.count(), 0);
    assert.ok(!index.location.includes("right-password"));
    await index.close();
    await assert.rejects(
      PgVectorIndex.open(`postgres://dpr@127.0.0.1:${port}/postgres`, { env: () => undefined }),
      /credentials of user "dpr".*neither is set/,
    );
  });
});

Deno.test("pg URLs: parsing, defaults and redaction", () => {
  const where = parsePgUrl(
    "postgresql://me:p%40ss@db.example:6543/dpr?table=public.psgs&ef_search=100&sslmode=require",
  );
  assert.deepEqual(
    [where.host, where.port, where.database, where.user, where.password, where.table],
    ["db.example", 6543, "dpr", "me", "p@ss", "public.psgs"],
  );
  assert.equal(where.efSearch, 100);
  assert.equal(where.ssl, "require");
  assert.equal(
    where.redacted,
    "postgresql://me:***@db.example:6543/dpr?table=public.psgs&ef_search=100&sslmode=require",
  );
  const bare = parsePgUrl("postgres://db", (name) => ({ PGUSER: "u", PGPASSWORD: "pw" })[name]);
  assert.deepEqual([bare.user, bare.password, bare.database, bare.port, bare.table], [
    "u",
    "pw",
    "u",
    5432,
    "passages",
  ]);
  assert.equal(redactUrl("postgres://a:b:c@h/x"), "postgres://a:***@h/x");
  assert.equal(redactUrl("postgres://a@h/x"), "postgres://a@h/x");
  assert.equal(redactUrl("not a url password=x"), "not a url password=x");
});
