/**
 * A real Postgres engine for the tests: PGlite (Postgres 17 compiled to WebAssembly) with its
 * pgvector extension, served over the Postgres wire protocol by PGlite-socket on a free local
 * port, so that the project's `postgres` client connects by URL exactly as to any server.
 *
 * Three things a server does that PGlite-socket 0.0.20 does not, and how the tests get them:
 * - A server reads the protocol as a stream of messages; PGlite-socket hands each TCP read to
 *   PGlite as if it held whole messages, and a message split across reads (a statement over
 *   ~64 KiB) crashes PGlite ("RuntimeError: unreachable"). `frameMessages()` makes its handler
 *   pass on whole messages only, in order.
 * - A real server aborts the open transaction of a connection that drops (its backend exits);
 *   PGlite keeps one session for every connection, so `stop()` rolls back what a dropped client
 *   left open.
 * - PGlite is one session: PGlite-socket serves one connection at a time (others wait in a queue)
 *   and holds the engine while it is open, so the tests close one client before the next
 *   connects, and read `db` directly only while no client is connected.
 * - PGlite accepts any user and password. `passwordGate()` puts a front on the socket that asks for
 *   a password (cleartext, as Postgres's `password` method does) and answers a wrong one as
 *   Postgres does (FATAL, SQLSTATE 28P01), then relays the wire protocol untouched.
 */
import { PGlite } from "npm:@electric-sql/pglite@0.3.14";
import { vector } from "npm:@electric-sql/pglite@0.3.14/vector";
import { PGLiteSocketHandler, PGLiteSocketServer } from "npm:@electric-sql/pglite-socket@0.0.20";

interface Framing {
  pending: Uint8Array;
  /** Until the startup message, messages have no type byte. */
  started: boolean;
  queue: Promise<unknown>;
}

const framing = new WeakMap<object, Framing>();

/** Patches PGlite-socket's handler to buffer partial messages (see the module doc). */
function frameMessages(): void {
  type Handler = { handleData(data: Uint8Array): Promise<number>; framed?: boolean };
  const proto = PGLiteSocketHandler.prototype as unknown as Handler;
  if (proto.framed) return;
  const original = proto.handleData;
  proto.framed = true;
  proto.handleData = function (this: Handler, data: Uint8Array): Promise<number> {
    let state = framing.get(this);
    if (state === undefined) {
      state = { pending: new Uint8Array(0), started: false, queue: Promise.resolve() };
      framing.set(this, state);
    }
    const all = new Uint8Array(state.pending.length + data.length);
    all.set(state.pending);
    all.set(data, state.pending.length);
    let end = 0;
    for (;;) {
      const typed = state.started ? 1 : 0;
      if (all.length - end < typed + 4) break;
      const length = new DataView(all.buffer, end + typed).getInt32(0);
      if (all.length - end < typed + length) break;
      // The startup message (protocol 3.0) ends the untyped ones (SSLRequest, GSSENCRequest).
      if (!state.started && new DataView(all.buffer, end + 4).getInt32(0) === 196608) {
        state.started = true;
      }
      end += typed + length;
    }
    state.pending = all.slice(end);
    if (end === 0) return Promise.resolve(0);
    const whole = all.subarray(0, end);
    const run = state.queue.then(() => original.call(this, whole));
    state.queue = run.catch(() => {});
    return run;
  };
}

/** A running PGlite server. */
export class PgServer {
  readonly db: PGlite;
  #socket: PGLiteSocketServer | null = null;
  #port = 0;
  #gates: Deno.Listener[] = [];
  #gateConns = new Set<Deno.Conn>();

  private constructor(db: PGlite) {
    this.db = db;
  }

  /** Starts PGlite (in memory) with pgvector, and the socket server. */
  static async start(): Promise<PgServer> {
    frameMessages();
    const db = await PGlite.create({ extensions: { vector } });
    await db.exec("CREATE EXTENSION IF NOT EXISTS vector");
    const server = new PgServer(db);
    await server.listen();
    return server;
  }

  /** The port the socket server listens on. */
  get port(): number {
    return this.#port;
  }

  /** A connection URL for `table` (any user: PGlite does not check). */
  url(table = "passages", extra = ""): string {
    return `postgres://postgres@127.0.0.1:${this.#port}/postgres?table=${table}${extra}`;
  }

