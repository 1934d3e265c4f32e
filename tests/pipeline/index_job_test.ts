// An encoding job writing into Postgres (PGlite over the wire) records its settings and each
// chunk's passage digest beside the table (<table>_dpr_job): the same job resumes (with any
// number of shards), another model, other options or changed passages are refused with nothing
// written, and a table of rows no job recorded is refused.
import assert from "node:assert/strict";
import { PgVectorIndex } from "../../index/pgvector_index.ts";
import { runEncodeJob } from "../../pipeline/encode_passages.ts";
import { PgServer } from "../index/pg_server.ts";
import { FakeEncoder, generatedPassagesTsv } from "./helpers/fake_encoder.ts";

Deno.test("runEncodeJob into Postgres: the job's settings and passages are checked on every re-run", async () => {
  const dir = await Deno.makeTempDir();
  const server = await PgServer.start();
  // PGlite-socket serves one connection at a time: one index open at once, closed after use.
  const withIndex = async <T>(run: (index: PgVectorIndex) => Promise<T>): Promise<T> => {
    const index = await PgVectorIndex.open(server.url("psgs"), { create: true, dim: 8 });
    try {
      return await run(index);
    } finally {
      await index.close();
    }
  };
  try {
    const tsv = `${dir}/p.tsv`;
    await Deno.writeTextFile(tsv, generatedPassagesTsv(120));
    const encoder = new FakeEncoder(8);
    const fingerprint = { contextEncoder: "models/ctx", maxLength: 24, dim: 8 };
    const job = { passages: tsv, encoder, chunkSize: 40, batchSize: 16, progress: false };
    const run = (extra: Record<string, unknown> = {}) =>
      withIndex((index) => runEncodeJob({ ...job, fingerprint, index, ...extra }));

    // Shard 1 of 2 first (chunk 1), then the rest as one shard: the shard count may change.
    const first = await run({ shardId: 1, numShards: 2 });
    assert.deepEqual([first.chunksWritten, first.chunksSkipped], [1, 0]);
    const rest = await run();
    assert.deepEqual([rest.chunksWritten, rest.chunksSkipped], [2, 1]);
    const again = await run();
    assert.deepEqual([again.chunksWritten, again.chunksSkipped], [0, 3]);

    // Another model, other token types, another chunk size: refused before any encoding.
    const refusals: Array<[Record<string, unknown>, RegExp]> = [
      [{ fingerprint: { ...fingerprint, contextEncoder: "models/other" } }, /models\/other/],
      [{ tokenTypes: "pair" }, /"tokenTypes":"pair"/],
      [{ chunkSize: 30 }, /"chunkSize":30/],
    ];
    for (const [extra, detail] of refusals) {
      const calls = encoder.calls.length;
      await assert.rejects(run(extra), (error: Error) => {
        assert.ok(error instanceof RangeError, String(error));
        assert.match(
          error.message,
          /^Cannot resume the encoding job in postgres:\/\/postgres@127\.0\.0\.1:\d+\/postgres\?table=psgs: it holds a job with the settings \{"fingerprint":\{"contextEncoder":"models\/ctx".*"chunkSize":40.*\}, this run's are .*Refused, nothing was written/,
        );
        assert.match(error.message, detail);
        return true;
      });
      assert.equal(encoder.calls.length, calls, "nothing was encoded");
    }

    // Changed passages: the chunk that differs is named, nothing is overwritten.
    const lines = generatedPassagesTsv(120).split("\n");
    lines[55] = lines[55]!.replace("number 54", "number fifty-four");
    await Deno.writeTextFile(tsv, lines.join("\n"));
    await assert.rejects(
      run(),
      /chunk 1 was encoded from other passages than .*p\.tsv holds now \(sha256 [0-9a-f]{64}, now [0-9a-f]{64}\); the passage file changed since\. Refused, nothing was overwritten/,
    );
    const [kept] = await withIndex((index) => index.passages(["55"]));
    assert.match(kept!.text, /number 54$/);

    // A chunk stored whole with its digest gone (removed by hand) is not taken for done.
    await server.db.exec("DELETE FROM psgs_dpr_job WHERE key = 'chunk-000002'");
    await Deno.writeTextFile(tsv, generatedPassagesTsv(120));
    await assert.rejects(
      run(),
      /the passages of chunk 2 are stored but no job recorded them, so what they were encoded from is unknown\. Refused, nothing was overwritten/,
    );
    await server.db.exec("DELETE FROM psgs WHERE id IN ('81', '82')"); // rows 80 and 81: chunk 2
    const rewritten = await run();
    assert.deepEqual([rewritten.chunksWritten, rewritten.chunksSkipped], [1, 2]);

    // Rows no job recorded (written by upsert) cannot be resumed over.
    const other = await PgVectorIndex.open(server.url("hand"), { create: true, dim: 8 });
    await other.upsert({ ids: ["1"], vectors: [new Float32Array(8)] });
    await assert.rejects(
      runEncodeJob({ ...job, passages: tsv, index: other }),
      /table hand holds rows that no encoding job recorded .* Refused, nothing was written: write into another table, or empty this one \(TRUNCATE hand\)/,
    );
    await other.close();

    // What the ledger holds: the settings and one digest per chunk.
    const { rows } = await server.db.query<{ key: string }>(
      "SELECT key FROM psgs_dpr_job ORDER BY key",
    );
    assert.deepEqual(rows.map((r) => r.key), [
      "chunk-000000",
      "chunk-000001",
      "chunk-000002",
      "settings",
    ]);
    const { rows: count } = await server.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM psgs",
    );
    assert.deepEqual(count, [{ n: 120 }]);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
