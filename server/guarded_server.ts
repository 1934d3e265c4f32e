/**
 * `Deno.serve` behind a connection guard: header and idle timeouts and a connection limit, which
 * `Deno.serve` itself does not offer (Deno 2.5 and 2.9 keep a connection that sends its headers
 * one byte a second, or nothing at all, open for as long as the client likes).
 *
 * The guard listens on the public address and relays each accepted connection, byte for byte, to
 * a `Deno.serve` listening on a loopback port of its own. It parses nothing but the end of each
 * request's header block (the first blank line after the client starts a request):
 * - a request's headers must arrive within `headerTimeoutMs` of its first byte (of the
 *   connection's opening, for the first request); then the client gets 408 and is disconnected;
 * - a connection with no byte in either direction for `idleTimeoutMs` is closed;
 * - beyond `maxConnections` open connections, a new one gets 503 and is closed.
 * Bodies are the handler's business (`createHandler`'s `bodyTimeoutMs`). Each relayed connection
 * costs 20 KiB of buffers (4 KiB towards the server, 16 KiB back) and three file descriptors
 * (client, relay, server side).
 * @module
 */

/** Options of {@link serveGuarded}. */
export interface GuardedServeOptions {
  /** The address to listen on (default 127.0.0.1). */
  hostname?: string;
  /** The port (default 8000; 0 picks a free one). */
  port?: number;
  /** Milliseconds a request's header block may take to arrive; then 408 (default 10000). */
  headerTimeoutMs?: number;
  /** Milliseconds a connection may stay silent both ways; then it is closed (default 60000). */
  idleTimeoutMs?: number;
  /** Most connections open at once; more get 503 (default 4096). */
  maxConnections?: number;
  /** Called once listening (default: a line on stderr). */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** A running guarded server. */
export interface GuardedServer {
  /** The public address. */
  readonly addr: Deno.NetAddr;
  /** Connections open now. */
  readonly connections: number;
  /** Resolves once the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting, closes every connection and the inner server. */
  shutdown(): Promise<void>;
}

interface Relay {
  client: Deno.Conn;
  upstream: Deno.Conn | null;
  /** When the current request's header block must be complete; null once it is. */
  headerDeadline: number | null;
  /** The server has answered since the last header block: the client's next byte starts one. */
  answered: boolean;
  /** The last 3 bytes seen from the client, to find "\r\n\r\n" across reads. */
  tail: number;
  lastActivity: number;
  closed: boolean;
}

/** A complete HTTP/1.1 reply that closes the connection. */
function closingReply(status: string, message: string, extra = ""): Uint8Array {
  const body = JSON.stringify({ error: message });
  return new TextEncoder().encode(
    `HTTP/1.1 ${status}\r\ncontent-type: application/json\r\nconnection: close\r\n${extra}` +
      `content-length: ${body.length}\r\n\r\n${body}`,
  );
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(
      `Cannot serve: ${name} must be a positive integer: received ${String(value)}`,
    );
  }
  return v;
}

/**
 * Serves a handler behind the connection guard.
 * @param options address, timeouts and connection limit
 * @param handler the request handler (for example from `createHandler`)
 * @returns the running server
 *
 * @example
 * ```ts ignore
 * import { createHandler, serveGuarded } from "@dpr/dpr/server";
 * serveGuarded({ port: 8000 }, createHandler({ index: "my-index", models: "models" }));
 * ```
 */
