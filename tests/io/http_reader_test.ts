// Weights behind a URL are read by HTTP range requests, one tensor at a time (a real local HTTP
// server that answers ranges as static file servers and CDNs do); a server without ranges still
// works (the file is spooled to a removed temporary file).
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { openHttpReader } from "../../io/http_reader.ts";
import { readSafetensors } from "../../io/safetensors.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { tf } from "../../backend/tf.ts";

const MODEL = new URL("../fixtures/models/dpr-question_encoder-tiny/", import.meta.url).pathname;

/** Serves `dir` under `/m/`; answers `Range: bytes=a-b` with 206 when `ranges` is on. */
function serve(dir: string, ranges: boolean) {
  const controller = new AbortController();
  const sent: { file: string; bytes: number }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (req) => {
      const file = new URL(req.url).pathname.replace(/^\/m\//, "");
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await Deno.readFile(`${dir}/${file}`);
      } catch {
        return new Response("no", { status: 404 });
      }
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("Range") ?? "");
      if (!ranges || range === null) {
        sent.push({ file, bytes: bytes.length });
        return new Response(bytes);
      }
      const start = Number(range[1]), end = Math.min(Number(range[2]), bytes.length - 1);
      const part = bytes.subarray(start, end + 1);
      sent.push({ file, bytes: part.length });
      return new Response(part, {
        status: 206,
        headers: { "Content-Range": `bytes ${start}-${end}/${bytes.length}` },
      });
    },
  );
  const { port } = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}/m`,
    sent,
    close: async () => {
      controller.abort();
      await server.finished;
    },
  };
}

async function pooler(source: string): Promise<number[]> {
  const model = await DPRQuestionEncoder.fromPretrained(source);
  const { poolerOutput } = model.forward({ inputIds: [[101, 7, 99, 102]] });
  const out = [...await poolerOutput.data()];
  poolerOutput.dispose();
  model.dispose();
  return out;
}

Deno.test("a model behind a URL is read by range requests, never fetched whole", async () => {
  const server = serve(MODEL, true);
  try {
    const expected = await pooler(MODEL);
    deepEqual(await pooler(server.url), expected);
    const weights = server.sent.filter((s) => s.file === "model.safetensors");
    const size = (await Deno.stat(`${MODEL}model.safetensors`)).size;
    ok(weights.length > 10, `one request per tensor: ${weights.length}`);
    // The largest answer is the first (the header and what follows, 64 KiB) or one tensor.
    const tensors = readSafetensors(await Deno.readFile(`${MODEL}model.safetensors`));
    const tensorBytes = Math.max(...[...tensors.values()].map((t) => t.data.byteLength));
    const largest = Math.max(...weights.map((s) => s.bytes));
    ok(largest <= Math.max(1 << 16, tensorBytes) && largest < size, `${largest} of ${size}`);
  } finally {
    await server.close();
  }
});

Deno.test("a server without range requests still serves the model (spooled, not kept)", async () => {
  const server = serve(MODEL, false);
  try {
    const before = tf.memory().numTensors;
    deepEqual(await pooler(server.url), await pooler(MODEL));
    equal(tf.memory().numTensors, before);
    const reader = await openHttpReader(`${server.url}/config.json`, "config.json", {
      fetch,
      headers: new Headers(),
    });
    ok(reader !== null);
    equal(reader.size, (await Deno.stat(`${MODEL}config.json`)).size);
    reader.close();
    equal(
      await openHttpReader(`${server.url}/absent.bin`, "x", { fetch, headers: new Headers() }),
      null,
    );
  } finally {
    await server.close();
  }
});

Deno.test("openHttpReader: reads ranges, refuses reads past the end and server errors", async () => {
  const server = serve(MODEL, true);
  try {
    const bytes = await Deno.readFile(`${MODEL}model.safetensors`);
    const reader = (await openHttpReader(`${server.url}/model.safetensors`, "the weights", {
      fetch,
      headers: new Headers(),
    }))!;
    equal(reader.size, bytes.length);
    const at = bytes.length - 1000;
    deepEqual(await reader.read(at, 100), bytes.subarray(at, at + 100));
    const into = new Uint8Array(10);
    await reader.readInto!(5, into);
    deepEqual(into, bytes.subarray(5, 15));
    await rejects(reader.read(bytes.length - 4, 8), /Cannot read the weights: bytes .* outside/);
    const failing = (() => Promise.resolve(new Response("x", { status: 500 }))) as typeof fetch;
    await rejects(
      openHttpReader(`${server.url}/model.safetensors`, "x", {
        fetch: failing,
        headers: new Headers(),
      }),
      /Cannot download .*model\.safetensors: HTTP 500/,
    );
  } finally {
    await server.close();
  }
});

Deno.test("without file permissions, a server without ranges is fetched once, when first read", async () => {
  const server = serve(MODEL, false);
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net=127.0.0.1",
        "--no-prompt",
        new URL("./http_reader_child.ts", import.meta.url).pathname,
        `${server.url}/model.safetensors`,
      ],
      stdout: "piped",
      stderr: "piped",
    });
    const { code, stdout, stderr } = await child.output();
    equal(code, 0, new TextDecoder().decode(stderr));
    const bytes = await Deno.readFile(`${MODEL}model.safetensors`);
    deepEqual(JSON.parse(new TextDecoder().decode(stdout)), {
      size: bytes.length,
      a: [...bytes.subarray(0, 8)],
      b: [...bytes.subarray(bytes.length - 4)],
    });
    // The opening request (its body dropped unread) and one whole fetch for both reads.
    equal(server.sent.filter((s) => s.file === "model.safetensors").length, 2);
  } finally {
    await server.close();
  }
});
