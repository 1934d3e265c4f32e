/**
 * An HTTP front end for {@link OpenDomainQA}: a `(request: Request) => Promise<Response>` for
 * `Deno.serve`, `deno serve` and Deno Deploy.
 *
 * | method and path | body (JSON)                                                    | reply (JSON)            |
 * | --------------- | -------------------------------------------------------------- | ----------------------- |
 * | `POST /embed`   | `{"texts": string[], "kind"?: "question" \| "passage", "titles"?: string[]}` | `{"dim", "embeddings": number[][]}` |
 * | `POST /search`  | `{"question": string, "k"?: number}`                           | `{"hits": [{id, score, title, text}]}` |
 * | `POST /answer`  | `{"question": string, "topK"?, "numSpans"?, "maxAnswerLength"?}` | `{"answers": [...]}`  |
 *
 * Errors are JSON `{"error": message}`: 400 for malformed JSON, wrong types and empty input, 413
 * for bodies, lists or texts over the limits, 404 for other paths, 405 (with `Allow: POST`) for
 * other methods, 503 when too many requests wait, 500 when models cannot be loaded. Concurrent
 * requests are batched (question embeddings) or queued (reader, passage embeddings).
 *
 * Models and the index load on the first request (or pass a ready pipeline): sources may be
 * http(s) URLs of model and index folders, so no file system is needed.
 * @module
 */
import type { VectorIndex } from "../index/vector_index.ts";
import type { DprModelSources } from "../pipeline/dpr_models.ts";
import { loadDenseEncoder } from "../pipeline/dpr_models.ts";
import { OpenDomainQA } from "../pipeline/open_domain_qa.ts";
import type { DenseEncoder } from "../pipeline/dense_encoder.ts";

/** Options of {@link createHandler}. */
export interface HandlerOptions extends DprModelSources {
  /** A ready pipeline (or its promise); otherwise one is loaded from the sources and `index`. */
  qa?: OpenDomainQA | Promise<OpenDomainQA>;
  /**
   * The index (needed when `qa` is not given): a folder, an http(s) URL of one, a `postgres://`
   * URL, or an open {@link VectorIndex}.
   */
  index?: string | VectorIndex;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Most texts in one `/embed` request (default 64). */
  maxTexts?: number;
  /** Longest text or question in characters (default 4096). */
  maxTextLength?: number;
  /** Largest `k` / `topK` (default 100). */
  maxK?: number;
  /** Most requests in progress at once; more get 503 (default 1024). */
  maxInFlight?: number;
}

/** A request error with its HTTP status. */
class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

async function readBody(request: Request, maxBytes: number): Promise<unknown> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) {
    await request.body?.cancel();
    throw new HttpError(413, `request body is ${declared} bytes; the limit is ${maxBytes}`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body !== null) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > maxBytes) {
        await reader.cancel();
        throw new HttpError(413, `request body is over the limit of ${maxBytes} bytes`);
      }
      chunks.push(value);
    }
  }
  if (size === 0) throw new HttpError(400, "request body is empty; send a JSON object");
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    bytes.set(c, offset);
    offset += c.length;
  }
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
  return value;
}

function checkText(value: unknown, name: string, maxLength: number): string {
  if (typeof value !== "string") {
    throw new HttpError(400, `${name} must be a string: received ${describe(value)}`);
  }
  if (value.trim() === "") throw new HttpError(400, `${name} must not be empty`);
  if (value.length > maxLength) {
    throw new HttpError(413, `${name} has ${value.length} characters; the limit is ${maxLength}`);
  }
  return value;
}

function checkInt(value: unknown, name: string, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new HttpError(400, `${name} must be an integer: received ${describe(value)}`);
  }
  if (value < 1 || value > max) {
    throw new HttpError(400, `${name} must be between 1 and ${max}: received ${value}`);
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

function checkKeys(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) {
      throw new HttpError(
        400,
        `unknown field ${JSON.stringify(key)}; expected ${allowed.join(", ")}`,
      );
    }
  }
}

/**
 * Builds the request handler.
 * @param options a pipeline or where to load one from, and request limits
 * @returns the handler
 *
 * @example
 * ```ts ignore
 * import { createHandler } from "./handler.ts";
 * Deno.serve(createHandler({ index: "my-index", models: "models" }));
 * ```
 */
