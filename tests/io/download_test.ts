// Hub downloads from servers that compress: the file is asked for uncompressed, and a body that
// comes compressed anyway is still saved whole (Content-Length then counts compressed bytes).
import assert from "node:assert/strict";
import { downloadFile, HubSource } from "../../io/hub_source.ts";
import { hubFileHeaders } from "./hub_emulation.ts";

async function gzip(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

Deno.test("downloadFile: asks for identity encoding and copes with a gzip body", async () => {
  const body = new TextEncoder().encode(JSON.stringify({ text: "dense ".repeat(2000) }));
  const compressed = await gzip(body);
  const seen: (string | null)[] = [];
  let always = false;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const accept = req.headers.get("accept-encoding");
    seen.push(accept);
    if (always || (accept ?? "").includes("gzip")) {
      return new Response(compressed, {
        headers: {
          "content-encoding": "gzip",
          "content-length": String(compressed.length),
          "content-type": "application/json",
        },
      });
    }
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  const dir = await Deno.makeTempDir();
  try {
    const url = `http://127.0.0.1:${server.addr.port}/org/name/resolve/main/config.json`;
    assert.equal(await downloadFile(url, `${dir}/a.json`), true);
    assert.deepEqual(await Deno.readFile(`${dir}/a.json`), body);
    assert.equal(seen[0], "identity");
    always = true; // a server that compresses whatever it is asked
    assert.equal(await downloadFile(url, `${dir}/b.json`), true);
    assert.deepEqual(await Deno.readFile(`${dir}/b.json`), body);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), ["a.json", "b.json"]);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("HubSource: loads at the same time share one download of a file", async () => {
  const body = new Uint8Array(600_000).map((_, i) => i % 251);
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const headers = hubFileHeaders(body);
    headers.set("content-length", String(body.length));
    if (req.method === "HEAD") return new Response(null, { headers });
    requests++;
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      async pull(controller): Promise<void> {
        if (sent >= body.length) return controller.close();
        await new Promise((resolve) => setTimeout(resolve, 2));
        controller.enqueue(body.slice(sent, sent + 100_000));
        sent += 100_000;
      },
    });
    return new Response(stream, { headers });
  });
  const cacheDir = await Deno.makeTempDir();
  try {
    const endpoint = `http://127.0.0.1:${server.addr.port}`;
    const files = await Promise.all(
      Array.from(
        { length: 4 },
        () => new HubSource("org/name", { cacheDir, endpoint }).readFile("model.safetensors"),
      ),
    );
    for (const file of files) assert.deepEqual(file, body);
    assert.equal(requests, 1);
  } finally {
    await server.shutdown();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("HF_HUB_OFFLINE accepts the values huggingface_hub does (1, ON, YES, TRUE)", async () => {
  const before = Deno.env.get("HF_HUB_OFFLINE");
  const cacheDir = await Deno.makeTempDir();
  try {
    for (const value of ["1", "ON", "yes", "True"]) {
      Deno.env.set("HF_HUB_OFFLINE", value);
      const source = new HubSource("org/name", { cacheDir, endpoint: "http://127.0.0.1:9" });
      await assert.rejects(source.readFile("config.json"), /downloads are off \(offline\)/);
    }
  } finally {
    if (before === undefined) Deno.env.delete("HF_HUB_OFFLINE");
    else Deno.env.set("HF_HUB_OFFLINE", before);
    await Deno.remove(cacheDir, { recursive: true });
  }
});
