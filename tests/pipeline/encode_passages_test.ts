import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { embedEncoded, padBatch, tokenizePassage } from "../../pipeline/dense_encoder.ts";
import { mergeShards, runEncodeJob, shardDir } from "../../pipeline/encode_passages.ts";
import { formatDuration, progressLine } from "../../pipeline/progress.ts";
import { FakeEncoder, generatedPassagesTsv } from "./helpers/fake_encoder.ts";

Deno.test("embedEncoded: length bucketing pads per batch and restores input order", async () => {
  const enc = new FakeEncoder(4, 64);
  const texts = ["a b c d e f g", "a", "a b c", "a b", "a b c d e", "x y", "q"];
  const inputs = texts.map((t) => enc.tokenize(t));
  const vectors = await embedEncoded(enc, inputs, 3);
  // Sorted lengths 3,3,4 | 4,5,7 | 9: each batch is padded to its own longest.
  assert.deepEqual(enc.calls, [[4, 4, 4], [7, 7, 7], [9]]);
  for (const [i, input] of inputs.entries()) {
    const [alone] = await enc.embed(padBatch([input], 0));
    assert.deepEqual(vectors[i], alone);
  }
  await assert.rejects(() => embedEncoded(enc, inputs, 0), RangeError);
});

Deno.test("tokenizePassage: all-zero token types by default, the tokenizer's with 'pair'", () => {
  const enc = new FakeEncoder();
  const zeros = tokenizePassage(enc, "Title", "some text");
  assert.deepEqual(zeros.tokenTypeIds, [0, 0, 0, 0, 0, 0]);
  const pair = tokenizePassage(enc, "Title", "some text", "pair");
  assert.deepEqual(pair.tokenTypeIds, [0, 0, 0, 1, 1, 1]);
  assert.deepEqual(pair.inputIds, zeros.inputIds);
  assert.deepEqual(
    tokenizePassage(enc, "", "some text").inputIds,
    enc.tokenize("some text").inputIds,
  );
});

Deno.test("progressLine: rate, percentage and ETA", () => {
  assert.equal(formatDuration(3725), "1:02:05");
  const line = progressLine({ done: 50, skipped: 50, total: 200, label: "shard 1/2" }, 10);
  assert.match(line, /^shard 1\/2 {2}100 passages {2}\(50 resumed\) {2}5\.0 passages\/s/);
  assert.match(line, /50\.0% {2}ETA 0:00:20/);
});

async function runJob(tsv: string, out: string, shardId: number, numShards: number) {
  return await runEncodeJob({
    passages: tsv,
    outDir: out,
    encoder: new FakeEncoder(),
    shardId,
    numShards,
    chunkSize: 40,
    batchSize: 8,
    progress: false,
  });
}

