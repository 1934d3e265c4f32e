// Runs the dpr CLI (cli/main.ts's `main`) on the arguments after the first, and kills this process
// with SIGKILL, as a crash would, right after the CLI's N-th chunk is written (N: the first
// argument). The CLI must get `--throttle-ms 1234`: its wait after each chunk is the only
// 1234 ms timer, so counting those timers counts written chunks, with no race.
const THROTTLE_MS = 1234;
const killAfter = Number(Deno.args[0]);
const realSetTimeout = globalThis.setTimeout;
let chunks = 0;
globalThis.setTimeout = ((handler: () => void, ms?: number) => {
  if (ms === THROTTLE_MS && ++chunks === killAfter) Deno.kill(Deno.pid, "SIGKILL");
  // The throttle itself is not needed: continue at once.
  return realSetTimeout(handler, ms === THROTTLE_MS ? 0 : ms);
}) as typeof setTimeout;
const { main } = await import("../../../cli/main.ts");
Deno.exit(await main(Deno.args.slice(1)));
