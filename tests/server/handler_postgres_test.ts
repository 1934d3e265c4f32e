// createHandler over HTTP with a Postgres + pgvector index (PGlite over the wire): /search gives
// the hits a folder index gives, /answer reads passages from the table alone, /health counts it.
import assert from "node:assert/strict";
import { PgVectorIndex } from "../../index/pgvector_index.ts";
import { loadDenseEncoder } from "../../pipeline/dpr_models.ts";
import { mergeShards, runEncodeJob } from "../../pipeline/encode_passages.ts";
import { createHandler } from "../../server/handler.ts";
import { PgServer } from "../index/pg_server.ts";

const MODELS = new URL("../fixtures/models", import.meta.url).pathname;
const PASSAGES = new URL("../../data/demo_passages.tsv", import.meta.url).pathname;

async function post(base: string, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${base}${path}`, { method: "POST", body: JSON.stringify(body) });
  assert.equal(response.status, 200, path);
  return await response.json();
}

Deno.test("createHandler with a Postgres index: same hits as a folder, answers from the table", async () => {
  const dir = await Deno.makeTempDir();
  const pg = await PgServer.start();
  const servers: Deno.HttpServer[] = [];
  try {
    const encoder = await loadDenseEncoder("context", { models: MODELS });
    const job = { passages: PASSAGES, encoder, chunkSize: 16, progress: false };
    await runEncodeJob({ ...job, outDir: `${dir}/idx` });
    await mergeShards(`${dir}/idx`);
    // One connection: PGlite-socket serves one at a time (a real server takes the default 4).
    const index = await PgVectorIndex.open(pg.url("psgs"), {
      create: true,
      dim: encoder.dim,
      maxConnections: 1,
    });
    await runEncodeJob({ ...job, index });
    encoder.dispose?.();

    const serve = (options: Parameters<typeof createHandler>[0]) => {
      const server = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        createHandler(options),
      );
      servers.push(server);
      return `http://127.0.0.1:${server.addr.port}`;
    };
    const fromPostgres = serve({ index, models: MODELS });
    const fromFolder = serve({ index: `${dir}/idx`, models: MODELS, noReader: true });
    const questions = ["who discovered penicillin?", "where is the eiffel tower?", "what is dna?"];
    // Concurrent requests, as a server gets them.
    const [pgHits, folderHits] = await Promise.all(
      [fromPostgres, fromFolder].map((base) =>
        Promise.all(questions.map((question) => post(base, "/search", { question, k: 5 })))
      ),
    );
    const ids = (r: Record<string, unknown>) =>
      (r.hits as Array<{ id: string; title: string; text: string }>).map((
        h,
      ) => [h.id, h.title, h.text]);
    assert.deepEqual(pgHits!.map(ids), folderHits!.map(ids));
    assert.equal(pgHits![0]!.hits && (pgHits![0]!.hits as unknown[]).length, 5);

    const { answers } = await post(fromPostgres, "/answer", { question: questions[0], topK: 3 });
    assert.ok((answers as unknown[]).length > 0);
    for (const a of answers as Array<{ passageId: string; title: string; text: string }>) {
      const stored = (await index.passages([a.passageId]))[0];
      assert.equal(stored?.title, a.title);
      assert.ok(stored.text.includes(a.text), `${a.text} in ${a.passageId}`);
    }
    const health = await (await fetch(`${fromPostgres}/health`)).json();
    assert.equal(health.indexSize, 42);
    for (const server of servers.splice(0)) await server.shutdown();
    await index.close();
  } finally {
    for (const server of servers) await server.shutdown();
    await pg.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createHandler with a Postgres URL: refused credentials answer an error without the password", async () => {
  const pg = await PgServer.start();
  const servers: Deno.HttpServer[] = [];
  try {
    const port = pg.passwordGate("right-password");
    for (
      const [url, env] of [
        [`postgres://dpr:wrong-password@127.0.0.1:${port}/postgres?table=psgs`, {}],
        [`postgres://dpr@127.0.0.1:${port}/postgres?table=psgs`, { PGPASSWORD: "wrong-password" }],
      ] as const
    ) {
      const saved = Deno.env.get("PGPASSWORD");
      for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
      try {
        const server = Deno.serve(
          { hostname: "127.0.0.1", port: 0, onListen: () => {} },
          createHandler({ index: url, models: MODELS, noReader: true, log: false }),
        );
        servers.push(server);
        const response = await fetch(`http://127.0.0.1:${server.addr.port}/search`, {
          method: "POST",
          body: JSON.stringify({ question: "who discovered penicillin?", k: 3 }),
        });
        const body = await response.text();
        assert.ok(response.status >= 500, `${response.status} ${body}`);
        assert.match(body, /refused the credentials of user \\"dpr\\"/);
        assert.ok(!body.includes("wrong-password"), body);
      } finally {
        if (saved === undefined) Deno.env.delete("PGPASSWORD");
        else Deno.env.set("PGPASSWORD", saved);
      }
    }
  } finally {
    for (const server of servers) await server.shutdown();
    await pg.close();
  }
});
