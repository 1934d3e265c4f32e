/**
 * An HTTP front end for {@link OpenDomainQA}: a `(request: Request) => Promise<Response>` for
 * `Deno.serve`, `deno serve` and Deno Deploy.
 *
 * | method and path | body (JSON)                                                    | reply (JSON)            |
 * | --------------- | -------------------------------------------------------------- | ----------------------- |
 * | `POST /embed`   | `{"texts": string[], "kind"?: "question" \| "passage", "titles"?: string[]}` | `{"dim", "embeddings": number[][]}` |
 * | `POST /search`  | `{"question": string, "k"?: number}`                           | `{"hits": [{id, score, title, text}]}` |
 * | `POST /answer`  | `{"question": string, "topK"?, "numSpans"?, "maxAnswerLength"?}` | `{"answers": [...]}`  |
 * | `GET /health`   | none                                                           | `{"ok": true, "models": {questionEncoder, contextEncoder, reader}, "indexSize"}` |
 *
 * Errors are JSON `{"error": message}`: 400 for malformed JSON, wrong types, empty input, text
 * with no visible characters and questions longer than the models read (more tokens than the
 * question encoder's limit, or for `/answer` more than half the reader's row), 408 when the body
 * or the whole request outlives its deadline, 413 for bodies, lists or texts over the limits, 404
 * for other paths, 405 (with `Allow`) for other methods, 503 when too many requests are being
 * answered or too many body bytes are being received, 500 when models cannot be loaded.
 * Concurrent requests are batched (question embeddings) or queued (reader, passage embeddings).
 *
 * Slow clients: a body being received holds no request slot, only its own bytes (copied out of
 * the HTTP layer's chunks, counted against `maxBodyBufferBytes`), and only until
 * `bodyTimeoutMs`. Header and idle timeouts belong to the listener, and `Deno.serve` has none:
 * {@link serveGuarded} serves the handler behind a relay that adds them (what `dpr serve` does).
 *
 * Models and the index load on the first request (or pass a ready pipeline): sources may be
 * http(s) URLs of model and index folders, so no file system is needed.
 * @module
 */
import type { OpenIndexOptions } from "../index/open_index.ts";
import type { VectorIndex } from "../index/vector_index.ts";
import type { OpenDomainQA } from "../pipeline/open_domain_qa.ts";
import type { DprModelSources } from "../pipeline/dpr_models.ts";
import { checkCorsOrigin, corsHeaders, preflightResponse } from "./cors.ts";
import { HttpError, jsonResponse } from "./http_error.ts";
import { PipelineLoader } from "./pipeline_loader.ts";
import { BodyBudget, readJsonObject } from "./read_body.ts";
import { logToStderr, type RequestLogEntry } from "./request_log.ts";
import { answerRoute, embedRoute, healthRoute, type RouteContext, searchRoute } from "./routes.ts";

export type { RequestLogEntry } from "./request_log.ts";
export { type GuardedServeOptions, type GuardedServer, serveGuarded } from "./guarded_server.ts";

/** Options of {@link createHandler}. */
export interface HandlerOptions extends DprModelSources {
  /** A ready pipeline (or its promise); otherwise one is loaded from the sources and `index`. */
  qa?: OpenDomainQA | Promise<OpenDomainQA>;
  /**
   * The index (needed when `qa` is not given): a folder, an http(s) URL of one, a `postgres://`
   * URL, or an open {@link VectorIndex}.
   */
  index?: string | VectorIndex;
  /** Options for opening `index` when it is a location (see `openIndex`: `rescore`, `oversample`). */
  indexOptions?: OpenIndexOptions;
  /** Retrieval only: the reader is never loaded, and `/answer` answers 404. */
  noReader?: boolean;
  /** Largest request body in bytes (default 1 MiB). */
  maxBodyBytes?: number;
  /** Most texts in one `/embed` request (default 64). */
  maxTexts?: number;
  /** Longest text or question in characters (default 4096). */
  maxTextLength?: number;
  /** Largest `k` / `topK` (default 100). */
  maxK?: number;
  /** Most requests being answered at once (bodies received); more get 503 (default 1024). */
  maxInFlight?: number;
  /** Milliseconds a request body may take to arrive; then 408 (default 10000). */
  bodyTimeoutMs?: number;
  /** Milliseconds a request may take from arrival to reply; then 408 (default 30000). */
  requestTimeoutMs?: number;
  /** Bytes all bodies being received may hold together; more get 503 (default 64 MiB). */
  maxBodyBufferBytes?: number;
  /**
   * CORS: the one origin allowed to call from a browser (`"https://example.com"`) or `"*"`.
   * Unset (the default): no CORS headers, and `OPTIONS` is refused like other methods.
   */
  cors?: string;
  /** A function given one entry per request (method, route, status, ms); `true` logs to stderr. */
  log?: boolean | ((entry: RequestLogEntry) => void);
}

