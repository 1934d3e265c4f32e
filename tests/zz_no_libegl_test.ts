// The test runner's process must never load WebGPU's libEGL: Mesa's libglvnd can free its thread
// state twice when the process exits, aborting a run whose tests all passed (exit 134 or 139).
// WebGPU tests and probes run in child processes instead (tests/backend/backends.ts). This file
// runs last (`deno test` runs files in path order; "zz" sorts after every folder), so it sees
// whatever every earlier test file loaded into this process.
import assert from "node:assert/strict";
import { gpuLibrariesMapped } from "./backend/webgpu_cases.ts";

Deno.test({
  name: "the test runner's process has no libEGL (nor any GL/Vulkan driver) mapped",
  ignore: Deno.build.os !== "linux",
  fn: () => {
    const loaded = gpuLibrariesMapped();
    assert.deepEqual(loaded, [], `loaded in the test runner's process: ${loaded}`);
  },
});
