/**
 * Reads a request's JSON body under a size limit, a deadline and a shared memory budget.
 *
 * The body goes into one growing buffer: read straight into it where the body is a byte stream
 * (Deno's are), else copied in chunk by chunk, each chunk dropped at once. A chunk is a view into
 * a larger buffer of the HTTP layer (64 KiB in Deno), so keeping chunks would hold those buffers
 * (a client trickling one byte at a time would cost kilobytes per byte), and letting the stream
 * allocate them would cost 64 KiB per pending read. Memory per body is at most twice the bytes
 * received (plus one), never more than twice the size limit.
 * @module
 */
import { HttpError } from "./http_error.ts";

/** Bytes held by bodies being read, across requests; a body that would exceed it gets 503. */
export class BodyBudget {
  /** The most bytes all bodies in progress may hold together. */
  readonly maxBytes: number;
  #used = 0;

  /** @param maxBytes the most bytes all bodies in progress may hold together */
  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Bytes held now. */
  get used(): number {
    return this.#used;
  }

  /**
   * Takes bytes from the budget.
   * @param bytes how many
   */
  take(bytes: number): void {
    if (this.#used + bytes > this.maxBytes) {
      throw new HttpError(
        503,
        `the server holds ${this.#used} bytes of request bodies being received; the limit is ` +
          `${this.maxBytes}; retry later`,
        { "retry-after": "1" },
      );
    }
    this.#used += bytes;
  }

  /**
   * Gives bytes back.
   * @param bytes how many
   */
  release(bytes: number): void {
    this.#used -= bytes;
  }
}

/** Limits of {@link readJsonObject}. */
export interface ReadBodyLimits {
  /** The largest body in bytes. */
  maxBytes: number;
  /** Milliseconds the whole body may take to arrive; then 408. */
  timeoutMs: number;
  /** The budget shared by all bodies in progress. */
  budget: BodyBudget;
}

/**
 * Reads the body of a request as one JSON object.
 * @param request the request
 * @param limits size limit, deadline and shared budget
 * @returns the parsed object
 */
export async function readJsonObject(
  request: Request,
  limits: ReadBodyLimits,
): Promise<Record<string, unknown>> {
  const bytes = await readBytes(request, limits);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "request body is not valid UTF-8");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new HttpError(400, "request body must be a JSON object");
  }
  return value as Record<string, unknown>;
}

async function readBytes(request: Request, limits: ReadBodyLimits): Promise<Uint8Array> {
  const { maxBytes, timeoutMs, budget } = limits;
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await request.body?.cancel().catch(() => {});
    throw new HttpError(413, `request body is ${declared} bytes; the limit is ${maxBytes}`);
  }
  if (request.body === null) throw new HttpError(400, "request body is empty; send a JSON object");
  // A byte stream (Deno's request bodies are) is read straight into our buffer; otherwise each
  // chunk is copied in and dropped.
  let byob: ReadableStreamBYOBReader | null = null;
  let chunks: ReadableStreamDefaultReader<Uint8Array> | null = null;
  try {
    byob = request.body.getReader({ mode: "byob" });
  } catch {
    chunks = request.body.getReader();
  }
  const reader = byob ?? chunks!;
  // One byte over the limit is room enough to notice a body over it.
  const most = maxBytes + 1;
  let buffer = new Uint8Array(0);
  let held = 0; // bytes taken from the budget (a BYOB read detaches `buffer` while pending)
  let size = 0;
  const grow = (needed: number): void => {
    if (needed <= buffer.length) return;
    const first = declared === null ? 256 : Math.min(Number(declared) + 1, 16384);
    const grown = new Uint8Array(Math.min(most, Math.max(first, 2 * buffer.length, needed)));
    budget.take(grown.length);
    grown.set(buffer.subarray(0, size));
    budget.release(held);
    held = grown.length;
    buffer = grown;
  };
  let timedOut = false;
  // Releasing the reader fails a pending read, so one timer bounds the whole body. (Not
  // cancelling: a Deno request body cancelled with a read pending keeps that read's state, and
  // with a default reader its 64 KiB buffer, for the life of the process. The 408 closes the
  // connection, which ends the read.)
  const timer = setTimeout(() => {
    timedOut = true;
    reader.releaseLock();
  }, timeoutMs);
  const expired = () =>
    new HttpError(
      408,
      `request body did not arrive within ${timeoutMs} ms (${size} bytes received)`,
      { connection: "close" },
    );
  try {
    for (;;) {
      let done: boolean;
      if (byob !== null) {
        grow(size + 1);
        const result = await byob.read(buffer.subarray(size)).catch((error) => {
          throw timedOut ? expired() : error;
        });
        // The read took our buffer and hands it back as the view's buffer.
        if (result.value !== undefined) buffer = new Uint8Array(result.value.buffer);
        done = result.done;
        if (!done) size += result.value!.length;
      } else {
        const result = await chunks!.read().catch((error) => {
          throw timedOut ? expired() : error;
        });
        done = result.done;
        if (!done) {
          const value = result.value!;
          grow(Math.min(size + value.length, most));
          buffer.set(value.subarray(0, buffer.length - size), size);
          size += value.length;
        }
      }
      if (timedOut) throw expired();
      if (done) break;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        throw new HttpError(413, `request body is over the limit of ${maxBytes} bytes`);
      }
    }
  } catch (error) {
    if (!timedOut) await reader.cancel().catch(() => {});
    throw error;
  } finally {
    clearTimeout(timer);
    budget.release(held);
  }
  if (size === 0) throw new HttpError(400, "request body is empty; send a JSON object");
  return buffer.subarray(0, size);
}
