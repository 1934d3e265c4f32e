// oneDNN's unit cases (onednn_cases.ts) run in a child `deno test`: this test process then never
// starts oneDNN's OpenMP threads, which raced with the process's exit (heap corruption reported
// at exit after every test had passed). Ignored, with a message saying what to install, without
// oneDNN 2.
import assert from "node:assert/strict";
import { missingOneDnn } from "./libraries.ts";

// Probed here too, so that without oneDNN this test is ignored rather than passed.
const missing = missingOneDnn("oneDNN unit");

Deno.test("oneDNN unit cases pass in a child test process", {
  ignore: missing !== undefined,
}, async () => {
  const cases = new URL("./onednn_cases.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", cases],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text);
  const summary = /ok \| (\d+) passed \| 0 failed(?: \| (\d+) ignored)?/.exec(text);
  assert.ok(summary !== null, text);
  assert.ok(Number(summary[1]) >= 9, `only ${summary[1]} oneDNN cases ran`);
});
