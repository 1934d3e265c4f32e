// A lean install: the root lockfile (what a clone's `deno task demo` installs into node_modules)
// holds only the packages of the runtime import map. Benchmark peers live in bench/deno.lock,
// test-only packages in tests/deno.lock.
import assert from "node:assert/strict";

const root = new URL("../", import.meta.url);
/** The lockfile entry Deno adds on its own for type checking: `npm:@types/node@*`. */
const IMPLICIT_TYPES = /^npm:@types\/node@[^/]*$/;
const readJson = async (path: string): Promise<Record<string, unknown>> =>
  JSON.parse(await Deno.readTextFile(new URL(path, root)));

Deno.test("the root lockfile pins only what deno.json's import map names", async () => {
  const config = await readJson("deno.json");
  const lock = await readJson("deno.lock");
  const mapped = new Set(Object.values(config.imports as Record<string, string>));
  const locked = Object.keys(lock.specifiers as Record<string, string>);
  assert.ok(locked.length > 0, "deno.lock has specifiers");
  for (const specifier of locked) {
    // Deno 2.5 (what Deno Deploy runs) records the Node types it type-checks `node:` imports
    // with; they are types only, never loaded by a run.
    if (IMPLICIT_TYPES.test(specifier)) continue;
    assert.ok(
      mapped.has(specifier),
      `deno.lock pins ${specifier}, which the runtime import map does not name: a bench or ` +
        "test dependency leaked into the install (run those with --lock=bench/deno.lock or " +
        "--lock=tests/deno.lock)",
    );
  }
});

Deno.test("benchmark peers and unused tfjs packages are not in the runtime import map", async () => {
  const imports = (await readJson("deno.json")).imports as Record<string, string>;
  for (const name of ["@tensorflow/tfjs", "@tensorflow/tfjs-node-gpu", "onnxruntime-node"]) {
    assert.equal(imports[name], undefined, `deno.json imports ${name}`);
  }
});
