import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { resolvePretrained } from "../../io/resolve.ts";
import { HubSource } from "../../io/hub_source.ts";
import { readSafetensors } from "../../io/safetensors.ts";
import type { StateDict } from "../../io/state_dict.ts";
import { gitBlobId, hubFileHeaders, TEST_COMMIT } from "./hub_emulation.ts";

const FIXTURES = new URL("../fixtures/models/", import.meta.url).pathname;
const NAME = "dpr-question_encoder-tiny";

/** The hub's 404: inside an existing repository it names the commit, as the hub does. */
function notFound(repoFolder: string): Response {
  let exists = false;
  try {
    exists = Deno.statSync(repoFolder).isDirectory;
  } catch {
    exists = false;
  }
  return new Response("Entry not found", {
    status: 404,
    headers: exists ? { "x-repo-commit": TEST_COMMIT } : {},
  });
}

interface Fault {
  /** Cut the connection after this many bytes of the file, once. */
  cutAfter?: number;
  /** Promise a wrong sha256. */
  wrongSha?: boolean;
}

/**
 * A hub-shaped server over the fixture folders: /org/<name>/resolve/<rev>/<file>, every revision
 * at {@link TEST_COMMIT}, with the hub's headers (X-Repo-Commit, etags, LFS redirects).
 */
