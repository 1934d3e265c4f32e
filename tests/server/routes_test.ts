// The handler's routes and features, called directly with Request objects: health, CORS, the
// request log, retrieval-only servers, and questions the models cannot read.
import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { loadDenseEncoder, loadPassageReader } from "../../pipeline/dpr_models.ts";
import { OpenDomainQA } from "../../pipeline/open_domain_qa.ts";
import { createHandler, type RequestLogEntry } from "../../server/handler.ts";

const MODELS = new URL("../fixtures/models", import.meta.url).pathname;

async function tinyIndex(): Promise<DenseIndex> {
  const ctx = await loadDenseEncoder("context", { models: MODELS });
  const qa = new OpenDomainQA({
    questionEncoder: await loadDenseEncoder("question", { models: MODELS }),
    contextEncoder: ctx,
    index: new DenseIndex(32),
  });
  const docs = ["The bridge opened in 1901.", "A lighthouse stands by the sea.", "Glaciers move."];
  qa.index.add(
    docs.map((_, i) => `p${i}`),
    await qa.embedPassages(docs.map((text) => ({ title: "t", text }))),
    docs.map((text) => ({ title: "t", text })),
  );
  qa.dispose();
  return qa.index;
}

function post(path: string, body: unknown, headers: Record<string, string> = {}): Request {
  return new Request(`http://x${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

Deno.test("routes: health, CORS, request log, unreadable questions, retrieval only", async (t) => {
  const index = await tinyIndex();
  const qa = new OpenDomainQA({
    questionEncoder: await loadDenseEncoder("question", { models: MODELS }),
    reader: await loadPassageReader({ models: MODELS }),
    index,
  });
  try {
    await t.step("GET /health says what is loaded and never starts a load", async () => {
      const lazy = createHandler({ index, models: MODELS });
      const before = await lazy(new Request("http://x/health"));
      assert.equal(before.status, 200);
      assert.deepEqual(await before.json(), {
        ok: true,
        models: { questionEncoder: false, contextEncoder: false, reader: false },
        indexSize: null,
      });
      const handler = createHandler({ qa });
      await handler(post("/search", { question: "bridge" })).then((r) => r.body?.cancel());
      const after = await handler(new Request("http://x/health"));
      assert.deepEqual(await after.json(), {
        ok: true,
        models: { questionEncoder: true, contextEncoder: false, reader: true },
        indexSize: 3,
      });
      const wrong = await handler(post("/health", {}));
      assert.equal(wrong.status, 405);
      assert.equal(wrong.headers.get("allow"), "GET");
      await wrong.body?.cancel();
    });

    await t.step(
      "CORS only when configured: headers on every reply, preflight answered",
      async () => {
        const plain = createHandler({ qa });
        const r = await plain(
          post("/search", { question: "bridge" }, { origin: "https://a.example" }),
        );
        assert.equal(r.status, 200);
        assert.equal(r.headers.get("access-control-allow-origin"), null);
        await r.body?.cancel();
        const options = await plain(new Request("http://x/search", { method: "OPTIONS" }));
        assert.equal(options.status, 405);
        assert.equal(options.headers.get("access-control-allow-origin"), null);
        await options.body?.cancel();

        const cors = createHandler({ qa, cors: "https://a.example" });
        const preflight = await cors(
          new Request("http://x/search", {
            method: "OPTIONS",
            headers: { origin: "https://a.example", "access-control-request-method": "POST" },
          }),
        );
        assert.equal(preflight.status, 204);
        assert.equal(preflight.headers.get("access-control-allow-origin"), "https://a.example");
        assert.equal(preflight.headers.get("access-control-allow-methods"), "POST, OPTIONS");
        assert.equal(preflight.headers.get("access-control-allow-headers"), "content-type");
        const ok = await cors(post("/search", { question: "bridge" }));
        assert.equal(ok.headers.get("access-control-allow-origin"), "https://a.example");
        assert.equal(ok.headers.get("vary"), "origin");
        await ok.body?.cancel();
        const error = await cors(post("/search", { question: 1 }));
        assert.equal(error.status, 400);
        assert.equal(error.headers.get("access-control-allow-origin"), "https://a.example");
        await error.body?.cancel();
        const any = await createHandler({ qa, cors: "*" })(new Request("http://x/health"));
        assert.equal(any.headers.get("access-control-allow-origin"), "*");
        assert.equal(any.headers.get("vary"), null);
        await any.body?.cancel();
        for (const bad of ["https://a.example/", "a.example", "", 3]) {
          assert.throws(() => createHandler({ qa, cors: bad as string }), {
            name: "TypeError",
            message: /cors must be "\*" or an origin/,
          });
        }
      },
    );

    await t.step("one log entry per request: method, route, status, ms", async () => {
      const entries: RequestLogEntry[] = [];
      const handler = createHandler({ qa, log: (e) => entries.push(e) });
      await handler(post("/search", { question: "bridge" })).then((r) => r.body?.cancel());
      await handler(post("/search", "nope")).then((r) => r.body?.cancel());
      await handler(new Request("http://x/health")).then((r) => r.body?.cancel());
      await handler(new Request("http://x/secret/path")).then((r) => r.body?.cancel());
      assert.deepEqual(
        entries.map(({ method, route, status }) => [method, route, status]),
        [["POST", "/search", 200], ["POST", "/search", 400], ["GET", "/health", 200], [
          "GET",
          "-",
          404,
        ]],
      );
      for (const e of entries) assert.ok(e.ms >= 0 && Number.isFinite(e.ms));
      assert.throws(() => createHandler({ qa, log: "yes" as unknown as boolean }), {
        name: "TypeError",
        message: /log must be a boolean or a function/,
      });
    });

    await t.step("questions with nothing visible or longer than the models read: 400", async () => {
      const handler = createHandler({ qa });
      const cases: Array<[string, unknown, RegExp]> = [
        ["/search", { question: "\u0000\u0000\u0000" }, /no visible characters/],
        ["/search", { question: "\u200b\u200c\u200d\u2063\ufeff" }, /no visible characters/],
        ["/search", { question: "\u0001\u001f\u007f \t" }, /no visible characters/],
        ["/search", { question: "\ud800\udc00".slice(0, 1) + "\udfff" }, /no visible characters/],
        ["/answer", { question: "\u0000" }, /no visible characters/],
        ["/embed", { texts: ["ok", "\u200b"] }, /texts\[1\] has no visible characters/],
        // The tiny models read 64 tokens: a question of 70 words cannot be read whole.
        ["/search", { question: "the ".repeat(70) }, /has 72 tokens; .* reads at most 64/],
        ["/answer", { question: "who is the ".repeat(372) }, /1118 tokens; the question encoder/],
        // 40 tokens fit the question encoder, but leave too little of the reader's 64 per row.
        ["/answer", { question: "the ".repeat(38) }, /40 tokens; the reader reads 64/],
      ];
      for (const [path, body, message] of cases) {
        const r = await handler(post(path, body));
        const json = await r.json();
        assert.equal(r.status, 400, `${path} ${JSON.stringify(body).slice(0, 80)}: ${json.error}`);
        assert.match(json.error, message);
      }
      // A question with some visible text among invisible characters is fine.
      const mixed = await handler(post("/search", { question: "\u200bbridge\u0000" }));
      assert.equal(mixed.status, 200);
      await mixed.body?.cancel();
      const fits = await handler(post("/search", { question: "the ".repeat(38) }));
      assert.equal(fits.status, 200);
      await fits.body?.cancel();
    });

    await t.step("noReader: the reader is never loaded, /answer says so", async () => {
      // The reader source does not exist: loading it would fail every request.
      const handler = createHandler({
        index,
        models: MODELS,
        reader: "/nonexistent/reader",
        noReader: true,
      });
      const r = await handler(post("/search", { question: "bridge", k: 2 }));
      assert.equal(r.status, 200);
      assert.equal((await r.json()).hits.length, 2);
      const a = await handler(post("/answer", { question: "bridge" }));
      assert.equal(a.status, 404);
      assert.match((await a.json()).error, /no reader \(retrieval only\)/);
      const health = await (await handler(new Request("http://x/health"))).json();
      assert.deepEqual(health.models, {
        questionEncoder: true,
        contextEncoder: false,
        reader: false,
      });
      const loaded = await createHandler({ index, models: MODELS, reader: "/nonexistent/reader" })(
        post("/search", { question: "bridge" }),
      );
      assert.equal(loaded.status, 500, "without noReader the reader is loaded (and fails here)");
      await loaded.body?.cancel();
    });
  } finally {
    qa.dispose();
  }
});
