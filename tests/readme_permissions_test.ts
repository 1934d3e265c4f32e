// The README's permission table, row by row: each row's feature runs in a child process with
// exactly that row's flags (and `--allow-read` where the row builds on reading model files), and
// never asks for a permission.
//
// How a prompt is seen: the child runs on a pseudo-terminal (util-linux `script`), where Deno
// prompts instead of failing, and a prompt's text in its output fails the test (the child is
// killed at once). `--no-prompt` alone would turn a prompt into an error that code may catch
// (as an env copy in the wasm helper threads once was, silently): only a terminal shows it.
// Where `script` is missing the child runs with `--no-prompt` instead (a failure still shows).
import assert from "node:assert/strict";
import { stripVTControlCharacters } from "node:util";
import { hubFileHeaders, TEST_COMMIT } from "./io/hub_emulation.ts";
import { missingOpenBlas } from "./backend/blas/libraries.ts";
import { defaultWasmThreads } from "../backend/wasm_backend.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const CASES = new URL("./readme_permission_cases.ts", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/models/", import.meta.url).pathname;
const PROMPT = /Deno requests|Allow\? \[y\/n/;

/** Whether util-linux `script` (a pseudo-terminal for a command) is here. */
function hasScript(): boolean {
  try {
    return new Deno.Command("script", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}
const TERMINAL = hasScript();

/** Single-quotes `word` for `sh -c`. */
function quote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

interface CaseRun {
  value: Record<string, unknown>;
  output: string;
}

/**
 * Runs `deno run <flags> readme_permission_cases.ts <name> <args>` and returns its report; fails on
 * a permission prompt, an error or a missing report.
 */
async function runCase(
  flags: string[],
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<CaseRun> {
  const deno = [Deno.execPath(), "run", ...flags, CASES, name, ...args];
  const command = TERMINAL
    ? new Deno.Command("script", {
      args: ["-qec", deno.map(quote).join(" "), "/dev/null"],
      cwd: ROOT,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    })
    : new Deno.Command(deno[0]!, {
      args: [...deno.slice(1, 2), "--no-prompt", ...deno.slice(2)],
      cwd: ROOT,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    });
  const child = command.spawn();
  if (TERMINAL) await child.stdin.close();
  let output = "";
  let prompted = false;
  const decoder = new TextDecoder();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      output += decoder.decode(chunk, { stream: true });
      if (!prompted && PROMPT.test(output)) {
        prompted = true;
        child.kill("SIGKILL");
      }
    }
  };
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    await Promise.all([read(child.stdout), read(child.stderr)]);
    await child.status;
  } finally {
    clearTimeout(timer);
  }
  const clean = stripVTControlCharacters(output).replaceAll("\r", "");
  assert.ok(!prompted, `${name} under ${flags.join(" ")} asked for a permission:\n${clean}`);
  const line = clean.trim().split("\n").reverse().find((l) => l.startsWith('{"ok":'));
  assert.ok(line !== undefined, `${name} under ${flags.join(" ")} gave no report:\n${clean}`);
  const report = JSON.parse(line) as {
    ok: boolean;
    value?: Record<string, unknown>;
    error?: string;
  };
  assert.ok(report.ok, `${name} under ${flags.join(" ")} failed: ${report.error}\n${clean}`);
  return { value: report.value!, output: clean };
}

/** Asserts two vectors agree to `tolerance`. */
function assertClose(actual: unknown, expected: unknown, tolerance = 1e-4): void {
  const a = actual as number[], e = expected as number[];
  assert.equal(a.length, e.length);
  for (let i = 0; i < e.length; i++) {
    assert.ok(Math.abs(a[i]! - e[i]!) <= tolerance, `element ${i}: ${a[i]} vs ${e[i]}`);
  }
}

/** A local server: `/models/<name>/<file>` (URLs) and `/org/<name>/resolve/<rev>/<file>` (hub). */
function serveFixtures(): { base: string; close: () => Promise<void> } {
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (request) => {
      const path = new URL(request.url).pathname;
      const match = /^\/(?:models|org)\/([\w.-]+)\/(?:resolve\/[\w.-]+\/)?([\w.-]+)$/.exec(path);
      if (match === null) return new Response("not found", { status: 404 });
      let bytes: Uint8Array;
      try {
        bytes = await Deno.readFile(`${FIXTURES}${match[1]}/${match[2]}`);
      } catch {
        return new Response("not found", {
          status: 404,
          headers: { "x-repo-commit": TEST_COMMIT },
        });
      }
      const headers = hubFileHeaders(bytes);
      headers.set("content-length", String(bytes.length));
      return new Response(request.method === "HEAD" ? null : bytes.slice(), { headers });
    },
  );
  const { port } = server.addr as Deno.NetAddr;
  return {
    base: `http://127.0.0.1:${port}`,
    close: async () => {
      controller.abort();
      await server.finished;
    },
  };
}

