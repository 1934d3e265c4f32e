/**
 * `dpr serve` under slow clients, on 127.0.0.1 only: the server (the tiny fixture models, the
 * demo passages, retrieval only) runs in a child process behind the connection guard; this
 * process sends 1,000 normal /search requests quietly, then again while 1,100 clients trickle
 * their bodies and 100 trickle their headers one byte a second (each reconnecting when cut off),
 * and prints JSON lines: success rate, p50 / p99 latency, the server's RSS (quiet, peak under
 * attack, after the attackers leave) and what the slow clients got. Stops by itself.
 *
 * ```
 * deno task bench:slow-clients [--slow-body 1100] [--slow-header 100] [--requests 1000]
 *   [--concurrency 10] [--body-timeout 10000] [--header-timeout 10000] [--min-attack 25000]
 *   [--rounds 2] [--no-guard]   (--no-guard: plain Deno.serve, for comparison)
 * ```
 * @module
 */
import { parseArgs } from "node:util";

const ROOT = new URL("../", import.meta.url).pathname;
const MODELS = `${ROOT}tests/fixtures/models`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    server: { type: "boolean" },
    "no-guard": { type: "boolean" },
    attack: { type: "string" },
    "slow-body": { type: "string", default: "1100" },
    "slow-header": { type: "string", default: "100" },
    requests: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "10" },
    "body-timeout": { type: "string", default: "10000" },
    "header-timeout": { type: "string", default: "10000" },
    "min-attack": { type: "string", default: "25000" },
    rounds: { type: "string", default: "2" },
  },
});
const num = (name: keyof typeof values): number => Number(values[name]);

/** The server child: index the demo passages, then serve behind the guard; print the port. */
async function runServer(): Promise<void> {
  const { DenseIndex } = await import("../index/dense_index.ts");
  const { OpenDomainQA } = await import("../pipeline/open_domain_qa.ts");
  const { loadDenseEncoder } = await import("../pipeline/dpr_models.ts");
  const { readPassages } = await import("../pipeline/passages.ts");
  const { createHandler } = await import("../server/handler.ts");
  const { serveGuarded } = await import("../server/guarded_server.ts");
  const contextEncoder = await loadDenseEncoder("context", { models: MODELS });
  const qa = new OpenDomainQA({
    questionEncoder: await loadDenseEncoder("question", { models: MODELS }),
    contextEncoder,
    index: new DenseIndex(contextEncoder.dim),
  });
  const passages = [];
  for await (const p of readPassages(`${ROOT}data/demo_passages.tsv`)) passages.push(p);
  await qa.index.upsert({
    ids: passages.map((p) => p.id),
    vectors: await qa.embedPassages(passages),
    metadata: passages.map((p) => ({ title: p.title, text: p.text })),
  });
  const handler = createHandler({ qa, bodyTimeoutMs: num("body-timeout") });
  const onListen = (addr: Deno.NetAddr) => console.log(JSON.stringify({ port: addr.port }));
  if (values["no-guard"]) Deno.serve({ hostname: "127.0.0.1", port: 0, onListen }, handler);
  else serveGuarded({ port: 0, headerTimeoutMs: num("header-timeout"), onListen }, handler);
}

function rssMb(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) / 1024;
}

/** CPU seconds (user + system) the process has used. */
function cpuSeconds(pid: number): number {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `count` normal /search requests, `concurrency` at a time. */
async function normalRequests(url: string, count: number, concurrency: number) {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const start = performance.now();
      let status: string;
      try {
        const r = await fetch(`${url}/search`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ question: `who discovered penicillin ${i % 50}?`, k: 5 }),
        });
        await r.arrayBuffer();
        status = String(r.status);
      } catch {
        status = "error";
      }
      latencies.push(performance.now() - start);
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  latencies.sort((a, b) => a - b);
  return {
    requests: count,
    ok: statuses["200"] ?? 0,
    successRate: (statuses["200"] ?? 0) / count,
    statuses,
    p50Ms: Number(percentile(latencies, 0.5).toFixed(1)),
    p99Ms: Number(percentile(latencies, 0.99).toFixed(1)),
  };
}

/** A client that connects, sends `head` at once, then one byte of `trickle` a second. */
async function slowClient(
  port: number,
  head: string,
  trickle: string,
  stop: { now: boolean },
  outcomes: Record<string, number>,
): Promise<void> {
  const encoder = new TextEncoder();
  while (!stop.now) {
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: "127.0.0.1", port });
    } catch {
      outcomes.connectError = (outcomes.connectError ?? 0) + 1;
      await sleep(1000);
      continue;
    }
    // What the server answers, if it answers before closing.
    const reply = (async () => {
      const buffer = new Uint8Array(512);
      const n = await conn.read(buffer).catch(() => null);
      return n === null ? "closed" : new TextDecoder().decode(buffer.subarray(0, n)).slice(9, 12);
    })();
    let answered: string | null = null;
    reply.then((r) => answered = r);
    try {
      if (head !== "") await conn.write(encoder.encode(head));
      for (let i = 0; i < trickle.length && answered === null && !stop.now; i++) {
        await conn.write(encoder.encode(trickle[i]!));
        await Promise.race([sleep(1000), reply]);
      }
    } catch { /* cut off */ }
    const outcome = stop.now && answered === null ? "stillAttached" : await reply;
    outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    try {
      conn.close();
    } catch { /* already closed */ }
  }
}

