import assert from "node:assert/strict";
import { describeAdapter } from "../../backend/webgpu_adapter.ts";
import { runInChild } from "./backends.ts";

// Cases: the driver's flag (current and older field), software rasterizers the driver does not
// flag, a real GPU, and an adapter that only gives vendor/architecture.
const cases: Array<[string, Parameters<typeof describeAdapter>[0], boolean, string]> = [
  [
    "flagged by info",
    { info: { description: "some device", isFallbackAdapter: true } },
    true,
    "some device",
  ],
  [
    "flagged on adapter (older field)",
    { info: { description: "x" }, isFallbackAdapter: true },
    true,
    "x",
  ],
  [
    "llvmpipe unflagged",
    { info: { description: "llvmpipe (LLVM 15.0.6, 256 bits)" } },
    true,
    "llvmpipe (LLVM 15.0.6, 256 bits)",
  ],
  ["lavapipe unflagged", { info: { description: "Lavapipe" } }, true, "Lavapipe"],
  [
    "SwiftShader unflagged",
    { info: { description: "SwiftShader Device (Subzero)" } },
    true,
    "SwiftShader Device (Subzero)",
  ],
  [
    "real GPU",
    { info: { description: "NVIDIA H200", isFallbackAdapter: false } },
    false,
    "NVIDIA H200",
  ],
  [
    "vendor and architecture only",
    { info: { vendor: "nvidia", architecture: "hopper" } },
    false,
    "nvidia hopper",
  ],
  ["no info at all", {}, false, "unnamed adapter"],
];

for (const [name, adapter, fallback, description] of cases) {
  Deno.test(`describeAdapter: ${name}`, () => {
    assert.deepEqual(describeAdapter(adapter), { fallback, description });
  });
}

Deno.test("probeWebGpu agrees with navigator.gpu here (in a child process)", async () => {
  await runInChild(new URL("./webgpu_cases.ts", import.meta.url), "probeAgrees");
});

Deno.test({
  name: "importing mod.ts probes no WebGPU adapter (no GL/EGL library mapped; in a child process)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await runInChild(new URL("./webgpu_cases.ts", import.meta.url), "importLoadsNoGpu");
  },
});
