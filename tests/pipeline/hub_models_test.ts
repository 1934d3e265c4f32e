// OpenDomainQA.fromPretrained with hub ids: the hub options (cacheDir, endpoint) reach the
// downloads, and a second load works from the cache with the server gone.
import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { OpenDomainQA } from "../../pipeline/open_domain_qa.ts";
import { hubFileHeaders, TEST_COMMIT } from "../io/hub_emulation.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;
const REPOS: Record<string, string> = {
  "org/q": "dpr-question_encoder-tiny",
  "org/ctx": "dpr-ctx_encoder-tiny",
  "org/reader": "dpr-reader-tiny",
};

Deno.test("OpenDomainQA.fromPretrained: hub ids with cacheDir and endpoint, then offline", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const match = /^\/(\w+\/\w+)\/resolve\/\w+\/([\w.]+)$/.exec(new URL(req.url).pathname);
    const folder = match ? REPOS[match[1]!] : undefined;
    if (!match || folder === undefined) {
      return new Response("Repository not found", { status: 404 });
    }
    const absent = new Response("Entry not found", {
      status: 404,
      headers: { "x-repo-commit": TEST_COMMIT },
    });
    if (match[2] === "pytorch_model.bin") return absent;
    try {
      const bytes = await Deno.readFile(`${MODELS}${folder}/${match[2]}`);
      return new Response(bytes, { headers: hubFileHeaders(bytes) });
    } catch {
      return absent;
    }
  });
  const dir = await Deno.makeTempDir();
  try {
    const index = new DenseIndex(32);
    index.add(["p1"], [new Float32Array(32).fill(0.1)], [{ title: "T", text: "Paris is nice." }]);
    await index.save(`${dir}/index`);
    const options = {
      index: `${dir}/index`,
      questionEncoder: "org/q",
      contextEncoder: "org/ctx",
      reader: "org/reader",
      cacheDir: `${dir}/cache`,
      endpoint: `http://127.0.0.1:${server.addr.port}`,
    };
    const qa = await OpenDomainQA.fromPretrained(options);
    const answers = await qa.answer("where is paris?", { topK: 1 });
    assert.ok(answers.length > 0);
    qa.dispose();
    const snapshot = `${dir}/cache/models--org--q/snapshots/${TEST_COMMIT}`;
    assert.ok((await Deno.stat(`${snapshot}/model.safetensors`)).isFile);
    await server.shutdown();
    const again = await OpenDomainQA.fromPretrained({ ...options, offline: true });
    assert.deepEqual(await again.answer("where is paris?", { topK: 1 }), answers);
    again.dispose();
  } finally {
    await server.shutdown().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