Deno.test("runEncodeJob + mergeShards: 3 shards merge to the same index as 1 shard", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tsv = `${dir}/p.tsv`;
    await Deno.writeTextFile(tsv, generatedPassagesTsv(250));
    const single = await runJob(tsv, `${dir}/one`, 0, 1);
    assert.deepEqual(
      [single.chunksWritten, single.totalPassages, single.totalChunks],
      [7, 250, 7],
    );
    const one = await mergeShards(`${dir}/one`);
    assert.equal(one.size, 250);
    assert.deepEqual(one.metadata(0), { title: "Title 0", text: "river mountain violin number 0" });

    await runJob(tsv, `${dir}/three`, 1, 3);
    await assert.rejects(() => mergeShards(`${dir}/three`), /shard 0 has not started/);
    await runJob(tsv, `${dir}/three`, 0, 3);
    await runJob(tsv, `${dir}/three`, 2, 3);
    await mergeShards(`${dir}/three`);
    const three = await DenseIndex.load(`${dir}/three`);
    assert.deepEqual(three.ids, one.ids);
    assert.deepEqual(three.vectors, one.vectors);

    // Brute force: every vector equals the passage encoded alone.
    const enc = new FakeEncoder();
    const text7 = (one.metadata(7) as { text: string }).text;
    const [v7] = await enc.embed(padBatch([tokenizePassage(enc, "Title 7", text7)], 0));
    assert.deepEqual(one.vector(7), v7);

    // A finished job is not redone; a changed setting is refused.
    const again = await runJob(tsv, `${dir}/one`, 0, 1);
    assert.equal(again.chunksWritten, 0);
    await assert.rejects(
      () => runEncodeJob({ passages: tsv, outDir: `${dir}/one`, encoder: enc, chunkSize: 41 }),
      /settings .* differ/,
    );
    await assert.rejects(() => runJob(tsv, `${dir}/x`, 3, 3), RangeError);
    // A missing chunk is reported by merge.
    await Deno.remove(`${shardDir(`${dir}/three`, 1, 3)}/chunk-000004`, { recursive: true });
    await assert.rejects(() => mergeShards(`${dir}/three`), /chunk 4 is missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runEncodeJob: a collection with fewer chunks than shards is sharded by passage", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tsv = `${dir}/p.tsv`;
    await Deno.writeTextFile(tsv, generatedPassagesTsv(42));
    // 42 passages make 2 chunks of 40 for 3 shards: chunks of floor(42 / 3) = 14 instead.
    const results = [];
    for (const shard of [2, 0, 1]) results.push(await runJob(tsv, `${dir}/three`, shard, 3));
    for (const r of results) {
      assert.deepEqual([r.chunkSize, r.totalChunks, r.chunksWritten], [14, 3, 1]);
    }
    const merged = await mergeShards(`${dir}/three`);
    const single = await runJob(tsv, `${dir}/one`, 0, 1);
    assert.equal(single.chunkSize, 40, "one shard keeps the chunk size");
    assert.deepEqual(merged.ids, (await mergeShards(`${dir}/one`)).ids);
    // A collection with enough chunks keeps the chunk size; fewer passages than shards leave a
    // shard empty, which its result shows.
    assert.equal((await runJob(tsv, `${dir}/two`, 0, 2)).chunkSize, 40);
    await Deno.writeTextFile(tsv, generatedPassagesTsv(2));
    const empty = await runJob(tsv, `${dir}/tiny`, 2, 3);
    assert.deepEqual([empty.chunkSize, empty.totalChunks, empty.chunksWritten], [1, 2, 0]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runEncodeJob: a shard killed midway resumes without redoing chunks", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tsv = `${dir}/p.tsv`;
    await Deno.writeTextFile(tsv, generatedPassagesTsv(300));
    const script = new URL("./helpers/encode_job_script.ts", import.meta.url).pathname;
    const run = (out: string, shard: number, killAfter: number) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", script, tsv, out, String(shard), "2", "25", String(killAfter)],
        stdout: "piped",
        stderr: "piped",
      });

    // Reference: both shards uninterrupted.
    for (const s of [0, 1]) assert.ok((await run(`${dir}/ref`, s, 0).output()).success);
    const reference = await mergeShards(`${dir}/ref`);

    // Shard 0 kills itself right after writing its second chunk (of 6).
    const status = await run(`${dir}/crash`, 0, 2).output();
    assert.equal(status.signal, "SIGKILL", "the job should have been killed before finishing");
    const chunks = () =>
      [...Deno.readDirSync(shardDir(`${dir}/crash`, 0, 2))].filter((e) =>
        /^chunk-\d+$/.test(e.name)
      ).map((e) => e.name).sort();
    const before = chunks();
    assert.equal(before.length, 2, `chunks before restart: ${before}`);
    const mtimes = before.map((c) =>
      Deno.statSync(`${shardDir(`${dir}/crash`, 0, 2)}/${c}/vectors.npy`).mtime?.getTime()
    );

    const resumed = await run(`${dir}/crash`, 0, 0).output();
    assert.ok(resumed.success, new TextDecoder().decode(resumed.stderr));
    const result = JSON.parse(new TextDecoder().decode(resumed.stdout).trim().split("\n").at(-1)!);
    assert.equal(result.chunksSkipped, before.length);
    assert.equal(result.chunksWritten, 6 - before.length);
    assert.deepEqual(
      before.map((c) =>
        Deno.statSync(`${shardDir(`${dir}/crash`, 0, 2)}/${c}/vectors.npy`).mtime?.getTime()
      ),
      mtimes,
    );
    assert.ok((await run(`${dir}/crash`, 1, 0).output()).success);
    const merged = await mergeShards(`${dir}/crash`);
    assert.deepEqual(merged.ids, reference.ids);
    assert.deepEqual(merged.vectors, reference.vectors);
    assert.deepEqual(
      await Deno.readFile(`${dir}/crash/vectors.npy`),
      await Deno.readFile(`${dir}/ref/vectors.npy`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runEncodeJob: resuming with a different passage file is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tsv = `${dir}/p.tsv`;
    await Deno.writeTextFile(tsv, generatedPassagesTsv(30));
    const encoder = new FakeEncoder();
    const job = { passages: tsv, outDir: `${dir}/out`, encoder, chunkSize: 10, progress: false };
    // The first run stops after its first chunk, as a crash would.
    await assert.rejects(
      runEncodeJob({
        ...job,
        afterChunk: () => {
          throw new Error("crash");
        },
      }),
      /crash/,
    );
    await Deno.writeTextFile(tsv, generatedPassagesTsv(40));
    await assert.rejects(runEncodeJob(job), {
      name: "RangeError",
      message: /Cannot resume the encoding job .*passagesBytes/,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
