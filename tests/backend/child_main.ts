/**
 * Child-process entry of `runInChild` (backends.ts): imports the module named by the first
 * argument, awaits its exported function named by the second (called with the remaining arguments), prints one JSON line
 * (`{"ok":true,"value":...}` or `{"ok":false,"error":stack}`), and ends the process with SIGKILL.
 *
 * Why SIGKILL: a process that used WebGPU on Mesa can abort in libEGL's exit-time destructors
 * (a double free in libglvnd, outside this module) after everything it did succeeded. The report
 * is written first and is all the parent reads, so the child never runs that exit path.
 * @module
 */

const [moduleUrl, name, ...args] = Deno.args;
if (moduleUrl === undefined || name === undefined) {
  throw new TypeError("usage: child_main.ts <module URL> <exported function name>");
}

let report: { ok: boolean; value?: unknown; error?: string };
try {
  const module = await import(moduleUrl) as Record<string, unknown>;
  const fn = module[name];
  if (typeof fn !== "function") throw new TypeError(`${moduleUrl} exports no function "${name}"`);
  report = { ok: true, value: await fn(...args) };
} catch (error) {
  report = {
    ok: false,
    error: error instanceof Error ? error.stack ?? error.message : String(error),
  };
}

const bytes = new TextEncoder().encode(`\n${JSON.stringify(report)}\n`);
for (let written = 0; written < bytes.length;) {
  written += Deno.stdout.writeSync(bytes.subarray(written));
}
Deno.kill(Deno.pid, "SIGKILL");
