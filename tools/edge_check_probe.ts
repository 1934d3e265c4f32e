/**
 * Child of `edge_check.ts`: starts a timer-lag probe, then runs `examples/deploy/main.ts` (or,
 * with `EDGE_CHECK_BASELINE=1`, only the runtime: the module imported and wasm started on one
 * thread, no model), under exactly the example's permissions.
 *
 * The probe is a 10 ms interval timer: how late it fires is how long the event loop was held by
 * one task. It prints a JSON line `{"probe":"block","ms":...}` for each block over 50 ms (and each
 * time the longest block grows); `{"probe":"cpu-block","ms":...}` for each firing after which the
 * main thread had spent 10 ms of CPU or more since the last one (the block without the time the
 * process waited for a core on a loaded machine; in 10 ms steps); and `{"probe":"ready"}` once
 * the example's module has run.
 * @module
 */

const INTERVAL_MS = 10;
/** Blocks longer than this are all reported (shorter ones only when they are the longest yet). */
const REPORT_MS = 50;
/** CPU blocks this long are all reported (the thread's CPU time comes in 10 ms steps). */
const CPU_REPORT_MS = 10;
/** CPU time in microseconds: `user + system`. */
type CpuUsage = () => { user: number; system: number };

/**
 * The main thread's CPU time in milliseconds (Node's `process.threadCpuUsage`, in 10 ms steps;
 * the whole process's `cpuUsage` where the runtime lacks it, as Deno 2.5 does). A timer's lag
 * also counts the time the process waited for a core on a loaded machine; the CPU the main
 * thread spent between two firings is the block's own length. Loaded after the timer starts, so
 * that loading Deno's Node layer counts as the example's import would.
 */
let cpuUsage: CpuUsage | undefined;
function mainThreadCpuMs(): number | undefined {
  if (cpuUsage === undefined) return undefined;
  const { user, system } = cpuUsage();
  return (user + system) / 1000;
}

let longest = 0;
let longestCpu = 0;
let expected = performance.now() + INTERVAL_MS;
let lastCpu = mainThreadCpuMs();
setInterval(() => {
  const now = performance.now();
  const late = now - expected;
  expected = now + INTERVAL_MS;
  if (late > longest || late > REPORT_MS) {
    longest = Math.max(longest, late);
    console.log(JSON.stringify({ probe: "block", ms: Math.round(late) }));
  }
  const cpu = mainThreadCpuMs();
  const spent = cpu !== undefined && lastCpu !== undefined ? cpu - lastCpu : 0;
  if (spent > longestCpu || spent >= CPU_REPORT_MS) {
    longestCpu = Math.max(longestCpu, spent);
    console.log(JSON.stringify({ probe: "cpu-block", ms: Math.round(spent) }));
  }
  lastCpu = cpu;
}, INTERVAL_MS);

{
  const process = (await import("node:process")).default as unknown as {
    threadCpuUsage?: CpuUsage;
    cpuUsage: CpuUsage;
  };
  cpuUsage = process.threadCpuUsage?.bind(process) ?? process.cpuUsage.bind(process);
  lastCpu = mainThreadCpuMs();
}

if (Deno.env.get("EDGE_CHECK_BASELINE") === "1") {
  const { setBackend, tf } = await import("../mod.ts");
  await setBackend("wasm", { threads: 1 });
  tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync());
  console.log(JSON.stringify({ probe: "ready" }));
} else {
  await import("../examples/deploy/main.ts");
  console.log(JSON.stringify({ probe: "ready" }));
}
