import { equal, ok } from "node:assert/strict";

Deno.test("importing tf.ts and making a tensor prints no tfjs-node banner", async () => {
  const tf = new URL("../../backend/tf.ts", import.meta.url).href;
  const script = `import { tf } from ${JSON.stringify(tf)}; tf.tensor([1, 2]).dataSync();`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  equal(out.code, 0, stderr);
  ok(!stderr.includes("running TensorFlow.js in Node.js"), stderr);
});
