// The dpr CLI with a Postgres URL where an index folder goes: `dpr index` writes into a pgvector
// table served by PGlite over the wire in this process, `dpr ask` reads from it (subprocesses,
// the tiny fixture models; answers are nonsense).
import assert from "node:assert/strict";
import { PgServer } from "../index/pg_server.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MODELS = `${ROOT}tests/fixtures/models`;
const PASSAGES = `${ROOT}data/demo_passages.tsv`;

async function dpr(args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/main.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { DPR_BACKEND: "cpu", ...env },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("dpr CLI: index into Postgres, ask from it (same hits as a folder), merge builds HNSW", async () => {
  const dir = await Deno.makeTempDir();
  const server = await PgServer.start();
  try {
    const url = server.url("psgs");
    const model = ["--models", MODELS];
    const indexed = await dpr([
      "index",
      PASSAGES,
      url,
      ...model,
      "--chunk-size",
      "16",
      "--batch",
      "8",
    ]);
    assert.equal(indexed.code, 0, indexed.stderr);
    assert.match(
      indexed.stderr,
      /3 chunks encoded, 0 already done; the collection has 42 passages/,
    );
    assert.match(indexed.stderr, /table=psgs: 42 passages, dimension \d+, exact search/);
    // Run again: every chunk is found stored, nothing is written twice.
    const again = await dpr(["index", PASSAGES, url, ...model, "--chunk-size", "16"]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /0 chunks encoded, 3 already done/);
    assert.match(again.stderr, /42 passages/);

    const folder = `${dir}/idx`;
    assert.equal((await dpr(["index", PASSAGES, folder, ...model, "--chunk-size", "16"])).code, 0);
    const question = "who discovered penicillin?";
    const retrieve = ["--retrieve-only", "--json", "--top-k", "5", ...model];
    const fromFolder = JSON.parse((await dpr(["ask", folder, question, ...retrieve])).stdout).hits;
    const asked = await dpr(["ask", url, question, ...retrieve]);
    assert.equal(asked.code, 0, asked.stderr);
    const fromPostgres = JSON.parse(asked.stdout).hits;
    const brief = (hits: Array<{ id: string; row: number; title: string; text: string }>) =>
      hits.map(({ id, row, title, text }) => ({ id, row, title, text }));
    assert.equal(fromPostgres.length, 5);
    assert.deepEqual(brief(fromPostgres), brief(fromFolder));

    // Answers come from the table alone (title and text live with the vectors).
    const answered = await dpr(["ask", url, question, "--json", "--top-k", "3", ...model]);
    assert.equal(answered.code, 0, answered.stderr);
    for (const a of JSON.parse(answered.stdout).answers) {
      assert.equal(a.passageText.slice(a.start, a.end), a.text);
    }

    // dpr eval reads the table as it reads the folder: the same accuracies.
    const evalArgs = [`${ROOT}data/demo_questions.tsv`, "--no-reader", "--json", ...model];
    const evalFolder = await dpr(["eval", folder, ...evalArgs]);
    const evalPostgres = await dpr(["eval", url, ...evalArgs]);
    assert.equal(evalPostgres.code, 0, evalPostgres.stderr);
    assert.deepEqual(JSON.parse(evalPostgres.stdout), JSON.parse(evalFolder.stdout));
    assert.equal(JSON.parse(evalPostgres.stdout).passages, 42);

    // The sharded flow's last step for Postgres: build the HNSW index once the rows are in.
    const merged = await dpr(["merge", url, "--vector-index", "hnsw", "--hnsw-m", "8"]);
    assert.equal(merged.code, 0, merged.stderr);
    assert.match(merged.stderr, /HNSW index \(m 8, ef_construction 64\) ready/);
    assert.match(merged.stderr, /42 passages, dimension \d+, HNSW search/);
    const approx = JSON.parse((await dpr(["ask", url, question, ...retrieve])).stdout).hits;
    assert.deepEqual(brief(approx), brief(fromFolder));

    // The password is never printed, in usage errors or connection errors.
    const gone = "postgres://dpr:secretpw@127.0.0.1:1/db?table=psgs";
    const unreachable = await dpr(["ask", gone, question, ...retrieve]);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach a Postgres server at 127\.0\.0\.1:1/);
    const usage = await dpr(["ask", gone]);
    assert.equal(usage.code, 2);
    for (const out of [unreachable, usage]) {
      assert.match(out.stderr, /dpr:\*\*\*@127/);
      assert.ok(!(out.stdout + out.stderr).includes("secretpw"));
    }
    const bad = await dpr(["index", PASSAGES, url, "--vector-index", "ivf", ...model]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--vector-index must be none or hnsw/);

    // float16 storage: a halfvec column, chosen when the table is created.
    const half = server.url("psgs16");
    const halved = await dpr(["index", PASSAGES, half, "--storage", "float16", ...model]);
    assert.equal(halved.code, 0, halved.stderr);
    assert.match(
      halved.stderr,
      /table=psgs16: 42 passages, .*exact search, float16 vectors \(halfvec\)/,
    );
    const halfHits = JSON.parse((await dpr(["ask", half, question, ...retrieve])).stdout).hits;
    assert.equal(halfHits.length, 5);
    const int8 = await dpr(["index", PASSAGES, half, "--storage", "int8", ...model]);
    assert.equal(int8.code, 2);
    assert.match(
      int8.stderr,
      /--storage for a Postgres table must be float32 \(vector\) or float16/,
    );
    const mergeStorage = await dpr(["merge", half, "--storage", "float16"]);
    assert.equal(mergeStorage.code, 2);
    assert.match(mergeStorage.stderr, /chosen when dpr index creates it/);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});
