import assert from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import {
  BackendUnavailableError,
  type ConcreteBackendName,
  setBackend,
} from "../../backend/set_backend.ts";
import { getBackendInfo } from "../../backend/backend_info.ts";
import { defaultWasmThreads, wasmThreadsFromEnv } from "../../backend/wasm_backend.ts";
import { expectedBackends, runInChild, skipWebGpu, testBackends } from "./backends.ts";
import { checkMatMul } from "./matmul_check.ts";

const WEBGPU_CASES = new URL("./webgpu_cases.ts", import.meta.url);

const assertEquals = (actual: unknown, expected: unknown, message?: string): void =>
  message === undefined
    ? assert.deepEqual(actual, expected)
    : assert.deepEqual(actual, expected, message);
const assertMatch = (text: string, pattern: RegExp): void => assert.match(text, pattern);

/** Awaits `fn`, asserts it rejects with an instance of `type`, and returns the error. */
async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: new (...args: never[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    return error;
  }
  throw new assert.AssertionError({ message: `expected a ${type.name} rejection` });
}

for (const backend of testBackends()) {
  Deno.test({
    name: `setBackend("${backend}") runs a matmul with the right numbers`,
    fn: async () => {
      const chosen = await setBackend(backend);
      assertEquals(chosen.backend, backend);
      assertEquals(chosen.source, "argument");
      assertEquals(chosen.attempts.length, 1);
      assertEquals(getBackendInfo().backend, backend);
      tf.engine().startScope();
      try {
        await checkMatMul(backend);
      } finally {
        tf.engine().endScope();
      }
      if (backend === "wasm") {
        assertEquals(chosen.info.simd, true);
        assertEquals(chosen.info.threads, defaultWasmThreads(), "wasm runs on every core");
      }
      await setBackend("cpu");
    },
  });
}

Deno.test("setBackend refuses a blasPrepack that is not a boolean, naming it", async () => {
  const error = await assertRejects(
    () => setBackend("blas", { blasPrepack: "yes" as unknown as boolean }),
    RangeError,
  );
  assertMatch(error.message, /blasPrepack must be true or false: received "yes"/);
});

Deno.test("setBackend rejects an unknown name with a RangeError naming the value", async () => {
  const error = await assertRejects(
    () => setBackend("gpu" as "cpu"),
    RangeError,
  );
  assertMatch(
    error.message,
    /must be one of auto, webgpu, node-gpu, wasm, cpu, blas: received "gpu"/,
  );
});

Deno.test({
  name: "wasm threads: bad counts are a RangeError; a new count after start needs a new process",
  fn: async () => {
    const error = await assertRejects(() => setBackend("wasm", { wasmThreads: 0 }), RangeError);
    assertMatch(error.message, /threads must be a positive integer or "auto": received 0/);
    const first = await setBackend("wasm");
    const other = first.info.threads === 1 ? 2 : 1;
    const again = await setBackend("wasm", { wasmThreads: other });
    assertEquals(again.info.threads, first.info.threads, "the running pool is kept");
    assertMatch(again.reason, new RegExp(`${other} threads need a new process`));
    await setBackend("cpu");
  },
});

Deno.test("wasm threads: `threads`, else DPR_WASM_THREADS (a count or auto); a bad value is named", async () => {
  const error = await assertRejects(() => setBackend("wasm", { threads: 0 }), RangeError);
  assertMatch(error.message, /threads must be a positive integer or "auto": received 0/);
  const saved = Deno.env.get("DPR_WASM_THREADS");
  try {
    for (const [value, expected] of [["3", 3], [" 2 ", 2], ["auto", "auto"], ["AUTO", "auto"]]) {
      Deno.env.set("DPR_WASM_THREADS", value as string);
      assertEquals(wasmThreadsFromEnv(), expected);
    }
    for (const value of ["0", "two", "1.5", "-1"]) {
      Deno.env.set("DPR_WASM_THREADS", value);
      const bad = await assertRejects(() => setBackend("wasm"), RangeError);
      assertEquals(
        bad.message,
        `DPR_WASM_THREADS must be a positive integer or "auto": received ${JSON.stringify(value)}`,
      );
    }
    Deno.env.delete("DPR_WASM_THREADS");
    assertEquals(wasmThreadsFromEnv(), undefined);
  } finally {
    if (saved === undefined) Deno.env.delete("DPR_WASM_THREADS");
    else Deno.env.set("DPR_WASM_THREADS", saved);
  }
});