/** The attackers' process: slow clients until stdin closes, then their outcomes as JSON. */
async function runAttackers(port: number): Promise<void> {
  const stop = { now: false };
  const slowBodyOutcomes: Record<string, number> = {};
  const slowHeaderOutcomes: Record<string, number> = {};
  const body = JSON.stringify({ question: "a slow question ".repeat(60) });
  const head = `POST /search HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
    `content-length: ${body.length}\r\n\r\n`;
  const header = `GET /health HTTP/1.1\r\nhost: x\r\nx-slow: ${"a".repeat(500)}\r\n\r\n`;
  const attackers = [
    ...Array.from(
      { length: num("slow-body") },
      () => slowClient(port, head, body, stop, slowBodyOutcomes),
    ),
    ...Array.from(
      { length: num("slow-header") },
      () => slowClient(port, "", header, stop, slowHeaderOutcomes),
    ),
  ];
  await Deno.stdin.readable.pipeTo(new WritableStream());
  stop.now = true;
  await Promise.all(attackers);
  console.log(JSON.stringify({ slowBodyOutcomes, slowHeaderOutcomes }));
}

async function runBench(): Promise<void> {
  const slowBody = num("slow-body");
  const slowHeader = num("slow-header");
  const needFds = 2 * (slowBody + slowHeader) + 256;
  const limit = Number(
    new TextDecoder().decode(
      (await new Deno.Command("sh", { args: ["-c", "ulimit -n"], stdout: "piped" }).output())
        .stdout,
    ).trim(),
  );
  if (limit < needFds && Deno.env.get("DPR_SLOW_CLIENTS_RAISED") !== "1") {
    // Raise the soft limit (as far as the hard one allows) and run again under it.
    const args = [Deno.execPath(), "run", "-A", new URL(import.meta.url).pathname, ...Deno.args];
    const { code } = await new Deno.Command("sh", {
      args: [
        "-c",
        `ulimit -n ${needFds} 2>/dev/null || ulimit -n $(ulimit -Hn); exec "$@"`,
        "sh",
        ...args,
      ],
      env: { DPR_SLOW_CLIENTS_RAISED: "1" },
    }).output();
    Deno.exit(code);
  }
  console.log(JSON.stringify({ bench: "slow_clients", fdLimit: limit, ...values }));
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--server", ...Deno.args],
    stdout: "piped",
    stderr: "inherit",
    env: { DPR_BACKEND: "cpu" },
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 10 * 60_000); // never outlive 10 min
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const { value } = await lines.read();
    const port = JSON.parse(value!).port as number;
    lines.releaseLock();
    child.stdout.cancel().catch(() => {});
    const url = `http://127.0.0.1:${port}`;
    await normalRequests(url, 100, num("concurrency")); // warm up
    let cpu = cpuSeconds(child.pid);
    let clock = performance.now();
    /** The server's CPU use since the last call, in cores (1 = one core busy all the time). */
    const serverCores = (): number => {
      const [c, t] = [cpuSeconds(child.pid), performance.now()];
      const cores = (c - cpu) / ((t - clock) / 1000);
      [cpu, clock] = [c, t];
      return Number(cores.toFixed(2));
    };
    const quiet = await normalRequests(url, num("requests"), num("concurrency"));
    const quietRss = rssMb(child.pid);
    console.log(JSON.stringify({
      phase: "quiet",
      ...quiet,
      rssMb: Math.round(quietRss),
      serverCores: serverCores(),
    }));

    const goals = { successRate: true, p99: true, peakRss: true };
    // Rounds of the same attack: RSS does not drop back at once (V8 collects lazily); a second
    // round shows whether that memory is reused or added to.
    for (let round = 1; round <= num("rounds"); round++) {
      // The attackers run in a process of their own, so this one measures only the server.
      const attack = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL(import.meta.url).pathname,
          "--attack",
          String(port),
          ...Deno.args,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      let peakRss = quietRss;
      const sampler = setInterval(() => peakRss = Math.max(peakRss, rssMb(child.pid)), 250);
      const attackStart = performance.now();
      await sleep(3000); // all attached
      serverCores();
      const attacked = await normalRequests(url, num("requests"), num("concurrency"));
      const attackedCores = serverCores();
      const remaining = num("min-attack") - (performance.now() - attackStart);
      if (remaining > 0) await sleep(remaining);
      await attack.stdin.close(); // the attackers stop
      const outcomes = JSON.parse(new TextDecoder().decode((await attack.output()).stdout));
      clearInterval(sampler);
      console.log(JSON.stringify({
        phase: "attacked",
        round,
        ...attacked,
        p99VsQuiet: Number((attacked.p99Ms / quiet.p99Ms).toFixed(2)),
        serverCores: attackedCores,
        peakRssMb: Math.round(peakRss),
        peakOverQuietMb: Math.round(peakRss - quietRss),
        attackSeconds: Number(((performance.now() - attackStart) / 1000).toFixed(1)),
        ...outcomes,
      }));
      await sleep(5000);
      const after = await normalRequests(url, 200, num("concurrency"));
      const afterRss = rssMb(child.pid);
      console.log(JSON.stringify({
        phase: "after",
        round,
        ...after,
        rssMb: Math.round(afterRss),
        overQuietMb: Math.round(afterRss - quietRss),
      }));
      goals.successRate &&= attacked.successRate >= 0.99;
      goals.p99 &&= attacked.p99Ms < 2 * quiet.p99Ms;
      goals.peakRss &&= peakRss < quietRss + 200;
    }
    console.log(JSON.stringify({ goals }));
  } finally {
    clearTimeout(killer);
    child.kill("SIGTERM");
    await child.status;
  }
}

if (values.server) await runServer();
else if (values.attack !== undefined) await runAttackers(Number(values.attack));
else await runBench();
