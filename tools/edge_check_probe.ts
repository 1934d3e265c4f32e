/**
 * Child of `edge_check.ts`: starts a timer-lag probe, then runs `examples/deploy/main.ts` (or,
 * with `EDGE_CHECK_BASELINE=1`, only the runtime: the module imported and wasm started on one
 * thread, no model), under exactly the example's permissions.
 *
 * The probe is a 10 ms interval timer: how late it fires is how long the event loop was held by
 * one task. It prints a JSON line `{"probe":"block","ms":...}` for each block over 50 ms (and each
 * time the longest block grows), and `{"probe":"ready"}` once the example's module has run.
 * @module
 */

const INTERVAL_MS = 10;
/** Blocks longer than this are all reported (shorter ones only when they are the longest yet). */
const REPORT_MS = 50;
let longest = 0;
let expected = performance.now() + INTERVAL_MS;
setInterval(() => {
  const now = performance.now();
  const late = now - expected;
  expected = now + INTERVAL_MS;
  if (late > longest || late > REPORT_MS) {
    longest = Math.max(longest, late);
    console.log(JSON.stringify({ probe: "block", ms: Math.round(late) }));
  }
}, INTERVAL_MS);

if (Deno.env.get("EDGE_CHECK_BASELINE") === "1") {
  const { setBackend, tf } = await import("../mod.ts");
  await setBackend("wasm", { threads: 1 });
  tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync());
  console.log(JSON.stringify({ probe: "ready" }));
} else {
  await import("../examples/deploy/main.ts");
  console.log(JSON.stringify({ probe: "ready" }));
}