function startHub(faults: Map<string, Fault> = new Map(), root = FIXTURES): {
  endpoint: string;
  requests: { path: string; range: string | null }[];
  close: () => Promise<void>;
} {
  const requests: { path: string; range: string | null }[] = [];
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      const range = request.headers.get("range");
      requests.push({ path, range });
      // Large files redirect to a storage host, as the hub does; the digest rides on the redirect.
      const lfs = /^\/org\/([\w.-]+)\/resolve\/[\w.-]+\/([\w.-]+\.safetensors)$/.exec(path);
      if (lfs) {
        let bytes: Uint8Array;
        try {
          bytes = await Deno.readFile(`${root}${lfs[1]}/${lfs[2]}`);
        } catch {
          return notFound(`${root}${lfs[1]}`);
        }
        const fault = faults.get(lfs[2]!) ?? {};
        const sha = createHash("sha256").update(fault.wrongSha ? new Uint8Array([1]) : bytes)
          .digest("hex");
        return new Response(null, {
          status: 302,
          headers: {
            location: `/storage/${lfs[1]}/${lfs[2]}`,
            "x-linked-etag": `"${sha}"`,
            "x-repo-commit": TEST_COMMIT,
          },
        });
      }
      const match = /^\/(?:org\/([\w.-]+)\/resolve\/[\w.-]+|storage\/([\w.-]+))\/([\w.-]+)$/
        .exec(path);
      if (!match) return new Response("not found", { status: 404 });
      const folder = match[1] ?? match[2]!;
      const name = match[3]!;
      const storage = match[2] !== undefined;
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(`${root}${folder}/${name}`);
      } catch {
        return notFound(`${root}${folder}`);
      }
      const fault = faults.get(name) ?? {};
      // Small files carry a git blob id as etag (not a digest); the storage host's etag is opaque.
      const headers = storage ? new Headers({ etag: '"storage-etag"' }) : hubFileHeaders(bytes);
      headers.set("accept-ranges", "bytes");
      let start = 0;
      let status = 200;
      const r = range ? /^bytes=(\d+)-$/.exec(range) : null;
      if (r) {
        start = Number(r[1]);
        status = 206;
        headers.set("content-range", `bytes ${start}-${bytes.length - 1}/${bytes.length}`);
      }
      const body = bytes.subarray(start);
      if (fault.cutAfter !== undefined) {
        const cut = fault.cutAfter;
        delete fault.cutAfter; // once
        const stream = new ReadableStream<Uint8Array>({
          start(c) {
            c.enqueue(body.slice(0, cut));
          },
          async pull(c) {
            // Wait a turn first, so the server sends the headers and the first bytes (Deno 2.5
            // sends nothing when the body ends short at once).
            await new Promise((resolve) => setTimeout(resolve, 0));
            c.close(); // fewer bytes than content-length promised: the connection drops
          },
        });
        headers.set("content-length", String(body.length));
        return new Response(stream, { status, headers });
      }
      headers.set("content-length", String(body.length));
      return new Response(body.slice(), { status, headers });
    },
  );
  const { port } = server.addr as Deno.NetAddr;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      controller.abort();
      await server.finished;
    },
  };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, prefix: string): Promise<void> => {
    for await (const entry of Deno.readDir(d)) {
      if (entry.isDirectory) await walk(`${d}/${entry.name}`, `${prefix}${entry.name}/`);
      else out.push(`${prefix}${entry.name}`);
    }
  };
  try {
    await walk(dir, "");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

/**
 * The Hugging Face cache's files for the fixture repository at {@link TEST_COMMIT}, as
 * huggingface_hub lays them out: blobs named by etag, snapshot links, the ref of "main", and the
 * files known to be absent.
 */
async function hfLayout(files: string[], absent: string[] = []): Promise<string[]> {
  const repo = `models--org--${NAME}`;
  const out = [`${repo}/refs/main`];
  for (const file of files) {
    const bytes = await Deno.readFile(`${FIXTURES}${NAME}/${file}`);
    const etag = file.endsWith(".safetensors")
      ? createHash("sha256").update(bytes).digest("hex")
      : gitBlobId(bytes);
    out.push(`${repo}/blobs/${etag}`, `${repo}/snapshots/${TEST_COMMIT}/${file}`);
  }
  for (const file of absent) out.push(`${repo}/.no_exist/${TEST_COMMIT}/${file}`);
  return out.sort();
}

async function expected(): Promise<StateDict> {
  return readSafetensors(await Deno.readFile(`${FIXTURES}${NAME}/model.safetensors`));
}

Deno.test("a hub id downloads into the cache, then loads offline with the server gone", async () => {
  const cacheDir = await Deno.makeTempDir();
  const hub = startHub();
  try {
    const options = { endpoint: hub.endpoint, cacheDir, progress: false, offline: false };
    const first = await resolvePretrained(`org/${NAME}`, options);
    assert.equal(first.format, "safetensors");
    assert.deepEqual(first.stateDict, await expected());
    assert.equal((first.config.architectures as string[])[0], "DPRQuestionEncoder");
    // The Hugging Face cache layout: blobs by etag, snapshot links to them, refs/main.
    assert.deepEqual(
      await listFiles(cacheDir),
      await hfLayout(["config.json", "model.safetensors"]),
    );
    const repo = `${cacheDir}/models--org--${NAME}`;
    assert.equal(await Deno.readTextFile(`${repo}/refs/main`), TEST_COMMIT);
    const link = await Deno.readLink(`${repo}/snapshots/${TEST_COMMIT}/model.safetensors`);
    assert.match(link, /^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/, "a relative link to the blob");
    // A tokenizer reads its files through the same source; absent files are remembered.
    const source = first.source as HubSource;
    assert.ok((await source.readFile("vocab.txt"))!.length > 100);
    assert.equal(await source.readFile("tokenizer.json"), null);
    assert.deepEqual(
      await listFiles(cacheDir),
      await hfLayout(["config.json", "model.safetensors", "vocab.txt"], ["tokenizer.json"]),
    );
    await hub.close();
    const count = hub.requests.length;
    const second = await resolvePretrained(`org/${NAME}`, options);
    assert.deepEqual(second.stateDict, first.stateDict);
    assert.equal(await (second.source as HubSource).readFile("tokenizer.json"), null);
    const offline = await resolvePretrained(`org/${NAME}`, { cacheDir, offline: true });
    assert.deepEqual(offline.stateDict, first.stateDict);
    assert.equal(hub.requests.length, count);
    await assert.rejects(
      () => new HubSource(`org/${NAME}`, { cacheDir, offline: true }).readFile("other.txt"),
      /not in the cache .*offline/,
    );
  } finally {
    await hub.close().catch(() => {});
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a 404, a cut connection and a sha256 mismatch leave no cache entry", async () => {
  const cacheDir = await Deno.makeTempDir();
  const faults = new Map<string, Fault>();
  const hub = startHub(faults);
  try {
    const options = { endpoint: hub.endpoint, cacheDir, progress: false, offline: false };
    await assert.rejects(
      () => resolvePretrained("org/no-such-model", options),
      /Cannot load a model from org\/no-such-model@main: it has no config\.json/,
    );
    assert.deepEqual(await listFiles(cacheDir), []);

    faults.set("model.safetensors", { wrongSha: true });
    await assert.rejects(() => resolvePretrained(`org/${NAME}`, options), /sha256 mismatch/);
    assert.deepEqual(await listFiles(cacheDir), await hfLayout(["config.json"]));

    faults.set("model.safetensors", { cutAfter: 100_000 });
    await assert.rejects(
      () => resolvePretrained(`org/${NAME}`, options),
      /connection was cut after 100000 of \d+ bytes/,
    );
    const files = await listFiles(cacheDir);
    assert.ok(!files.includes(`models--org--${NAME}/snapshots/${TEST_COMMIT}/model.safetensors`));
    assert.ok(files.some((f) => f.endsWith(".incomplete")), "the partial blob is kept");
    // The next try resumes with a Range request and verifies the whole file.
    const resumed = await resolvePretrained(`org/${NAME}`, options);
    assert.deepEqual(resumed.stateDict, await expected());
    const last = hub.requests.filter((r) => r.path.endsWith("model.safetensors")).at(-1);
    assert.equal(last?.range, "bytes=100000-");
    assert.deepEqual(
      await listFiles(cacheDir),
      await hfLayout(["config.json", "model.safetensors"]),
    );
  } finally {
    await hub.close();
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("hub ids go to the public hub unless HF_ENDPOINT says otherwise; local folders need none", async () => {
  const cacheDir = await Deno.makeTempDir();
  try {
    const asked: string[] = [];
    const unreachable = (input: string | URL | Request): Promise<Response> => {
      asked.push(String(input));
      return Promise.reject(new TypeError("no network in this test"));
    };
    const options = {
      cacheDir,
      progress: false,
      offline: false,
      fetch: unreachable as typeof fetch,
    };
    if (Deno.env.get("HF_ENDPOINT") === undefined) {
      await assert.rejects(
        () => resolvePretrained("org/anything", options),
        /not in the cache .* and the hub cannot be reached \(no network in this test\)/,
      );
      assert.deepEqual(asked, ["https://huggingface.co/org/anything/resolve/main/config.json"]);
    }
    asked.length = 0;
    await assert.rejects(() =>
      resolvePretrained("org/anything", { ...options, endpoint: "http://127.0.0.1:9/" })
    );
    assert.deepEqual(asked, ["http://127.0.0.1:9/org/anything/resolve/main/config.json"]);
    const local = await resolvePretrained(`${FIXTURES}dpr-reader-tiny`);
    assert.equal(local.format, "safetensors");
    await assert.rejects(() => resolvePretrained("./no/such/folder"), /not an existing folder/);
  } finally {
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("sharded safetensors resolve from a local folder and from the hub", async () => {
  const root = await Deno.makeTempDir();
  const cacheDir = await Deno.makeTempDir();
  try {
    const sd = await expected();
    const keys = [...sd.keys()];
    const dir = `${root}/sharded`;
    await Deno.mkdir(dir);
    const weightMap: Record<string, string> = {};
    const { writeSafetensors } = await import("../../io/safetensors.ts");
    for (const [i, part] of [keys.slice(0, 20), keys.slice(20)].entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      for (const k of part) weightMap[k] = file;
      await Deno.writeFile(
        `${dir}/${file}`,
        writeSafetensors(new Map(part.map((k) => [k, sd.get(k)!]))),
      );
    }
    await Deno.writeTextFile(
      `${dir}/model.safetensors.index.json`,
      JSON.stringify({ weight_map: weightMap }),
    );
    await Deno.copyFile(`${FIXTURES}${NAME}/config.json`, `${dir}/config.json`);
    const local = await resolvePretrained(dir);
    assert.equal(local.format, "sharded-safetensors");
    assert.deepEqual(new Map([...local.stateDict].sort()), new Map([...sd].sort()));
    const hub = startHub(new Map(), `${root}/`);
    try {
      const remote = await resolvePretrained("org/sharded", {
        endpoint: hub.endpoint,
        cacheDir,
        progress: false,
        offline: false,
      });
      assert.equal(remote.format, "sharded-safetensors");
      assert.deepEqual(new Map([...remote.stateDict].sort()), new Map([...sd].sort()));
    } finally {
      await hub.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("HF_TOKEN goes to the hub as a bearer token, never to another host", async () => {
  const cacheDir = await Deno.makeTempDir();
  const seen: { where: string; auth: string | null }[] = [];
  const storageAbort = new AbortController();
  const hubAbort = new AbortController();
  const bytes = await Deno.readFile(`${FIXTURES}${NAME}/model.safetensors`);
  const storage = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: storageAbort.signal, onListen: () => {} },
    (req) => {
      seen.push({ where: "storage", auth: req.headers.get("authorization") });
      return new Response(bytes.slice());
    },
  );
  const storagePort = (storage.addr as Deno.NetAddr).port;
  const hub = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: hubAbort.signal, onListen: () => {} },
    async (req) => {
      seen.push({ where: "hub", auth: req.headers.get("authorization") });
      const file = new URL(req.url).pathname.split("/").at(-1)!;
      if (file === "model.safetensors") {
        const sha = createHash("sha256").update(bytes).digest("hex");
        return new Response(null, {
          status: 302,
          headers: {
            location: `http://127.0.0.1:${storagePort}/blob`,
            "x-linked-etag": sha,
            "x-repo-commit": TEST_COMMIT,
          },
        });
      }
      if (file === "config.json") {
        const config = await Deno.readFile(`${FIXTURES}${NAME}/config.json`);
        return new Response(config, { headers: hubFileHeaders(config) });
      }
      return new Response("no", { status: 404, headers: { "x-repo-commit": TEST_COMMIT } });
    },
  );
  try {
    const endpoint = `http://127.0.0.1:${(hub.addr as Deno.NetAddr).port}`;
    const loaded = await resolvePretrained("org/private", {
      endpoint,
      cacheDir,
      token: "secret-token",
      progress: false,
      offline: false,
    });
    assert.equal(loaded.stateDict.size, 37);
    assert.ok(seen.some((s) => s.where === "storage"));
    for (const s of seen) {
      assert.equal(s.auth, s.where === "hub" ? "Bearer secret-token" : null, s.where);
    }
  } finally {
    hubAbort.abort();
    storageAbort.abort();
    await hub.finished;
    await storage.finished;
    await Deno.remove(cacheDir, { recursive: true });
  }
});

Deno.test("a moved branch is noticed: changed files download again, unreachable hubs keep the cache", async () => {
  const cacheDir = await Deno.makeTempDir();
  const files = new Map<string, string>([["config.json", '{"v": 1}']]);
  const requests: string[] = [];
  let failHead = false;
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    (request) => {
      const name = /^\/org\/m\/resolve\/[\w.-]+\/([\w.-]+)$/.exec(new URL(request.url).pathname)
        ?.[1];
      requests.push(`${request.method} ${name}`);
      if (request.method === "HEAD" && failHead) return new Response(null, { status: 503 });
      // The repository's commit follows its content; a commit asked for by id is answered as such.
      const revision = /\/resolve\/([\w.-]+)\//.exec(new URL(request.url).pathname)?.[1] ?? "";
      const commit = /^[0-9a-f]{40}$/.test(revision) ? revision : gitBlobId(
        new TextEncoder().encode(JSON.stringify([...files])),
      );
      const text = name === undefined ? undefined : files.get(name);
      if (text === undefined) {
        return new Response("Entry not found", {
          status: 404,
          headers: { "x-repo-commit": commit },
        });
      }
      // Small files: the etag is a git blob id, which changes with the content.
      return new Response(text, {
        headers: hubFileHeaders(new TextEncoder().encode(text), commit),
      });
    },
  );
  const endpoint = `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}`;
  const text = async (source: HubSource, name: string): Promise<string | null> => {
    const bytes = await source.readFile(name);
    return bytes === null ? null : new TextDecoder().decode(bytes);
  };
  try {
    const hub = new HubSource("org/m", { endpoint, cacheDir, offline: false, progress: false });
    assert.equal(await text(hub, "config.json"), '{"v": 1}');
    assert.equal(await text(hub, "vocab.txt"), null);
    requests.length = 0;
    // Unchanged: one HEAD each, nothing downloaded.
    assert.equal(await text(hub, "config.json"), '{"v": 1}');
    assert.equal(await text(hub, "vocab.txt"), null);
    assert.deepEqual(requests, ["HEAD config.json", "HEAD vocab.txt"]);
    // The branch moves: the changed file and the new one are downloaded.
    files.set("config.json", '{"v": 2}');
    files.set("vocab.txt", "[PAD]\n");
    assert.equal(await text(hub, "config.json"), '{"v": 2}');
    assert.equal(await text(hub, "vocab.txt"), "[PAD]\n");
    // A hub that errs or is gone leaves the cache as it is.
    failHead = true;
    files.set("config.json", '{"v": 3}');
    assert.equal(await text(hub, "config.json"), '{"v": 2}');
    // A commit never moves; offline never asks.
    requests.length = 0;
    const commit = "0123456789abcdef0123456789abcdef01234567";
    failHead = false;
    const pinned = new HubSource("org/m", {
      endpoint,
      cacheDir,
      revision: commit,
      progress: false,
    });
    assert.equal(await text(pinned, "config.json"), '{"v": 3}');
    assert.equal(await text(pinned, "config.json"), '{"v": 3}');
    assert.deepEqual(requests, ["HEAD config.json", "GET config.json"]);
    const offline = new HubSource("org/m", { endpoint, cacheDir, offline: true });
    assert.equal(await text(offline, "config.json"), '{"v": 2}');
    assert.deepEqual(requests, ["HEAD config.json", "GET config.json"]);
  } finally {
    controller.abort();
    await server.finished;
    await Deno.remove(cacheDir, { recursive: true });
  }
});