export function createHandler(options: HandlerOptions): (request: Request) => Promise<Response> {
  if (options === null || typeof options !== "object") {
    throw new TypeError(`Cannot create a handler: options must be an object: received ${options}`);
  }
  if (options.qa === undefined && options.index === undefined) {
    throw new TypeError("Cannot create a handler: pass a pipeline (qa) or an index to load");
  }
  const limit = (name: keyof HandlerOptions, fallback: number): number => {
    const value = options[name] ?? fallback;
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(
        `Cannot create a handler: ${name} must be a positive integer: received ${String(value)}`,
      );
    }
    return value;
  };
  const maxBodyBytes = limit("maxBodyBytes", 1024 * 1024);
  const maxTexts = limit("maxTexts", 64);
  const maxTextLength = limit("maxTextLength", 4096);
  const maxK = limit("maxK", 100);
  const maxInFlight = limit("maxInFlight", 1024);
  let inFlight = 0;

  let qaPromise: Promise<OpenDomainQA> | null = options.qa === undefined
    ? null
    : Promise.resolve(options.qa);
  const getQa = (): Promise<OpenDomainQA> => {
    if (qaPromise === null) {
      if (options.index === undefined) {
        return Promise.reject(new Error("the handler has neither a pipeline (qa) nor an index"));
      }
      qaPromise = OpenDomainQA.fromPretrained({ ...options, index: options.index });
      // A failed load is retried by the next request.
      qaPromise.catch(() => qaPromise = null);
    }
    return qaPromise;
  };
  let contextPromise: Promise<DenseEncoder> | null = null;
  const getContextEncoder = async (qa: OpenDomainQA): Promise<OpenDomainQA> => {
    if (qa.contextEncoder !== undefined) return qa;
    contextPromise ??= loadDenseEncoder("context", options);
    contextPromise.catch(() => contextPromise = null);
    const contextEncoder = await contextPromise;
    const upgraded = new OpenDomainQA({
      questionEncoder: qa.questionEncoder,
      contextEncoder,
      reader: qa.reader,
      index: qa.index,
    });
    qaPromise = Promise.resolve(upgraded);
    return upgraded;
  };

  const routes: Record<string, (body: Record<string, unknown>) => Promise<unknown>> = {
    "/embed": async (body) => {
      checkKeys(body, ["texts", "kind", "titles"]);
      const kind = body.kind ?? "question";
      if (kind !== "question" && kind !== "passage") {
        throw new HttpError(
          400,
          `kind must be "question" or "passage": received ${describe(kind)}`,
        );
      }
      if (!Array.isArray(body.texts)) {
        throw new HttpError(
          400,
          `texts must be an array of strings: received ${describe(body.texts)}`,
        );
      }
      if (body.texts.length === 0) throw new HttpError(400, "texts must not be empty");
      if (body.texts.length > maxTexts) {
        throw new HttpError(413, `texts has ${body.texts.length} items; the limit is ${maxTexts}`);
      }
      const texts = body.texts.map((t, i) => checkText(t, `texts[${i}]`, maxTextLength));
      let titles: string[] | undefined;
      if (body.titles !== undefined) {
        if (kind !== "passage") {
          throw new HttpError(400, 'titles are only used with kind "passage"');
        }
        if (!Array.isArray(body.titles) || body.titles.length !== texts.length) {
          throw new HttpError(400, `titles must be an array of ${texts.length} strings`);
        }
        titles = body.titles.map((t, i) => {
          if (typeof t !== "string") {
            throw new HttpError(400, `titles[${i}] must be a string: received ${describe(t)}`);
          }
          if (t.length > maxTextLength) {
            throw new HttpError(
              413,
              `titles[${i}] has ${t.length} characters; the limit is ${maxTextLength}`,
            );
          }
          return t;
        });
      }
      let qa = await getQa();
      let vectors: Float32Array[];
      if (kind === "question") {
        vectors = await qa.embedQuestions(texts);
      } else {
        qa = await getContextEncoder(qa);
        vectors = await qa.embedPassages(
          texts.map((text, i) => ({ title: titles?.[i] ?? "", text })),
        );
      }
      return { dim: qa.index.dim, embeddings: vectors.map((v) => Array.from(v)) };
    },
    "/search": async (body) => {
      checkKeys(body, ["question", "k"]);
      const question = checkText(body.question, "question", maxTextLength);
      const k = checkInt(body.k, "k", 10, maxK);
      const qa = await getQa();
      const hits = await qa.retrieve(question, k);
      return { hits: hits.map(({ id, score, title, text }) => ({ id, score, title, text })) };
    },
    "/answer": async (body) => {
      checkKeys(body, ["question", "topK", "numSpans", "maxAnswerLength"]);
      const question = checkText(body.question, "question", maxTextLength);
      const topK = checkInt(body.topK, "topK", 10, maxK);
      const numSpans = checkInt(body.numSpans, "numSpans", 3, 100);
      const maxAnswerLength = checkInt(body.maxAnswerLength, "maxAnswerLength", 10, 512);
      const qa = await getQa();
      if (qa.reader === undefined) throw new HttpError(404, "this server has no reader");
      const answers = await qa.answer(question, { topK, numSpans, maxAnswerLength });
      return {
        answers: answers.map((a) => ({
          text: a.text,
          score: a.score,
          relevanceScore: a.relevanceScore,
          retrievalScore: a.retrievalScore,
          passageId: a.passageId,
          title: a.title,
          start: a.start,
          end: a.end,
        })),
      };
    },
  };

  return async (request: Request): Promise<Response> => {
    try {
      const path = new URL(request.url).pathname;
      const route = routes[path];
      if (route === undefined) {
        await request.body?.cancel();
        return json(404, {
          error: `no such endpoint ${path}; use POST /embed, /search or /answer`,
        });
      }
      if (request.method !== "POST") {
        await request.body?.cancel();
        return json(405, { error: `${request.method} is not allowed on ${path}; use POST` }, {
          allow: "POST",
        });
      }
      if (inFlight >= maxInFlight) {
        await request.body?.cancel();
        return json(503, { error: `too many requests in progress (${inFlight}); retry later` }, {
          "retry-after": "1",
        });
      }
      inFlight++;
      try {
        const body = await readBody(request, maxBodyBytes) as Record<string, unknown>;
        return json(200, await route(body));
      } finally {
        inFlight--;
      }
    } catch (error) {
      if (error instanceof HttpError) return json(error.status, { error: error.message });
      const message = error instanceof Error ? error.message : String(error);
      return json(500, { error: message });
    }
  };
}
