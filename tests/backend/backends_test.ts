// The test helpers' backend expectations: DPR_EXPECT_BACKENDS turns a skip into a run (that fails
// on what is missing), and unknown names are refused.
import assert from "node:assert/strict";
import { expectedBackends, skipUnlessExpected, testBackends } from "./backends.ts";

async function withEnv(name: string, value: string | undefined, fn: () => void): Promise<void> {
  const saved = Deno.env.get(name);
  try {
    if (value === undefined) Deno.env.delete(name);
    else Deno.env.set(name, value);
    await fn();
  } finally {
    if (saved === undefined) Deno.env.delete(name);
    else Deno.env.set(name, saved);
  }
}

Deno.test("skipUnlessExpected: skips a missing backend unless DPR_EXPECT_BACKENDS names it", async () => {
  await withEnv("DPR_EXPECT_BACKENDS", undefined, () => {
    assert.deepEqual(expectedBackends(), []);
    assert.equal(skipUnlessExpected("blas", "no libopenblas"), true);
    assert.equal(skipUnlessExpected("blas", undefined), false);
  });
  await withEnv("DPR_EXPECT_BACKENDS", "cpu, blas,webgpu", () => {
    assert.deepEqual(expectedBackends(), ["cpu", "blas", "webgpu"]);
    assert.equal(skipUnlessExpected("blas", "no libopenblas"), false, "expected: run and fail");
    assert.equal(skipUnlessExpected("webgpu", "no adapter"), false);
  });
  await withEnv("DPR_EXPECT_BACKENDS", "cpu,tpu", () => {
    assert.throws(
      () => expectedBackends(),
      /DPR_EXPECT_BACKENDS must list backends from .*: received "tpu"/,
    );
  });
});

Deno.test("testBackends never lists webgpu: its tests run in child processes", async () => {
  await withEnv("DPR_TEST_BACKENDS", "cpu,webgpu,wasm", () => {
    assert.deepEqual(testBackends(), ["cpu", "wasm"]);
  });
  await withEnv("DPR_TEST_BACKENDS", undefined, () => {
    assert.deepEqual(testBackends(), ["cpu", "wasm"]);
  });
});