  /** (Re)starts the socket server on the same port as before, or a free one the first time. */
  async listen(): Promise<void> {
    if (this.#socket !== null) return;
    const socket = new PGLiteSocketServer({ db: this.db, host: "127.0.0.1", port: this.#port });
    await socket.start();
    clampConnectionCount(socket);
    this.#port = Number(socket.getServerConn().split(":").pop());
    this.#socket = socket;
  }

  /**
   * Stops serving, as a server that dies: connections drop, and what they left uncommitted is
   * rolled back. The data stays (start again with `listen()`).
   */
  async stop(): Promise<void> {
    for (const conn of this.#gateConns) closeQuietly(conn);
    this.#gateConns.clear();
    const socket = this.#socket;
    this.#socket = null;
    // stop() drops the connection at once (and frees the engine), then waits for the listener.
    const stopping = socket?.stop();
    // PGlite keeps one session for all connections; a real backend's exit aborts its transaction
    // (outside a transaction, ROLLBACK only warns).
    await this.db.exec("ROLLBACK");
    await stopping;
  }

  /**
   * A front on a port of its own that requires `password` before relaying to PGlite.
   * @returns the port
   */
  passwordGate(password: string): number {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#gates.push(listener);
    (async () => {
      for await (const conn of listener) {
        this.#gateConns.add(conn);
        gate(conn, password, this.#port).catch(() => {}).finally(() => {
          this.#gateConns.delete(conn);
          closeQuietly(conn);
        });
      }
    })().catch(() => {});
    return (listener.addr as Deno.NetAddr).port;
  }

  /** Stops everything and closes PGlite. */
  async close(): Promise<void> {
    for (const gate of this.#gates) closeQuietly(gate);
    this.#gates = [];
    await this.stop();
    await this.db.close();
  }
}

/**
 * Deno 2.5's `node:net` counts a connection that a client closed twice (the server's
 * `_connections` goes to -1), so `server.close()` never calls back and PGlite-socket's `stop()`
 * never resolves, although the listener is closed (2.9 counts right). The count is kept at 0 or
 * above, which is what it is on a runtime that counts right.
 */
function clampConnectionCount(socket: PGLiteSocketServer): void {
  const server = (socket as unknown as { server: { _connections: number } | null }).server;
  if (server === null || typeof server._connections !== "number") return;
  let count = server._connections;
  Object.defineProperty(server, "_connections", {
    get: () => count,
    set: (value: number) => {
      count = Math.max(0, value);
    },
    configurable: true,
  });
}

function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch {
    // already closed
  }
}

/** Reads exactly `n` bytes (fewer only at end of stream). */
async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const read = await conn.read(out.subarray(got));
    if (read === null) throw new Error("the client went away");
    got += read;
  }
  return out;
}

function int32(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset).getInt32(at);
}

function message(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, 4 + body.length);
  out.set(body, 5);
  return out;
}

async function gate(conn: Deno.Conn, password: string, upstreamPort: number): Promise<void> {
  // Startup: int32 length, then the body; an SSLRequest (80877103) gets "N" and comes again.
  let startup: Uint8Array;
  for (;;) {
    const head = await readExactly(conn, 4);
    startup = new Uint8Array([...head, ...await readExactly(conn, int32(head, 0) - 4)]);
    if (int32(startup, 4) !== 80877103) break;
    await conn.write(new Uint8Array([0x4e]));
  }
  const fields = new TextDecoder().decode(startup.subarray(8)).split("\0");
  const user = fields[fields.indexOf("user") + 1] ?? "";
  await conn.write(message("R", new Uint8Array([0, 0, 0, 3]))); // AuthenticationCleartextPassword
  const type = await readExactly(conn, 5);
  const body = await readExactly(conn, int32(type, 1) - 4);
  const given = new TextDecoder().decode(body.subarray(0, body.length - 1));
  if (type[0] !== 0x70 || given !== password) {
    const text = `SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user "${user}"\0\0`;
    await conn.write(message("E", new TextEncoder().encode(text)));
    return;
  }
  const upstream = await Deno.connect({ hostname: "127.0.0.1", port: upstreamPort });
  try {
    await upstream.write(startup);
    await Promise.race([
      conn.readable.pipeTo(upstream.writable, { preventClose: true }),
      upstream.readable.pipeTo(conn.writable, { preventClose: true }),
    ]);
  } finally {
    closeQuietly(upstream);
  }
}
