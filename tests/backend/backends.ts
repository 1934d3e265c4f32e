/**
 * Shared helpers so every numeric suite loops over the same backends:
 *
 * ```ts
 * import { testBackends, useBackend } from "../backend/backends.ts";
 * for (const backend of testBackends()) {
 *   Deno.test(`my op on ${backend}`, async () => {
 *     await useBackend(backend);
 *     // ... compute and assert
 *   });
 * }
 * ```
 *
 * WebGPU never runs in the test runner's process: Mesa's libEGL, loaded by the first
 * `navigator.gpu.requestAdapter()`, can free its thread state twice when the process exits, which
 * aborts a run whose tests all passed. WebGPU tests and probes run in child processes
 * ({@linkcode runInChild}, {@linkcode webGpuInChild}), and nothing here probes at import time.
 *
 * `DPR_TEST_BACKENDS` (comma-separated, e.g. `cpu,wasm`) overrides the list. `DPR_EXPECT_BACKENDS`
 * (CI sets it) names backends that must be present: a test of such a backend fails where it would
 * otherwise be skipped for want of its library or adapter.
 * @module
 */
import { type ConcreteBackendName, setBackend } from "../../backend/set_backend.ts";
import { BACKEND_NAMES } from "../../backend/backend_name.ts";
import type { WebGpuProbe } from "../../backend/webgpu_adapter.ts";

function envValue(name: string): string | undefined {
  try {
    const status = Deno.permissions.querySync({ name: "env", variable: name });
    if (status.state !== "granted") return undefined;
    const value = Deno.env.get(name)?.trim();
    return value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}

/** The backends a variable lists, checked against the known names. */
function envBackends(name: string): ConcreteBackendName[] | undefined {
  const value = envValue(name);
  if (value === undefined) return undefined;
  return value.split(",").map((part) => part.trim()).filter((part) => part !== "").map((part) => {
    if (part === "auto" || !(BACKEND_NAMES as readonly string[]).includes(part)) {
      throw new RangeError(
        `${name} must list backends from ${
          BACKEND_NAMES.filter((n) => n !== "auto").join(", ")
        }: received "${part}"`,
      );
    }
    return part as ConcreteBackendName;
  });
}

/**
 * The backends numeric tests run on in this process: cpu and wasm (`DPR_TEST_BACKENDS` overrides;
 * webgpu is left out, since its tests run in child processes).
 *
 * @returns backend names in test order
 * @throws {RangeError} when `DPR_TEST_BACKENDS` names an unknown backend or "auto"
 */
export function testBackends(): ConcreteBackendName[] {
  const list = envBackends("DPR_TEST_BACKENDS") ?? ["cpu", "wasm"];
  return list.filter((backend) => backend !== "webgpu");
}

/**
 * The backends `DPR_EXPECT_BACKENDS` says must be present (CI: all four).
 *
 * @returns the expected backend names (empty when the variable is unset)
 * @throws {RangeError} when the variable names an unknown backend or "auto"
 */
export function expectedBackends(): ConcreteBackendName[] {
  return envBackends("DPR_EXPECT_BACKENDS") ?? [];
}

/**
 * Whether the tests of `backend` are skipped: when `missing` says why it cannot run here and
 * `DPR_EXPECT_BACKENDS` does not name it (then it says so on the console). When the backend is
 * expected, the tests run anyway, and fail on what is missing.
 *
 * @param backend the backend the tests need
 * @param missing why it cannot run here, or undefined when it can
 * @returns the value for `Deno.test`'s `ignore`
 */
export function skipUnlessExpected(backend: string, missing: string | undefined): boolean {
  if (missing === undefined) return false;
  if ((expectedBackends() as string[]).includes(backend)) {
    console.log(`${backend} is expected (DPR_EXPECT_BACKENDS) but missing: ${missing}`);
    return false;
  }
  console.log(`${backend} tests skipped: ${missing}`);
  return true;
}

const CHILD_MAIN = new URL("./child_main.ts", import.meta.url).pathname;

/** What a child started by {@linkcode runInChild} printed. */
interface ChildReport {
  ok: boolean;
  value?: unknown;
  error?: string;
}

/**
 * Runs the exported function `name` of the module `cases` (awaited) in a new Deno process (all
 * permissions), so that what it loads (WebGPU's libEGL) never enters the test runner's process.
 * The function's assertions fail the calling test, with the child's stack.
 *
 * @param cases the module that exports the function
 * @param name the function's name
 * @param args string arguments passed to the function
 * @param env extra environment variables for the child
 * @returns what the function returned (JSON round trip)
 */
export async function runInChild(
  cases: URL,
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<unknown> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD_MAIN, cases.href, name, ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  const last = stdout.trim().split("\n").at(-1) ?? "";
  let report: ChildReport;
  try {
    report = JSON.parse(last) as ChildReport;
  } catch {
    throw new Error(
      `child ${name} (${cases.pathname}) gave no report (exit ${output.code}, ` +
        `signal ${output.signal}):\n${stdout}\n${stderr}`,
    );
  }
  if (!report.ok) throw new Error(`in child ${name}: ${report.error}\n${stderr}`);
  return report.value;
}

let probed: Promise<WebGpuProbe> | undefined;

/**
 * Asks for a WebGPU adapter in a child process (once per test module), as `probeWebGpu` does.
 *
 * @returns what the child's `probeWebGpu()` found
 */
export function webGpuInChild(): Promise<WebGpuProbe> {
  probed ??= runInChild(new URL("./webgpu_cases.ts", import.meta.url), "probe") as Promise<
    WebGpuProbe
  >;
  return probed;
}

/**
 * Whether the WebGPU tests are skipped: when `DPR_TEST_BACKENDS` leaves webgpu out, or when the
 * child's probe finds no adapter and `DPR_EXPECT_BACKENDS` does not name webgpu.
 *
 * @returns the value for `Deno.test`'s `ignore`
 */
export async function skipWebGpu(): Promise<boolean> {
  const listed = envBackends("DPR_TEST_BACKENDS");
  if (listed !== undefined && !listed.includes("webgpu")) return true;
  const probe = await webGpuInChild();
  return skipUnlessExpected("webgpu", probe.available ? undefined : probe.description);
}

/**
 * Switches tfjs to `backend` for a test (explicit choice, so a software WebGPU adapter is used).
 *
 * @param backend the backend to run on
 */
export async function useBackend(backend: ConcreteBackendName): Promise<void> {
  await setBackend(backend);
}
