// The connection guard and the handler's deadlines over real TCP on 127.0.0.1, at a small scale:
// slow-body and slow-header clients get 408 after their deadlines, silent ones are disconnected,
// normal requests get through while they are attached, and connections over the limit get 503.
import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { loadDenseEncoder } from "../../pipeline/dpr_models.ts";
import { OpenDomainQA } from "../../pipeline/open_domain_qa.ts";
import { createHandler } from "../../server/handler.ts";
import { serveGuarded } from "../../server/guarded_server.ts";

const MODELS = new URL("../fixtures/models", import.meta.url).pathname;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function tinyQa(): Promise<OpenDomainQA> {
  const contextEncoder = await loadDenseEncoder("context", { models: MODELS });
  const qa = new OpenDomainQA({
    questionEncoder: await loadDenseEncoder("question", { models: MODELS }),
    contextEncoder,
    index: new DenseIndex(contextEncoder.dim),
  });
  const texts = ["The bridge opened in 1901.", "A lighthouse stands by the sea.", "Ice moves."];
  await qa.index.upsert({
    ids: texts.map((_, i) => `p${i}`),
    vectors: await qa.embedPassages(texts.map((text) => ({ title: "", text }))),
    metadata: texts.map((text) => ({ title: "", text })),
  });
  return qa;
}

/** Connects, sends `head`, then one byte of `rest` every 100 ms until the server answers. */
async function slowClient(port: number, head: string, rest: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const reply = (async () => {
    const buffer = new Uint8Array(1024);
    const n = await conn.read(buffer).catch(() => null);
    return n === null ? "closed" : new TextDecoder().decode(buffer.subarray(0, n));
  })();
  let answer: string | null = null;
  reply.then((r) => answer = r);
  try {
    if (head !== "") await conn.write(new TextEncoder().encode(head));
    for (let i = 0; i < rest.length && answer === null; i++) {
      await conn.write(new TextEncoder().encode(rest[i]!));
      await Promise.race([sleep(100), reply]);
    }
  } catch { /* cut off */ }
  const result = await reply;
  conn.close();
  return result;
}

Deno.test("serveGuarded + createHandler: slow clients get 408, normal requests get through", async () => {
  const qa = await tinyQa();
  const server = serveGuarded({
    port: 0,
    headerTimeoutMs: 2000,
    idleTimeoutMs: 3000,
    onListen: () => {},
  }, createHandler({ qa, bodyTimeoutMs: 2000 }));
  const port = server.addr.port;
  try {
    const body = JSON.stringify({ question: "slow ".repeat(100) });
    const slowBodies = Array.from({ length: 30 }, () =>
      slowClient(
        port,
        `POST /search HTTP/1.1\r\nhost: x\r\ncontent-length: ${body.length}\r\n\r\n`,
        body,
      ));
    const slowHeaders = Array.from(
      { length: 10 },
      () =>
        slowClient(
          port,
          "",
          `GET /health HTTP/1.1\r\nhost: x\r\nx-slow: ${"a".repeat(100)}\r\n\r\n`,
        ),
    );
    const silent = await Promise.all(
      Array.from({ length: 5 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
    );
    while (server.connections < 45) await sleep(10);

    // Normal requests while the slow clients are attached.
    const normal = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      const r = await fetch(`http://127.0.0.1:${port}/search`, {
        method: "POST",
        body: JSON.stringify({ question: `when did the bridge open ${i}`, k: 2 }),
      });
      return [r.status, (await r.json()).hits?.[0]?.id];
    }));
    assert.deepEqual(normal.map(([status]) => status), Array(10).fill(200));
    assert.ok(normal.every(([, id]) => typeof id === "string"));

    // Every slow client is cut off with 408 after its deadline; silent ones are disconnected.
    for (const reply of await Promise.all(slowBodies)) {
      assert.match(reply, /^HTTP\/1\.1 408 /);
      assert.match(reply, /did not arrive within 2000 ms/);
    }
    for (const reply of await Promise.all(slowHeaders)) {
      assert.match(reply, /^HTTP\/1\.1 408 /);
      assert.match(reply, /headers did not arrive within 2000 ms/);
    }
    for (const conn of silent) {
      const n = await conn.read(new Uint8Array(16)).catch(() => null);
      assert.ok(n === null || n > 0, "closed (or answered 408) after the deadline");
      conn.close();
    }
    while (server.connections > 0) await sleep(10);

    // Afterwards: served again, a keep-alive connection carries two requests. A client of its own:
    // the default one may still pool a connection the server closed when it went idle (Deno 2.5's
    // fetch then sends on it and fails), which is the client's race, not the server's.
    const client = Deno.createHttpClient({});
    try {
      for (let i = 0; i < 2; i++) {
        const r = await fetch(`http://127.0.0.1:${port}/health`, { client });
        assert.equal(r.status, 200);
        assert.equal((await r.json()).ok, true);
      }
    } finally {
      client.close();
    }
  } finally {
    await server.shutdown();
    qa.dispose();
  }
});

Deno.test("serveGuarded: connections over maxConnections get 503 and are closed", async () => {
  const server = serveGuarded(
    { port: 0, maxConnections: 3, onListen: () => {} },
    () => new Response("ok"),
  );
  const port = server.addr.port;
  const held = await Promise.all(
    Array.from({ length: 3 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  try {
    while (server.connections < 3) await sleep(10);
    const extra = await Deno.connect({ hostname: "127.0.0.1", port });
    const buffer = new Uint8Array(1024);
    const n = await extra.read(buffer);
    extra.close();
    const reply = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    assert.match(reply, /^HTTP\/1\.1 503 /);
    assert.match(reply, /too many open connections \(3\)/);
    assert.equal(server.connections, 3);
  } finally {
    for (const conn of held) conn.close();
    await server.shutdown();
  }
});

Deno.test("serveGuarded: a slow answer after 100 Continue is no header timeout", async () => {
  // The reply comes well after the header timeout: the request's headers were complete long before.
  const server = serveGuarded(
    { port: 0, headerTimeoutMs: 200, onListen: () => {} },
    async (request) => {
      const text = await request.text();
      await sleep(600);
      return new Response(`got ${text.length}`);
    },
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    const send = (text: string) => conn.write(new TextEncoder().encode(text));
    const buffer = new Uint8Array(1024);
    const receive = async () => {
      const n = await conn.read(buffer);
      return new TextDecoder().decode(buffer.subarray(0, n ?? 0));
    };
    await send("POST / HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: 5\r\n\r\n");
    assert.match(await receive(), /^HTTP\/1\.1 100 Continue/);
    await send("hello");
    const reply = await receive();
    assert.match(reply, /^HTTP\/1\.1 200 /);
    assert.match(reply, /got 5$/);
    // The next request on the connection starts a new header deadline.
    await send("GET / HTTP/1.1\r\nhost: x\r\n");
    assert.match(await receive(), /^HTTP\/1\.1 408 /);
  } finally {
    conn.close();
    await server.shutdown();
  }
});

Deno.test("serveGuarded: bad options are refused", () => {
  for (const bad of [0, -1, 1.5]) {
    assert.throws(() => serveGuarded({ headerTimeoutMs: bad }, () => new Response()), {
      name: "RangeError",
      message: /headerTimeoutMs must be a positive integer/,
    });
  }
});
