// `dpr serve` as a subprocess on 127.0.0.1: retrieval only (the reader never loads), CORS, the
// request log on stderr and --quiet.
import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { loadDenseEncoder } from "../../pipeline/dpr_models.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MODELS = `${ROOT}tests/fixtures/models`;

async function buildIndex(dir: string): Promise<void> {
  const ctx = await loadDenseEncoder("context", { models: MODELS });
  const index = new DenseIndex(ctx.dim);
  const texts = ["The bridge opened in 1901.", "A lighthouse stands by the sea."];
  const vectors = [];
  for (const text of texts) {
    const input = ctx.tokenize("t", text);
    vectors.push(
      ...(await ctx.embed({
        inputIds: [input.inputIds],
        attentionMask: [input.inputIds.map(() => 1)],
        tokenTypeIds: [input.tokenTypeIds],
      })),
    );
  }
  ctx.dispose?.();
  index.add(["a", "b"], vectors, texts.map((text) => ({ title: "t", text })));
  await index.save(dir);
}

/** Starts `dpr serve` on a free port; resolves once it listens (Deno says so on stderr). */
async function serve(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/main.ts`, "serve", ...args, "--port", "0"],
    stdout: "null",
    stderr: "piped",
    env: { DPR_BACKEND: "cpu" },
  }).spawn();
  const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  let port: number | undefined;
  while (port === undefined) {
    const { done, value } = await lines.read();
    if (done) throw new Error(`dpr serve ended before listening: ${err}`);
    err += value;
    const m = err.match(/Listening on http:\/\/127\.0\.0\.1:(\d+)\//);
    if (m) port = Number(m[1]);
  }
  const rest = (async () => {
    for (;;) {
      const { done, value } = await lines.read();
      if (done) return err;
      err += value;
    }
  })();
  const stop = async (): Promise<string> => {
    child.kill("SIGTERM");
    await child.status;
    return await rest;
  };
  return { url: `http://127.0.0.1:${port}`, stop };
}

Deno.test("dpr serve: --no-reader never loads the reader; CORS; one log line per request", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await buildIndex(`${dir}/idx`);
    const server = await serve([
      `${dir}/idx`,
      "--models",
      MODELS,
      "--reader",
      `${dir}/no-such-reader`,
      "--no-reader",
      "--cors-origin",
      "https://a.example",
    ]);
    let stderr: string;
    try {
      const health = await fetch(`${server.url}/health`);
      assert.equal(health.status, 200);
      assert.equal(health.headers.get("access-control-allow-origin"), "https://a.example");
      assert.deepEqual(await health.json(), {
        ok: true,
        models: { questionEncoder: true, contextEncoder: false, reader: false },
        indexSize: 2,
      });
      const search = await fetch(`${server.url}/search`, {
        method: "POST",
        body: JSON.stringify({ question: "bridge", k: 1 }),
      });
      assert.equal(search.status, 200);
      assert.equal((await search.json()).hits.length, 1);
      const answer = await fetch(`${server.url}/answer`, {
        method: "POST",
        body: JSON.stringify({ question: "bridge" }),
      });
      assert.equal(answer.status, 404);
      await answer.body?.cancel();
    } finally {
      stderr = await server.stop();
    }
    const log = stderr.split("\n").filter((l) => /^(GET|POST) /.test(l));
    assert.equal(log.length, 3, stderr);
    assert.match(log[0]!, /^GET \/health 200 \d+\.\dms$/);
    assert.match(log[1]!, /^POST \/search 200 \d+\.\dms$/);
    assert.match(log[2]!, /^POST \/answer 404 \d+\.\dms$/);

    const quiet = await serve([`${dir}/idx`, "--models", MODELS, "--no-reader", "--quiet"]);
    try {
      const r = await fetch(`${quiet.url}/health`);
      assert.equal(r.status, 200);
      await r.body?.cancel();
    } finally {
      stderr = await quiet.stop();
    }
    assert.doesNotMatch(stderr, /GET \/health/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dpr serve: a bad --cors-origin is refused before anything loads", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}cli/main.ts`, "serve", "/nonexistent", "--cors-origin", "x"],
    stdout: "piped",
    stderr: "piped",
    env: { DPR_BACKEND: "cpu" },
  }).output();
  assert.equal(out.code, 1);
  assert.match(new TextDecoder().decode(out.stderr), /cors must be "\*" or an origin/);
});