interface Route {
  method: "GET" | "POST";
  run: (body: Record<string, unknown>, context: RouteContext) => unknown;
}

const ROUTES: Record<string, Route> = {
  "/embed": { method: "POST", run: embedRoute },
  "/search": { method: "POST", run: searchRoute },
  "/answer": { method: "POST", run: answerRoute },
  "/health": { method: "GET", run: (_, context) => healthRoute(context) },
};

/**
 * Builds the request handler.
 * @param options a pipeline or where to load one from, request limits, CORS and logging
 * @returns the handler
 *
 * @example
 * ```ts ignore
 * import { createHandler } from "@dpr/dpr/server";
 * Deno.serve(createHandler({ index: "my-index", models: "models", log: true }));
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
  const maxInFlight = limit("maxInFlight", 1024);
  const bodyTimeoutMs = limit("bodyTimeoutMs", 10_000);
  const requestTimeoutMs = limit("requestTimeoutMs", 30_000);
  const budget = new BodyBudget(limit("maxBodyBufferBytes", 64 * 1024 * 1024));
  const context: RouteContext = {
    limits: {
      maxTexts: limit("maxTexts", 64),
      maxTextLength: limit("maxTextLength", 4096),
      maxK: limit("maxK", 100),
    },
    pipeline: new PipelineLoader(options),
  };
  const cors = options.cors === undefined ? undefined : checkCorsOrigin(options.cors);
  const log = options.log === true ? logToStderr : options.log || undefined;
  if (log !== undefined && typeof log !== "function") {
    throw new TypeError(
      `Cannot create a handler: log must be a boolean or a function: received ${typeof log}`,
    );
  }
  let inFlight = 0;

  /** Answers one request; `path` is the route's name once one matched. */
  const respond = async (request: Request, start: number): Promise<Response> => {
    const path = new URL(request.url).pathname;
    const route = ROUTES[path];
    if (route === undefined) {
      throw new HttpError(
        404,
        `no such endpoint ${path.slice(0, 200)}; use POST /embed, /search, /answer or GET /health`,
      );
    }
    if (request.method === "OPTIONS" && cors !== undefined) {
      return preflightResponse(cors, [route.method]);
    }
    if (request.method !== route.method) {
      throw new HttpError(
        405,
        `${request.method} is not allowed on ${path}; use ${route.method}`,
        { allow: route.method },
      );
    }
    if (route.method === "GET") return jsonResponse(200, await route.run({}, context));
    const body = await readJsonObject(request, {
      maxBytes: maxBodyBytes,
      timeoutMs: Math.min(bodyTimeoutMs, requestTimeoutMs),
      budget,
    });
    if (inFlight >= maxInFlight) {
      throw new HttpError(503, `too many requests in progress (${inFlight}); retry later`, {
        "retry-after": "1",
      });
    }
    inFlight++;
    const work = Promise.resolve()
      .then(() => route.run(body, context))
      .finally(() => inFlight--);
    return jsonResponse(
      200,
      await withDeadline(work, requestTimeoutMs - (performance.now() - start), requestTimeoutMs),
    );
  };

  return async (request: Request): Promise<Response> => {
    const start = performance.now();
    let response: Response;
    try {
      response = await respond(request, start);
    } catch (error) {
      // An untouched body is dropped; one being read is left to the reader (see read_body.ts).
      if (!request.bodyUsed) request.body?.cancel().catch(() => {});
      if (error instanceof HttpError) {
        response = jsonResponse(error.status, { error: error.message }, error.headers);
      } else {
        const message = error instanceof Error ? error.message : String(error);
        response = jsonResponse(500, { error: message });
      }
    }
    if (cors !== undefined) {
      for (const [name, value] of Object.entries(corsHeaders(cors))) {
        response.headers.set(name, value);
      }
    }
    if (log !== undefined) {
      const path = new URL(request.url).pathname;
      log({
        method: request.method,
        route: ROUTES[path] === undefined ? "-" : path,
        status: response.status,
        ms: performance.now() - start,
      });
    }
    return response;
  };
}

/** The work's result, or a 408 when it outlives `ms` (the work itself runs on). */
async function withDeadline<T>(work: Promise<T>, ms: number, totalMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new HttpError(408, `request took longer than ${totalMs} ms`)),
      Math.max(0, ms),
    );
  });
  work.catch(() => {});
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
