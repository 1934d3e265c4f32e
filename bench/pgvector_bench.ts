/**
 * The Postgres + pgvector index on PGlite (Postgres 17 compiled to WebAssembly, one thread, served
 * over the wire in this process: a native server is faster): rows written per second through
 * `upsert` (the encoding job's path), HNSW build time, storage bytes per passage (table, TOAST and
 * HNSW index, from `pg_relation_size`), and search latency, exact and HNSW (`ef_search` 40 and
 * 400, recall@10 against exact), against the same vectors in an in-process `DenseIndex`. Vectors
 * are uniform random: no cluster structure, the hard case for HNSW. Prints one JSON line.
 * `--storage float16` stores `halfvec` (and builds the HNSW index with `halfvec_ip_ops`); the
 * `DenseIndex` it is compared with then stores float16 too.
 *
 * `deno run -A --lock=bench/deno.lock bench/pgvector_bench.ts [--rows 5000] [--dim 768]
 *   [--storage float32|float16]`
 * @module
 */
import { DenseIndex } from "../index/dense_index.ts";
import { PgVectorIndex } from "../index/pgvector_index.ts";
import { PgServer } from "../tests/index/pg_server.ts";
import { seeded } from "../tests/seeded.ts";

function arg(name: string, fallback: number): number {
  const at = Deno.args.indexOf(`--${name}`);
  return at >= 0 ? Number(Deno.args[at + 1]) : fallback;
}

const rows = arg("rows", 5000);
const dim = arg("dim", 768);
const storageAt = Deno.args.indexOf("--storage");
const storage = storageAt >= 0 ? Deno.args[storageAt + 1] : "float32";
if (storage !== "float32" && storage !== "float16") {
  throw new RangeError(`--storage must be float32 or float16: received ${storage}`);
}
const chunk = 500;
// About a DPR passage: 100 words, drawn from 5,000 generated ones (3-9 letters, about 600
// bytes), so that Postgres's compression of text sees something like prose, not one word repeated.
const vocabulary = Array.from({ length: 5000 }, (_, w) => {
  const letters = seeded(9, 1000 + w).map((x) => Math.floor((x + 1) * 13));
  const length = 3 + (w % 7);
  return String.fromCharCode(...Array.from(letters.subarray(0, length), (l) => 97 + l));
});
const passageText = (i: number) =>
  Array.from(seeded(100, 50_000 + i), (x) => vocabulary[Math.floor((x + 1) * 2500)]!).join(" ");
const server = await PgServer.start();
try {
  const all = seeded(rows * dim, 5);
  const ids = Array.from({ length: rows }, (_, i) => `p${i}`);
  const index = await PgVectorIndex.open(server.url("bench"), { create: true, dim, storage });
  let started = performance.now();
  for (let start = 0; start < rows; start += chunk) {
    const end = Math.min(rows, start + chunk);
    await index.upsert({
      ids: ids.slice(start, end),
      vectors: all.subarray(start * dim, end * dim),
      metadata: ids.slice(start, end).map((id, i) => ({ title: id, text: passageText(start + i) })),
      rows: Array.from({ length: end - start }, (_, i) => start + i),
    });
  }
  const insertS = (performance.now() - started) / 1000;
  const queries = Array.from({ length: 20 }, (_, q) => seeded(dim, 100 + q));
  started = performance.now();
  const exact = await index.search(queries, 10);
  const exactMs = (performance.now() - started) / queries.length;
  started = performance.now();
  await index.createHnswIndex({ m: 16, efConstruction: 64 });
  const buildS = (performance.now() - started) / 1000;
  started = performance.now();
  const approx = await index.search(queries, 10);
  const hnswMs = (performance.now() - started) / queries.length;
  await index.close();
  // A wider candidate list per query (the URL's ef_search): slower, higher recall.
  const wide = await PgVectorIndex.open(server.url("bench"), { efSearch: 400 });
  started = performance.now();
  const approxWide = await wide.search(queries, 10);
  const wideMs = (performance.now() - started) / queries.length;
  await wide.close();
  const dense = new DenseIndex(dim, { storage });
  dense.add(ids, all);
  started = performance.now();
  const local = await dense.search(queries, 10);
  const denseMs = (performance.now() - started) / queries.length;
  const same = exact.every((h, q) =>
    h.map((x) => x.id).join() === local[q]!.map((x) => x.id).join()
  );
  const recall = (hits: typeof approx) => {
    let found = 0;
    hits.forEach((h, q) => {
      const truth = new Set(local[q]!.map((x) => x.id));
      found += h.filter((x) => truth.has(x.id)).length;
    });
    return found / (10 * queries.length);
  };
  await server.stop(); // no client holds PGlite now
  const sizes = await server.db.query<{ heap: number; toast: number; hnsw: number }>(
    `SELECT pg_relation_size('bench')::float8 AS heap,
       coalesce(pg_total_relation_size(reltoastrelid), 0)::float8 AS toast,
       pg_relation_size('bench_embedding_hnsw')::float8 AS hnsw
     FROM pg_class WHERE relname = 'bench'`,
  );
  const s = sizes.rows[0]!;
  console.log(JSON.stringify({
    bench: "pgvector_pglite",
    rows,
    dim,
    storage,
    insert_rows_per_s: Math.round(rows / insertS),
    hnsw_build_s: Number(buildS.toFixed(1)),
    hnsw_build_rows_per_s: Math.round(rows / buildS),
    table_bytes_per_row: Math.round((s.heap + s.toast) / rows),
    hnsw_bytes_per_row: Math.round(s.hnsw / rows),
    exact_ms_per_query: Number(exactMs.toFixed(1)),
    hnsw_ef_search_40_ms_per_query: Number(hnswMs.toFixed(1)),
    hnsw_ef_search_40_recall_at_10: recall(approx),
    hnsw_ef_search_400_ms_per_query: Number(wideMs.toFixed(1)),
    hnsw_ef_search_400_recall_at_10: recall(approxWide),
    dense_index_ms_per_query: Number(denseMs.toFixed(1)),
    exact_same_as_dense_index: same,
  }));
} finally {
  await server.close();
}
