import { deepEqual } from "node:assert/strict";
import { DPRQuestionEncoderTokenizer, DPRReaderTokenizer } from "../../tokenizer/mod.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;

Deno.test("fromPretrained reads a tokenizer from an http URL like from a folder", async () => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    try {
      return new Response(await Deno.readFile(`${MODELS}${path.replace(/^\/+/, "")}`));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const text = "Who wrote the first DPR paper?";
    const local = await DPRQuestionEncoderTokenizer.fromPretrained(
      `${MODELS}dpr-question_encoder-tiny`,
    );
    const remote = await DPRQuestionEncoderTokenizer.fromPretrained(
      `${base}/dpr-question_encoder-tiny`,
    );
    deepEqual(remote.encode(text), local.encode(text));
    const reader = await DPRReaderTokenizer.fromPretrained(`${base}/dpr-reader-tiny/`);
    deepEqual(reader.vocabSize, local.vocabSize);
  } finally {
    await server.shutdown();
  }
});
