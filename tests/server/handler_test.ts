// The HTTP handler over real HTTP on 127.0.0.1, with models and index fetched from URLs.
import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { loadDenseEncoder, loadPassageReader } from "../../pipeline/dpr_models.ts";
import { type Answer, OpenDomainQA } from "../../pipeline/open_domain_qa.ts";
import { createHandler } from "../../server/handler.ts";

const MODELS = new URL("../fixtures/models", import.meta.url).pathname;

function passages(n: number): Array<{ id: string; title: string; text: string }> {
  const things = ["bridge", "lighthouse", "telescope", "glacier", "library", "volcano"];
  return Array.from({ length: n }, (_, i) => ({
    id: `p${i}`,
    title: `${things[i % 6]} ${i % 5}`,
    text: `The ${things[(i * 5) % 6]} number ${i} was opened in ${1800 + i} by the city.`,
  }));
}

/** Serves files under `root` (GET only), like a static host. */
function fileServer(root: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    try {
      return new Response(await Deno.readFile(root + path));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

Deno.test("createHandler over HTTP: bad input, 100 concurrent requests, models from URLs", async () => {
  const dir = await Deno.makeTempDir();
  const ctx = await loadDenseEncoder("context", { models: MODELS });
  const local = new OpenDomainQA({
    questionEncoder: await loadDenseEncoder("question", { models: MODELS }),
    contextEncoder: ctx,
    reader: await loadPassageReader({ models: MODELS }),
    index: new DenseIndex(32),
  });
  const docs = passages(80);
  local.index.add(
    docs.map((d) => d.id),
    await local.embedPassages(docs),
    docs.map((d) => ({ title: d.title, text: d.text })),
  );
  await local.index.save(`${dir}/index`);
  for (const name of ["dpr-question_encoder-tiny", "dpr-ctx_encoder-tiny", "dpr-reader-tiny"]) {
    await Deno.mkdir(`${dir}/models/${name}`, { recursive: true });
    for (
      const file of [
        "config.json",
        "model.safetensors",
        "vocab.txt",
        "tokenizer_config.json",
        "special_tokens_map.json",
      ]
    ) {
      await Deno.copyFile(`${MODELS}/${name}/${file}`, `${dir}/models/${name}/${file}`);
    }
  }
  const files = fileServer(dir);
  const base = `http://127.0.0.1:${files.addr.port}`;
  const handler = createHandler({
    index: `${base}/index`,
    questionEncoder: `${base}/models/dpr-question_encoder-tiny`,
    contextEncoder: `${base}/models/dpr-ctx_encoder-tiny`,
    reader: `${base}/models/dpr-reader-tiny`,
    maxBodyBytes: 4096,
    maxTexts: 8,
    maxTextLength: 200,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const post = async (path: string, body: unknown, init: RequestInit = {}) => {
    const response = await fetch(url + path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: typeof body === "string" ? body : JSON.stringify(body),
      ...init,
    });
    return { status: response.status, json: await response.json(), headers: response.headers };
  };
  try {
    // Bad input: each case gets its status and a message naming the problem.
    const bad: Array<[string, unknown, number, RegExp]> = [
      ["/search", "{not json", 400, /not valid JSON/],
      ["/search", "", 400, /empty/],
      ["/search", "[1, 2]", 400, /must be a JSON object/],
      ["/search", { question: 42 }, 400, /question must be a string: received number 42/],
      ["/search", { question: "   " }, 400, /question must not be empty/],
      ["/search", { question: "ok", k: 0 }, 400, /k must be between 1 and 100/],
      ["/search", { question: "ok", k: 2.5 }, 400, /k must be an integer/],
      ["/search", { question: "ok", extra: 1 }, 400, /unknown field "extra"/],
      ["/search", { question: "x".repeat(201) }, 413, /201 characters; the limit is 200/],
      ["/search", { question: "x".repeat(5000) }, 413, /limit of 4096 bytes|limit is 4096/],
      ["/embed", { texts: "one" }, 400, /texts must be an array/],
      ["/embed", { texts: [] }, 400, /texts must not be empty/],
      ["/embed", { texts: ["a", 3] }, 400, /texts\[1\] must be a string/],
      ["/embed", { texts: Array(9).fill("a") }, 413, /9 items; the limit is 8/],
      ["/embed", { texts: ["a"], kind: "doc" }, 400, /kind must be "question" or "passage"/],
      ["/embed", { texts: ["a"], titles: ["t"] }, 400, /titles are only used/],
      ["/answer", { question: "q", numSpans: "3" }, 400, /numSpans must be an integer/],
      ["/answer", {}, 400, /question must be a string: received undefined/],
    ];
    for (const [path, body, status, message] of bad) {
      const r = await post(path, body);
      assert.equal(
        r.status,
        status,
        `${path} ${JSON.stringify(body).slice(0, 60)}: ${r.json.error}`,
      );
      assert.match(r.json.error, message);
    }
    const get = await fetch(`${url}/search`);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get("allow"), "POST");
    assert.match((await get.json()).error, /GET is not allowed/);
    const put = await fetch(`${url}/answer`, { method: "PUT", body: "{}" });
    assert.equal(put.status, 405);
    await put.body?.cancel();
    const missing = await post("/nope", { question: "q" });
    assert.equal(missing.status, 404);
    assert.match(missing.json.error, /no such endpoint \/nope/);

    // 100 concurrent requests, each compared with the local pipeline's answer.
    const questions = Array.from(
      { length: 10 },
      (_, i) => `when was the bridge number ${i * 7} opened`,
    );
    const expectedSearch = await Promise.all(questions.map((q) => local.retrieve(q, 5)));
    const expectedAnswers: Answer[][] = [];
    for (const q of questions) {
      expectedAnswers.push(await local.answer(q, { topK: 4, numSpans: 2 }));
    }
    const expectedEmbed = await local.embedQuestions(questions);
    const expectedPassage = await local.embedPassages([{
      title: docs[3]!.title,
      text: docs[3]!.text,
    }]);
    const requests = Array.from({ length: 100 }, async (_, i) => {
      const q = i % 10;
      if (i % 4 === 0) {
        const r = await post("/answer", { question: questions[q], topK: 4, numSpans: 2 });
        assert.equal(r.status, 200, r.json.error);
        assert.deepEqual(
          r.json.answers.map((
            a: { passageId: string; start: number; end: number; text: string },
          ) => [a.passageId, a.start, a.end, a.text]),
          expectedAnswers[q]!.map((a) => [a.passageId, a.start, a.end, a.text]),
        );
      } else if (i % 4 === 1) {
        const r = await post("/embed", { texts: [questions[q]] });
        assert.equal(r.status, 200, r.json.error);
        assert.equal(r.json.dim, 32);
        r.json.embeddings[0].forEach((x: number, d: number) =>
          assert.ok(Math.abs(x - expectedEmbed[q]![d]!) < 1e-5)
        );
      } else if (i === 99) {
        const r = await post("/embed", {
          texts: [docs[3]!.text],
          titles: [docs[3]!.title],
          kind: "passage",
        });
        assert.equal(r.status, 200, r.json.error);
        r.json.embeddings[0].forEach((x: number, d: number) =>
          assert.ok(Math.abs(x - expectedPassage[0]![d]!) < 1e-5)
        );
      } else {
        const r = await post("/search", { question: questions[q], k: 5 });
        assert.equal(r.status, 200, r.json.error);
        assert.deepEqual(
          r.json.hits.map((h: { id: string }) => h.id),
          expectedSearch[q]!.map((h) => h.id),
        );
        assert.equal(r.json.hits[0].text, expectedSearch[q]![0]!.text);
      }
    });
    await Promise.all(requests);
  } finally {
    await server.shutdown();
    await files.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createHandler: load failures answer 500 and never crash", async () => {
  const handler = createHandler({ index: "/nonexistent/index", models: MODELS });
  const r = await handler(
    new Request("http://x/search", { method: "POST", body: '{"question": "q"}' }),
  );
  assert.equal(r.status, 500);
  assert.match((await r.json()).error, /index\.json is missing/);
  const again = await handler(
    new Request("http://x/search", { method: "POST", body: '{"question": "q"}' }),
  );
  assert.equal(again.status, 500);
  await again.body?.cancel();
});

Deno.test("createHandler: without a pipeline or an index, or with bad limits, it refuses to start", () => {
  assert.throws(() => createHandler({}), {
    name: "TypeError",
    message: /pipeline \(qa\) or an index/,
  });
  for (const bad of [0, -1, 1.5, Number.NaN, Infinity]) {
    assert.throws(() => createHandler({ index: "x", maxK: bad }), {
      name: "RangeError",
      message: /maxK must be a positive integer/,
    });
  }
  assert.throws(() => createHandler({ index: "x", maxBodyBytes: "1" as unknown as number }), {
    name: "RangeError",
    message: /maxBodyBytes/,
  });
});
