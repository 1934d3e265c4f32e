/**
 * `fromPretrained({ dtype })` on webgpu, in child processes (WebGPU never runs in the test
 * runner's process: see tests/backend/backends.ts): the fixture models' int8 / float16 outputs
 * against float32 through the WGSL shader, and the weights' GPU copies freed with the model.
 * Skipped (not failed) where no adapter is available, unless DPR_EXPECT_BACKENDS names webgpu.
 */
import { runInChild, skipWebGpu } from "../backend/backends.ts";

const ignore = await skipWebGpu();
const CASES = new URL("./dtype_cases.ts", import.meta.url);

Deno.test({
  name: "dtype int8 / float16 on webgpu: outputs match float32 (cosine)",
  ignore,
  fn: async () => {
    await runInChild(CASES, "checkDtypesMatchFloat32", ["webgpu"]);
  },
});

Deno.test({
  name: "dtype int8 on webgpu: weights uploaded once, freed by dispose()",
  ignore,
  fn: async () => {
    await runInChild(CASES, "checkDeviceCopiesFreed", ["webgpu"]);
  },
});