Deno.test("setBackend() reads DPR_BACKEND, and names it in errors", async () => {
  const saved = Deno.env.get("DPR_BACKEND");
  try {
    Deno.env.set("DPR_BACKEND", "cpu");
    const chosen = await setBackend();
    assertEquals(chosen.backend, "cpu");
    assertEquals(chosen.source, "DPR_BACKEND");
    Deno.env.set("DPR_BACKEND", "tpu");
    const error = await assertRejects(() => setBackend(), RangeError);
    assertMatch(error.message, /received "tpu" \(from DPR_BACKEND\)/);
    // An explicit argument wins over the variable.
    assertEquals((await setBackend("cpu")).source, "argument");
  } finally {
    if (saved === undefined) Deno.env.delete("DPR_BACKEND");
    else Deno.env.set("DPR_BACKEND", saved);
  }
});

Deno.test("node-gpu, absent or without its native addon, fails with what to install", async () => {
  let chosen: ConcreteBackendName | undefined;
  try {
    chosen = (await setBackend("node-gpu")).backend;
  } catch (error) {
    assert.ok(error instanceof BackendUnavailableError, `got ${error}`);
    assertEquals(error.backend, "node-gpu");
    assertMatch(error.message, /^Cannot start backend "node-gpu": /);
    // Not in this package's import map (a lean install): "not installed"; added by a user
    // without its addon built: the addon is named.
    assertMatch(
      error.message,
      /@tensorflow\/tfjs-node-gpu is not installed|native addon \(tfjs_binding\.node/,
    );
    assertMatch(error.message, /@tensorflow\/tfjs-node-gpu/);
    assertMatch(error.message, /libtensorflow/);
    assertMatch(error.message, /CUDA/);
    assertMatch(error.message, /--allow-ffi/);
    assertEquals(getBackendInfo().tfBackend, "cpu", "the failed start left cpu running");
  }
  // On a machine where tfjs-node-gpu really works, it must then be the backend.
  if (chosen !== undefined) assertEquals(chosen, "node-gpu");
  await setBackend("cpu");
});

Deno.test({
  name:
    "auto never tries node-gpu, nor a software WebGPU adapter, says why, then picks blas or wasm",
  fn: async () => {
    // In a child: where a GPU device exists, auto asks for a WebGPU adapter, which loads libEGL
    // (see backends.ts).
    await runInChild(WEBGPU_CASES, "auto");
  },
  // OpenBLAS stays loaded for the process on purpose (pin_library.ts): Deno 2.5's resource
  // sanitizer counts that as a leak.
  sanitizeResources: false,
});

Deno.test({
  name: "switching with live tensors: move keeps them valid, refuse throws and keeps the backend",
  fn: async () => {
    await setBackend("wasm");
    const weights = tf.tensor2d([[1, 2], [3, 4]]);
    const before = tf.memory().numTensors;
    const error = await assertRejects(
      () => setBackend("cpu", { liveTensors: "refuse" }),
      Error,
    );
    assertMatch(error.message, /Cannot switch backend from "wasm" to "cpu": \d+ tensors live/);
    assertEquals(tf.getBackend(), "wasm", "refused switch keeps the backend");
    const lines: string[] = [];
    await setBackend("cpu", { log: (line) => lines.push(line) });
    assert.ok(lines.some((line) => /move to "cpu" on first use/.test(line)), lines.join("\n"));
    assertEquals(tf.getBackend(), "cpu");
    const product = tf.matMul(weights, weights);
    assertEquals(Array.from(await product.data()), [7, 10, 15, 22]);
    assertEquals(Array.from(await weights.data()), [1, 2, 3, 4], "weights survived the switch");
    // Back to wasm: the wasm backend was never disposed, so it still works too.
    await setBackend("wasm");
    const one = tf.scalar(1);
    const plusOne = tf.add(weights, one);
    assertEquals(Array.from(await plusOne.data()), [2, 3, 4, 5]);
    tf.dispose([product, weights, one, plusOne]);
    assertEquals(tf.memory().numTensors, before - 1, "nothing leaked or lost");
    await setBackend("cpu");
  },
});

const skipWebGpuTests = await skipWebGpu();

Deno.test({
  name: 'setBackend("webgpu") runs a matmul with the right numbers (in a child process)',
  ignore: skipWebGpuTests,
  fn: async () => {
    await runInChild(WEBGPU_CASES, "matmul");
  },
});

Deno.test({
  name: "leaving webgpu while tensors live there is refused (no sync GPU read in Deno)",
  ignore: skipWebGpuTests,
  fn: async () => {
    await runInChild(WEBGPU_CASES, "leaveWithLiveTensors");
  },
});

Deno.test({
  name: "wasm under `deno run --allow-read` only: matmul right, no banner, DPR_BACKEND unread",
  fn: async () => {
    const script = new URL("./select_and_matmul.ts", import.meta.url);
    const run = async (args: string[]) => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--no-prompt", script.pathname, ...args],
        env: { DPR_BACKEND: "not-a-backend" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assert.ok(output.success, `subprocess failed:\n${stderr}`);
      assert.ok(
        !/looks like you are running TensorFlow\.js/.test(stderr),
        `banner printed:\n${stderr}`,
      );
      return JSON.parse(new TextDecoder().decode(output.stdout).trim().split("\n").at(-1)!);
    };
    const wasm = await run(["wasm"]);
    assertEquals(wasm.backend, "wasm");
    assertEquals(wasm.product, [58, 64, 139, 154]);
    assertEquals(wasm.onCpu, [58, 64, 139, 154]);
    assertEquals(wasm.simd, true);
    assertEquals(wasm.threads, defaultWasmThreads());
    // One thread takes tfjs-backend-wasm's own start-up, with the paths setBackend resolved.
    const single = await run(["wasm", "1"]);
    assertEquals(single.threads, 1);
    assertEquals(single.simd, true);
    assertEquals(single.product, [58, 64, 139, 154]);
    // No name and no env permission: DPR_BACKEND ("not-a-backend") is not read; auto runs,
    // and without --allow-ffi blas is skipped, so wasm wins.
    const auto = await run([]);
    assertEquals(auto.source, "default");
    assertEquals(auto.backend, "wasm");
    assertEquals(auto.product, [58, 64, 139, 154]);
  },
});

const expected = expectedBackends();

Deno.test({
  name: `every backend DPR_EXPECT_BACKENDS names starts here (${expected.join(", ") || "unset"})`,
  ignore: expected.length === 0,
  // Starting blas loads OpenBLAS, which stays loaded for the process on purpose (pin_library.ts):
  // Deno 2.5's resource sanitizer counts that as a leak (2.9's does not look at libraries).
  sanitizeResources: false,
  fn: async () => {
    for (const backend of expected) {
      if (backend === "webgpu") {
        // In a child: an adapter request loads libEGL (see backends.ts).
        const probe = await runInChild(WEBGPU_CASES, "probe") as { available: boolean };
        assert.ok(probe.available, `webgpu is expected but no adapter: ${JSON.stringify(probe)}`);
        continue;
      }
      assertEquals((await setBackend(backend)).backend, backend);
    }
    await setBackend("cpu");
  },
});
