/**
 * WebGPU test cases, run in child processes through `runInChild` (see backends.ts for why): each
 * export asserts what its test checks and returns what the parent needs.
 * @module
 */
import assert from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { AUTO_ORDER, setBackend } from "../../backend/set_backend.ts";
import { getBackendInfo } from "../../backend/backend_info.ts";
import { describeAdapter, probeWebGpu, type WebGpuProbe } from "../../backend/webgpu_adapter.ts";
import { webGpuSkipReason } from "../../backend/auto_policy.ts";
import { checkMatMul } from "./matmul_check.ts";

/** `probeWebGpu()` in this process. */
export function probe(): Promise<WebGpuProbe> {
  return probeWebGpu();
}

/** `probeWebGpu` agrees with a direct `navigator.gpu.requestAdapter()`. */
export async function probeAgrees(): Promise<void> {
  const found = await probeWebGpu();
  const adapter = await navigator.gpu?.requestAdapter({ powerPreference: "high-performance" });
  assert.equal(found.available, adapter !== null && adapter !== undefined);
  if (adapter) {
    assert.equal(found.description, describeAdapter(adapter).description);
    assert.equal(found.fallback, describeAdapter(adapter).fallback);
  } else {
    assert.match(found.description, /navigator\.gpu|requestAdapter/);
  }
}

/** `setBackend("webgpu")` runs a matmul with the right numbers and names the adapter. */
export async function matmul(): Promise<void> {
  const found = await probeWebGpu();
  const chosen = await setBackend("webgpu");
  assert.equal(chosen.backend, "webgpu");
  assert.equal(chosen.source, "argument");
  assert.equal(chosen.attempts.length, 1);
  assert.equal(getBackendInfo().backend, "webgpu");
  tf.engine().startScope();
  try {
    await checkMatMul("webgpu");
  } finally {
    tf.engine().endScope();
  }
  assert.equal(chosen.info.adapter, found.description);
  assert.equal(chosen.info.fallbackAdapter, found.fallback);
  await setBackend("cpu");
}

/** Leaving webgpu while tensors live there is refused; with nothing left it goes through. */
export async function leaveWithLiveTensors(): Promise<void> {
  await setBackend("webgpu");
  const input = tf.tensor1d([1, 2, 3]);
  const onGpu = tf.add(input, 1);
  assert.deepEqual(Array.from(await onGpu.data()), [2, 3, 4]);
  await assert.rejects(
    () => setBackend("cpu"),
    /Cannot switch backend from "webgpu" to "cpu": .*synchronous GPU read/,
  );
  assert.equal(tf.getBackend(), "webgpu");
  input.dispose();
  onGpu.dispose();
  assert.equal((await setBackend("cpu")).backend, "cpu");
}

/**
 * "auto" never imports node-gpu, skips webgpu without asking for an adapter where no GPU device
 * exists (and a software adapter where one does), says why, then takes blas or wasm.
 */
export async function auto(): Promise<void> {
  const lines: string[] = [];
  const chosen = await setBackend("auto", { log: (line) => lines.push(line) });
  assert.equal(chosen.requested, "auto");
  const tried = chosen.attempts.map((a) => a.backend);
  assert.deepEqual(tried, AUTO_ORDER.slice(0, tried.length), "tried in auto order");
  assert.ok(!tried.includes("node-gpu"), "auto never tries node-gpu");
  assert.equal(lines.length, tried.length, "one log line per backend tried");
  const webgpu = chosen.attempts[0]!;
  assert.equal(webgpu.backend, "webgpu");
  const skipped = webGpuSkipReason();
  if (skipped !== undefined) {
    // Not probed: no GPU device (or no WebGPU at all), so an adapter could only be software.
    assert.equal(webgpu.reason, skipped);
  } else {
    const found = await probeWebGpu();
    if (!found.available || found.fallback) {
      assert.ok(!webgpu.ok, "auto must not choose a software adapter");
      assert.match(webgpu.reason, found.available ? /software adapter/ : /no WebGPU adapter/);
    }
  }
  const blas = chosen.attempts[1];
  assert.ok(blas !== undefined);
  // blas wins when its native library loads; otherwise wasm.
  assert.equal(chosen.backend, blas.ok ? "blas" : "wasm");
  assert.match(chosen.reason, /^auto: /);
  assert.equal(getBackendInfo().backend, chosen.backend);
  await setBackend("cpu");
}

/** GL, EGL and Vulkan libraries mapped into this process. */
export function gpuLibrariesMapped(): string[] {
  const maps = Deno.readTextFileSync("/proc/self/maps");
  const paths = maps.split("\n").map((line) => line.split(/\s+/)[5] ?? "");
  return [
    ...new Set(paths.filter((path) => /lib(EGL|GLX|GL|vulkan)[^/]*\.so|swrast|lvp_icd/.test(path))),
  ];
}

/** Importing the whole module asks for no WebGPU adapter: no GPU library gets mapped. */
export async function importLoadsNoGpu(): Promise<void> {
  await import("../../mod.ts");
  assert.deepEqual(gpuLibrariesMapped(), [], "mapped after importing mod.ts");
  // The check can see them: asking for an adapter maps them where one exists.
  if ((await probeWebGpu()).available) assert.notDeepEqual(gpuLibrariesMapped(), []);
}
