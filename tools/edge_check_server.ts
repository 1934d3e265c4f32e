/**
 * The server children of `edge_check.ts`: `edge_check_probe.ts` (the example under Deploy's
 * permissions, with a timer-lag probe) started per configuration, what its probe reports, and
 * the requests and `/proc` readings the check makes of it.
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const PROBE = `${ROOT}tools/edge_check_probe.ts`;
/** Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** `VmHWM` (peak RSS) of a process, in bytes. */
export function peakRss(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+)/.exec(status)![1]) * 1024;
}

/** CPU time (user + system, all threads) of a process, in milliseconds. */
export function cpuMs(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS_PER_SECOND;
}

/** A free loopback port. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A server child: its process, its port, and what its probe said so far. */
export interface Server {
  child: Deno.ChildProcess;
  port: number;
  started: number;
  longestBlockMs: number;
  /** The most CPU the server's main thread spent between two probe firings. */
  longestCpuBlockMs: number;
  /** The same, since `serving` was set. */
  longestServingCpuBlockMs: number;
  /** The longest block reported since `serving` was set (requests only, loading excluded). */
  longestServingBlockMs: number;
  serving: boolean;
  ready: Promise<void>;
  stderr: string[];
}

export function startServer(env: Record<string, string>): Server {
  const port = freePort();
  const started = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", "--allow-net", "--allow-env", PROBE],
    cwd: ROOT,
    env: { PORT: String(port), ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let markReady = () => {};
  const server: Server = {
    child,
    port,
    started,
    longestBlockMs: 0,
    longestCpuBlockMs: 0,
    longestServingCpuBlockMs: 0,
    longestServingBlockMs: 0,
    serving: false,
    ready: new Promise((resolve) => markReady = resolve),
    stderr: [],
  };
  (async () => {
    const decoder = new TextDecoderStream();
    let buffer = "";
    for await (const chunk of child.stdout.pipeThrough(decoder)) {
      buffer += chunk;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          const message = JSON.parse(line);
          if (message.probe === "block") {
            server.longestBlockMs = Math.max(server.longestBlockMs, message.ms);
            if (server.serving) {
              server.longestServingBlockMs = Math.max(server.longestServingBlockMs, message.ms);
            }
          }
          if (message.probe === "cpu-block") {
            server.longestCpuBlockMs = Math.max(server.longestCpuBlockMs, message.ms);
            if (server.serving) {
              server.longestServingCpuBlockMs = Math.max(
                server.longestServingCpuBlockMs,
                message.ms,
              );
            }
          }
          if (message.probe === "ready") markReady();
        } catch { /* the example's own output */ }
      }
    }
  })();
  (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      server.stderr.push(chunk);
    }
  })();
  return server;
}

export async function stopServer(server: Server): Promise<void> {
  try {
    server.child.kill("SIGKILL");
  } catch { /* already gone */ }
  await server.child.status;
}

/** POSTs `body` to `route`; the parsed JSON reply (throws on an HTTP error). */
export async function post(server: Server, route: string, body: unknown): Promise<unknown> {
  const response = await fetch(`http://127.0.0.1:${server.port}${route}`, {
    method: "POST",
    body: JSON.stringify(body),
  });
  const reply = await response.json();
  if (!response.ok) throw new Error(`${route}: HTTP ${response.status}: ${JSON.stringify(reply)}`);
  return reply;
}

/** POSTs until the server answers (it may not listen yet); fails after `limitMs`. */
export async function firstAnswer(
  server: Server,
  route: string,
  body: unknown,
  limitMs = 120_000,
): Promise<unknown> {
  while (performance.now() - server.started < limitMs) {
    try {
      return await post(server, route, body);
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // connection refused: not listening yet
      const status = await Promise.race([server.child.status, delay(25)]);
      if (status !== undefined) {
        throw new Error(`the server exited (${status.code}):\n${server.stderr.join("")}`);
      }
    }
  }
  throw new Error(`no answer within ${limitMs} ms:\n${server.stderr.join("")}`);
}

export function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}

/** Mean CPU milliseconds of the server per request of `body` to `route`. */
export async function cpuPerRequest(
  server: Server,
  route: string,
  bodies: unknown[],
): Promise<number> {
  const before = cpuMs(server.child.pid);
  for (const body of bodies) await post(server, route, body);
  return (cpuMs(server.child.pid) - before) / bodies.length;
}