Deno.test("permissions: models and tokenizers from a folder (--allow-read); the first load picks wasm, says so once", async () => {
  const { value, output } = await runCase(["--allow-read"], "folder");
  // No --allow-ffi, no GPU device: wasm, on every core, with no node-gpu import (auto never
  // imports it) and no adapter request.
  assert.equal(value.backend, "wasm");
  assert.equal(value.threads, defaultWasmThreads());
  assert.deepEqual(value.auto, ["webgpu", "blas", "wasm"]);
  const said = output.match(/the first model load picked backend wasm/g) ?? [];
  assert.equal(said.length, 1, `said ${said.length} times:\n${output}`);
  assertClose(value.vector, value.onCpu);
});

Deno.test("permissions: DPR_BACKEND, DPR_WASM_THREADS, HF_*, DPR_CACHE (--allow-env) are read, never prompted for", async () => {
  const { value, output } = await runCase(["--allow-read", "--allow-env"], "env", [], {
    DPR_BACKEND: "cpu",
    DPR_WASM_THREADS: "1",
    DPR_CACHE: "/nonexistent/dpr-cache",
    HF_ENDPOINT: "http://127.0.0.1:9",
    HF_TOKEN: "not-a-token",
    HF_HUB_OFFLINE: "1",
  });
  assert.equal(value.backend, "cpu");
  assert.equal(value.wasmThreads, 1);
  assert.match(output, /the first model load started backend cpu .*\(DPR_BACKEND\)/);
});

Deno.test("permissions: URL sources (--allow-net alone) load and run, on cpu when wasm's files are unreadable", async () => {
  const server = serveFixtures();
  try {
    const folder = await runCase(["--allow-read"], "folder");
    const { value } = await runCase(["--allow-net"], "url", [`${server.base}/models`]);
    assert.equal(value.backend, "cpu");
    assertClose(value.vector, folder.value.onCpu);
  } finally {
    await server.close();
  }
});

Deno.test("permissions: hub ids (--allow-net, --allow-write for the cache)", async () => {
  const server = serveFixtures();
  const cache = await Deno.makeTempDir();
  try {
    const flags = ["--allow-read", "--allow-net", "--allow-write"];
    const { value } = await runCase(flags, "hub", [server.base, cache]);
    assert.equal(value.backend, "wasm");
    assert.ok([...Deno.readDirSync(cache)].length > 0, "the hub cache was written");
  } finally {
    await server.close();
    await Deno.remove(cache, { recursive: true });
  }
});

Deno.test(
  "permissions: the blas backend (--allow-ffi)",
  { ignore: missingOpenBlas("the blas permission case") !== undefined },
  async () => {
    const { value } = await runCase(["--allow-read", "--allow-ffi"], "blas");
    assert.equal(value.backend, "blas");
  },
);

Deno.test("permissions: savePretrained, saveSafetensors and a saved index (--allow-write)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { value } = await runCase(["--allow-read", "--allow-write"], "write", [dir]);
    assert.deepEqual(value.files, ["index", "model", "pretrained"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("permissions: wasm on several threads (--allow-read)", async () => {
  const { value } = await runCase(["--allow-read"], "threads", ["2"]);
  assert.equal(value.backend, "wasm");
  assert.equal(value.threads, 2);
});
