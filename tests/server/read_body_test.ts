// The body reader: deadline (408), size limit (413), shared budget (503), and memory that counts
// the bytes received, not the HTTP layer's chunk buffers.
import assert from "node:assert/strict";
import { HttpError } from "../../server/http_error.ts";
import { BodyBudget, readJsonObject } from "../../server/read_body.ts";

/** A request whose body is the given chunks, then (unless `end`) a stream that never ends. */
function trickle(chunks: Uint8Array[], end: boolean, onPull?: () => void): Request {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      onPull?.();
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else if (end) controller.close();
      else return new Promise(() => {}); // the client stalls
    },
  });
  return new Request("http://x/search", { method: "POST", body });
}

/** One-byte views into one 64 KiB buffer each, as the HTTP layer hands them out. */
function views(text: string): Uint8Array[] {
  return [...new TextEncoder().encode(text)].map((byte) => {
    const big = new Uint8Array(65536);
    big[1000] = byte;
    return big.subarray(1000, 1001);
  });
}

Deno.test("readJsonObject: one-byte chunks are copied out; the budget counts bytes received", async () => {
  const budget = new BodyBudget(1 << 20);
  const text = JSON.stringify({ question: "x".repeat(3000) });
  let most = 0;
  const body = await readJsonObject(
    trickle(views(text), true, () => most = Math.max(most, budget.used)),
    {
      maxBytes: 4096,
      timeoutMs: 60_000,
      budget,
    },
  );
  assert.equal((body.question as string).length, 3000);
  // The buffer grows by doubling: at most twice what arrived, never 64 KiB per chunk.
  assert.ok(most <= 2 * text.length, `held ${most} bytes for ${text.length}`);
  assert.equal(budget.used, 0, "all given back");
});

Deno.test("readJsonObject: a body that stalls gets 408 at its deadline and gives its bytes back", async () => {
  const budget = new BodyBudget(1 << 20);
  const error = await readJsonObject(trickle(views('{"question": "wh'), false), {
    maxBytes: 4096,
    timeoutMs: 200,
    budget,
  }).then(() => null, (e) => e);
  assert.ok(error instanceof HttpError);
  assert.equal(error.status, 408);
  assert.match(error.message, /did not arrive within 200 ms \(16 bytes received\)/);
  assert.equal(error.headers.connection, "close");
  assert.equal(budget.used, 0);
});

Deno.test("readJsonObject: over the size limit 413, over the shared budget 503", async () => {
  const budget = new BodyBudget(1 << 20);
  const big = await readJsonObject(trickle([new Uint8Array(5000).fill(32)], true), {
    maxBytes: 4096,
    timeoutMs: 60_000,
    budget,
  }).then(() => null, (e) => e);
  assert.equal(big?.status, 413);
  const small = new BodyBudget(300);
  small.take(200); // another body holds 200 bytes
  const full = await readJsonObject(trickle([new Uint8Array(150).fill(32)], true), {
    maxBytes: 4096,
    timeoutMs: 60_000,
    budget: small,
  }).then(() => null, (e) => e);
  assert.equal(full?.status, 503);
  assert.match(full.message, /holds 200 bytes of request bodies being received; the limit is 300/);
  assert.equal(small.used, 200, "the refused body gave back what it took");
});

/** A byte stream (as Deno's request bodies are) giving one byte per pull; `end` closes it. */
function byteTrickle(text: string, end: boolean, onPull?: () => void): Request {
  const bytes = new TextEncoder().encode(text);
  let i = 0;
  const body = new ReadableStream({
    type: "bytes",
    pull(controller) {
      onPull?.();
      if (i < bytes.length) {
        const view = controller.byobRequest?.view;
        if (view) {
          new Uint8Array(view.buffer, view.byteOffset, 1)[0] = bytes[i++]!;
          controller.byobRequest!.respond(1);
        } else controller.enqueue(bytes.slice(i, ++i));
      } else if (end) {
        controller.close();
        controller.byobRequest?.respond(0);
      } else return new Promise(() => {});
    },
  });
  return new Request("http://x/search", { method: "POST", body, duplex: "half" } as RequestInit);
}

Deno.test("readJsonObject: a byte stream is read into the buffer; 408 and 413 as for chunks", async () => {
  const budget = new BodyBudget(1 << 20);
  const text = JSON.stringify({ question: "y".repeat(2000) });
  let most = 0;
  const body = await readJsonObject(
    byteTrickle(text, true, () => most = Math.max(most, budget.used)),
    { maxBytes: 4096, timeoutMs: 60_000, budget },
  );
  assert.equal((body.question as string).length, 2000);
  assert.ok(most <= 2 * text.length, `held ${most} bytes for ${text.length}`);
  assert.equal(budget.used, 0);
  const stalled = await readJsonObject(byteTrickle('{"q', false), {
    maxBytes: 4096,
    timeoutMs: 200,
    budget,
  }).then(() => null, (e) => e);
  assert.equal(stalled?.status, 408);
  assert.match(stalled.message, /\(3 bytes received\)/);
  assert.equal(budget.used, 0, "given back though the pending read held the buffer");
  const over = await readJsonObject(byteTrickle(" ".repeat(600), true), {
    maxBytes: 500,
    timeoutMs: 60_000,
    budget,
  }).then(() => null, (e) => e);
  assert.equal(over?.status, 413);
  assert.equal(budget.used, 0);
});
