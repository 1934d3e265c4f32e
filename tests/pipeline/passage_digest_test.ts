// The encoding job's resume check: a passage file changed after a crash (same size, other
// content) is refused, naming the chunk, never mixed with the chunks already encoded; a finished
// shard re-run on a changed file is refused too; a change past the encoded chunks is fine.
import assert from "node:assert/strict";
import { mergeShards, runEncodeJob, shardDir } from "../../pipeline/encode_passages.ts";
import { PassageDigest, passageFileDigest } from "../../pipeline/passage_digest.ts";
import { FakeEncoder, generatedPassagesTsv } from "./helpers/fake_encoder.ts";

/** The same file with one letter of passage `id`'s text changed: same size, other content. */
function editPassage(tsv: string, id: number): string {
  const lines = tsv.split("\n");
  const i = lines.findIndex((line) => line.startsWith(`${id}\t`));
  lines[i] = lines[i]!.replace("number", "numbex");
  const out = lines.join("\n");
  assert.equal(out.length, tsv.length);
  assert.notEqual(out, tsv);
  return out;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A job over `tsv` in chunks of 10 that crashes after `crashAfter` chunks when given. */
function job(tsv: string, out: string, crashAfter?: number) {
  let written = 0;
  return runEncodeJob({
    passages: tsv,
    outDir: out,
    encoder: new FakeEncoder(),
    chunkSize: 10,
    progress: false,
    afterChunk: () => {
      if (++written === crashAfter) throw new Error("crash");
    },
  });
}

Deno.test("PassageDigest: per chunk and whole; fields cannot shift between passages", async () => {
  const a = new PassageDigest();
  a.add({ id: "1", title: "t", text: "a\tb" });
  const b = new PassageDigest();
  b.add({ id: "1", title: "t\ta", text: "b" });
  assert.notEqual(a.endChunk(), b.endChunk());
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/p.tsv`, generatedPassagesTsv(5));
    const first = await passageFileDigest(`${dir}/p.tsv`);
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.equal(await passageFileDigest(`${dir}/p.tsv`), first);
    await Deno.writeTextFile(`${dir}/p.tsv`, editPassage(generatedPassagesTsv(5), 3));
    assert.notEqual(await passageFileDigest(`${dir}/p.tsv`), first);
  });
});

Deno.test("resume after a crash on a same-size file with other passages is refused, naming the chunk", async () => {
  await withDir(async (dir) => {
    const tsv = `${dir}/p.tsv`;
    const original = generatedPassagesTsv(40);
    await Deno.writeTextFile(tsv, original);
    await assert.rejects(job(tsv, `${dir}/out`, 2), /crash/); // chunks 0 and 1 written
    await Deno.writeTextFile(tsv, editPassage(original, 14)); // a passage of chunk 1
    const shard = shardDir(`${dir}/out`, 0, 1);
    const before = await Deno.readFile(`${shard}/chunk-000001/vectors.npy`);
    await assert.rejects(job(tsv, `${dir}/out`), (e: Error) => {
      assert.ok(e instanceof RangeError, String(e));
      assert.match(
        e.message,
        /^Cannot resume the encoding job in .*: chunk-000001 was encoded from other passages than the file holds now \(sha256 [0-9a-f]{64}, now [0-9a-f]{64}\); the passage file changed since\. Refused, nothing was overwritten/,
      );
      return true;
    });
    // Refused, not half-redone: the old chunk is as it was, and no shard finished.
    assert.deepEqual(await Deno.readFile(`${shard}/chunk-000001/vectors.npy`), before);
    await assert.rejects(() => Deno.stat(`${shard}/done.json`), Deno.errors.NotFound);
  });
});

Deno.test("a change in passages not yet encoded resumes, and equals a fresh encoding", async () => {
  await withDir(async (dir) => {
    const tsv = `${dir}/p.tsv`;
    const original = generatedPassagesTsv(40);
    await Deno.writeTextFile(tsv, original);
    await assert.rejects(job(tsv, `${dir}/out`, 2), /crash/);
    const edited = editPassage(original, 35); // chunk 3, not encoded before the crash
    await Deno.writeTextFile(tsv, edited);
    const resumed = await job(tsv, `${dir}/out`);
    assert.equal(resumed.chunksSkipped, 2);
    assert.equal(resumed.chunksWritten, 2);
    await Deno.writeTextFile(`${dir}/fresh.tsv`, edited);
    await job(`${dir}/fresh.tsv`, `${dir}/fresh`);
    const [a, b] = [await mergeShards(`${dir}/out`), await mergeShards(`${dir}/fresh`)];
    assert.deepEqual(a.ids, b.ids);
    assert.deepEqual(a.vectors, b.vectors);
    assert.deepEqual(a.metadata(34), b.metadata(34));
  });
});

Deno.test("a finished shard re-run on a changed file (shards kept) is refused", async () => {
  await withDir(async (dir) => {
    const tsv = `${dir}/p.tsv`;
    const original = generatedPassagesTsv(30);
    await Deno.writeTextFile(tsv, original);
    await job(tsv, `${dir}/out`);
    assert.equal((await job(tsv, `${dir}/out`)).totalPassages, 30, "the same file: reused");
    await Deno.writeTextFile(tsv, editPassage(original, 7));
    await assert.rejects(job(tsv, `${dir}/out`), {
      name: "RangeError",
      message:
        /^Cannot reuse the finished encoding job in .*: it was encoded from other passages than .*p\.tsv holds now \(sha256 [0-9a-f]{64}, now [0-9a-f]{64}\)\. Refused/,
    });
  });
});

Deno.test("mergeShards refuses shards encoded from different passage files", async () => {
  await withDir(async (dir) => {
    const original = generatedPassagesTsv(30);
    await Deno.writeTextFile(`${dir}/a.tsv`, original);
    await Deno.writeTextFile(`${dir}/b.tsv`, editPassage(original, 25));
    for (const [shardId, file] of [[0, "a.tsv"], [1, "b.tsv"]] as const) {
      await runEncodeJob({
        passages: `${dir}/${file}`,
        outDir: `${dir}/out`,
        encoder: new FakeEncoder(),
        shardId,
        numShards: 2,
        chunkSize: 10,
        progress: false,
      });
    }
    await assert.rejects(
      mergeShards(`${dir}/out`),
      /Cannot merge .*: shard 1 was encoded from another passage file than shard 0/,
    );
  });
});
