// importStaged: the package's own module, reached a piece at a time with turns of the event loop
// between the pieces.
import assert from "node:assert/strict";
import * as dpr from "../mod.ts";
import { importStaged } from "../staged.ts";

Deno.test("importStaged gives mod.ts itself, after turns of the event loop", async () => {
  let turns = 0;
  const counter = setInterval(() => turns++, 0);
  try {
    const staged = await importStaged();
    assert.equal(staged, dpr, "the same module namespace as a static import");
    assert.equal(staged.createHandler, dpr.createHandler);
  } finally {
    clearInterval(counter);
  }
  assert.ok(turns > 0, "timers ran while it imported");
});

Deno.test("a fresh process that imports the package only through importStaged can use it", async () => {
  const script = `
    const { importStaged } = await import(${
    JSON.stringify(new URL("../staged.ts", import.meta.url).href)
  });
    const { DenseIndex, setBackend, tf } = await importStaged();
    await setBackend("cpu");
    const index = new DenseIndex(2);
    index.add(["a"], [new Float32Array([1, 0])]);
    console.log(JSON.stringify({ size: index.size, backend: tf.getBackend() }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    cwd: new URL("../", import.meta.url),
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  assert.deepEqual(JSON.parse(text.trim().split("\n").at(-1)!), { size: 1, backend: "cpu" });
});