export function serveGuarded(
  options: GuardedServeOptions,
  handler: (request: Request) => Response | Promise<Response>,
): GuardedServer {
  const headerTimeoutMs = positive("headerTimeoutMs", options.headerTimeoutMs, 10_000);
  const idleTimeoutMs = positive("idleTimeoutMs", options.idleTimeoutMs, 60_000);
  const maxConnections = positive("maxConnections", options.maxConnections, 4096);
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 8000,
  });
  const inner = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  const relays = new Set<Relay>();
  let stopping = false;

  const close = (relay: Relay): void => {
    if (relay.closed) return;
    relay.closed = true;
    relays.delete(relay);
    for (const conn of [relay.client, relay.upstream]) {
      try {
        conn?.close();
      } catch { /* already closed */ }
    }
  };
  const reply408 = closingReply(
    "408 Request Timeout",
    `request headers did not arrive within ${headerTimeoutMs} ms`,
  );
  const reply503 = closingReply(
    "503 Service Unavailable",
    `too many open connections (${maxConnections}); retry later`,
    "retry-after: 1\r\n",
  );
  const refuse = async (conn: Deno.Conn, reply: Uint8Array): Promise<void> => {
    try {
      await conn.write(reply);
    } catch { /* the client left */ }
    try {
      conn.close();
    } catch { /* already closed */ }
  };

  // One sweep for all connections: expired header blocks get 408, silent connections are closed.
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const relay of relays) {
      if (relay.headerDeadline !== null && now > relay.headerDeadline) {
        // Closed for the relay loops (they end on their own); the client still gets its 408.
        relay.closed = true;
        relays.delete(relay);
        try {
          relay.upstream?.close();
        } catch { /* already closed */ }
        refuse(relay.client, reply408);
      } else if (now - relay.lastActivity > idleTimeoutMs) {
        close(relay);
      }
    }
  }, Math.max(50, Math.min(1000, Math.floor(Math.min(headerTimeoutMs, idleTimeoutMs) / 4))));

  const fromClient = async (relay: Relay, upstream: Deno.Conn): Promise<void> => {
    // Small: requests are small, and a slow client holds this buffer for as long as it is slow.
    const buffer = new Uint8Array(4096);
    for (;;) {
      const n = await relay.client.read(buffer);
      if (n === null) break;
      relay.lastActivity = performance.now();
      if (relay.answered) {
        relay.answered = false;
        relay.headerDeadline = relay.lastActivity + headerTimeoutMs;
        relay.tail = 0;
      }
      if (relay.headerDeadline !== null) scanHeaderEnd(relay, buffer, n);
      let written = 0;
      while (written < n) written += await upstream.write(buffer.subarray(written, n));
    }
  };
  const toClient = async (relay: Relay, upstream: Deno.Conn): Promise<void> => {
    const buffer = new Uint8Array(16384);
    for (;;) {
      const n = await upstream.read(buffer);
      if (n === null) break;
      relay.lastActivity = performance.now();
      // An interim reply alone ("100 Continue" before a body) does not end the request.
      if (relay.headerDeadline === null && !interimOnly(buffer, n)) relay.answered = true;
      let written = 0;
      while (written < n) written += await relay.client.write(buffer.subarray(written, n));
    }
  };

  const relay = async (client: Deno.Conn): Promise<void> => {
    const now = performance.now();
    const r: Relay = {
      client,
      upstream: null,
      headerDeadline: now + headerTimeoutMs,
      answered: false,
      tail: 0,
      lastActivity: now,
      closed: false,
    };
    relays.add(r);
    try {
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: inner.addr.port });
      if (r.closed) {
        upstream.close();
        return;
      }
      r.upstream = upstream;
      await Promise.race([fromClient(r, upstream), toClient(r, upstream)]);
    } catch {
      /* a side closed or reset */
    } finally {
      close(r);
    }
  };

  const accepting = (async () => {
    while (!stopping) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (stopping || error instanceof Deno.errors.BadResource) break;
        // Out of file descriptors and the like: wait a little rather than spin.
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      if (relays.size >= maxConnections) refuse(conn, reply503);
      else relay(conn);
    }
  })();

  const addr = listener.addr as Deno.NetAddr;
  (options.onListen ?? ((a) => console.error(`Listening on http://${a.hostname}:${a.port}/`)))(
    addr,
  );
  let finished: Promise<void> | null = null;
  const shutdown = (): Promise<void> => {
    finished ??= (async () => {
      stopping = true;
      clearInterval(sweep);
      try {
        listener.close();
      } catch { /* already closed */ }
      await accepting;
      for (const r of [...relays]) close(r);
      await inner.shutdown();
    })();
    return finished;
  };
  let resolveFinished: () => void;
  const finishedPromise = new Promise<void>((resolve) => resolveFinished = resolve);
  inner.finished.then(() => resolveFinished());
  return {
    addr,
    get connections() {
      return relays.size;
    },
    finished: finishedPromise,
    shutdown,
  };
}

const INTERIM = new TextEncoder().encode("HTTP/1.1 1");

/** Whether a chunk from the server is exactly one interim (1xx) reply. */
function interimOnly(buffer: Uint8Array, n: number): boolean {
  if (n < INTERIM.length || INTERIM.some((byte, i) => buffer[i] !== byte)) return false;
  for (let i = INTERIM.length; i + 3 < n; i++) {
    if (buffer[i] === 13 && buffer[i + 1] === 10 && buffer[i + 2] === 13 && buffer[i + 3] === 10) {
      return i + 4 === n;
    }
  }
  return false;
}

/** Marks the header block complete once "\r\n\r\n" is seen (possibly split across reads). */
function scanHeaderEnd(relay: Relay, buffer: Uint8Array, n: number): void {
  // tail counts the trailing bytes of the pattern matched so far: \r \n \r \n.
  let matched = relay.tail;
  for (let i = 0; i < n; i++) {
    const byte = buffer[i]!;
    const want = matched % 2 === 0 ? 13 : 10;
    if (byte === want) matched++;
    else matched = byte === 13 ? 1 : 0;
    if (matched === 4) {
      relay.headerDeadline = null;
      relay.tail = 0;
      return;
    }
  }
  relay.tail = matched;
}
