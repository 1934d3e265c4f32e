// The encoding job writing into Postgres + pgvector (PGlite over the wire): the server dies in
// the middle of a chunk's transaction, at a known statement, and the re-run completes with
// exactly one row per passage.
import assert from "node:assert/strict";
import { PgVectorIndex } from "../../index/pgvector_index.ts";
import { mergeShards, runEncodeJob } from "../../pipeline/encode_passages.ts";
import { PgServer } from "../index/pg_server.ts";
import { FakeEncoder, generatedPassagesTsv } from "./helpers/fake_encoder.ts";

Deno.test("runEncodeJob into Postgres: the server dies mid-chunk; the re-run leaves one row per passage", async () => {
  const dir = await Deno.makeTempDir();
  const server = await PgServer.start();
  try {
    const tsv = `${dir}/p.tsv`;
    await Deno.writeTextFile(tsv, generatedPassagesTsv(230));
    const encoder = new FakeEncoder(8);
    const job = { passages: tsv, encoder, chunkSize: 50, batchSize: 16, progress: false };
    // Reference: the folder job, merged.
    await runEncodeJob({ ...job, outDir: `${dir}/folder` });
    const reference = await mergeShards(`${dir}/folder`);

    // Chunks of 50 go in statements of 20 rows: 3 statements a chunk. The server stops after
    // the first statement of chunk 2 (the 7th), inside that chunk's transaction.
    let statements = 0;
    let stopped: Promise<void> | undefined;
    const index = await PgVectorIndex.open(server.url("psgs"), {
      create: true,
      dim: 8,
      rowsPerStatement: 20,
      afterStatement: async () => {
        if (++statements === 7) await (stopped = server.stop());
      },
    });
    const chunksDone: number[] = [];
    await assert.rejects(
      runEncodeJob({ ...job, index, afterChunk: (c) => void chunksDone.push(c) }),
      (error: Error) => {
        assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
        assert.match(
          error.message,
          /^Cannot write to the Postgres index postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?table=psgs: the connection to the Postgres server at 127\.0\.0\.1:\d+ was lost \(CONNECTION_CLOSED\); nothing of this batch was stored$/,
        );
        return true;
      },
    );
    // The client gives up as soon as the connection drops; the server finishes stopping.
    await stopped;
    assert.deepEqual(chunksDone, [0, 1], "chunk 2 is not reported done");
    await index.close();

    // What survived: exactly chunks 0 and 1 (the open transaction died with the connection).
    // (The test reads PGlite directly only while no client is connected: PGlite-socket holds
    // the engine for its one connection.)
    assert.deepEqual((await server.db.query("SELECT count(*)::int AS n FROM psgs")).rows, [{
      n: 100,
    }]);
    // A partial chunk (as another writer's crash could leave) is found and rewritten too.
    await server.db.exec("DELETE FROM psgs WHERE id IN ('3', '77')");
    await server.listen();
    const after = await PgVectorIndex.open(server.url("psgs"), { dim: 8, rowsPerStatement: 20 });
    assert.equal(await after.count(), 98);
    const rerun = await runEncodeJob({ ...job, index: after });
    assert.deepEqual(
      [rerun.chunksSkipped, rerun.chunksWritten, rerun.passagesEncoded, rerun.totalPassages],
      [0, 5, 230, 230],
    );
    // Once more: nothing to do.
    const again = await runEncodeJob({ ...job, index: after });
    assert.deepEqual([again.chunksSkipped, again.chunksWritten], [5, 0]);

    // The table searches as the folder index does: same ids, rows and scores.
    const queries = Array.from({ length: 6 }, (_, q) => reference.vector(q * 37));
    const want = await reference.search(queries, 12);
    const got = await after.search(queries, 12);
    // Scores agree to float32 rounding (pgvector and tfjs sum in different orders).
    const brief = (hits: typeof want) => hits.map((l) => l.map((h) => [h.id, h.row, h.metadata]));
    assert.deepEqual(brief(got), brief(want));
    got.flat().forEach((h, i) => {
      const expected = want.flat()[i]!.score;
      assert.ok(Math.abs(h.score - expected) <= 1e-6 * Math.abs(expected), `${h.score}`);
    });
    await after.close();
    const stats = await server.db.query<{ n: number; ids: number; lo: number; hi: number }>(
      "SELECT count(*)::int AS n, count(DISTINCT id)::int AS ids, min(ord)::int AS lo, " +
        "max(ord)::int AS hi FROM psgs",
    );
    assert.deepEqual(stats.rows[0], { n: 230, ids: 230, lo: 0, hi: 229 });

    // A table of another dimension is refused before any encoding.
    const other = await PgVectorIndex.open(server.url("psgs"));
    await assert.rejects(
      runEncodeJob({ ...job, encoder: new FakeEncoder(4), index: other }),
      /the index holds vectors of dimension 8, the encoder gives 4/,
    );
    await other.close();
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
