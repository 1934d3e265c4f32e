// The published file set (what `deno publish --dry-run` lists) holds everything the entry points
// need when run from JSR (`deno run -A jsr:@dpr/dpr/cli`, `/convert`, `/demo`, ...): every local
// module of each export's graph, and every file a published module reads by
// `new URL("...", import.meta.url)` (the demo's data files).
import assert from "node:assert/strict";
import { addInfo, type ModuleGraph } from "../tools/graph_check.ts";

const ROOT = new URL("../", import.meta.url);

async function deno(args: string[]): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `deno ${args.join(" ")} failed:\n${text}`);
  return text;
}

Deno.test("every file the entry points load from JSR is in the published file set", async () => {
  const listing = await deno(["publish", "--dry-run", "--allow-dirty"]);
  const published = new Set(
    [...listing.matchAll(/^\s+(file:\/\/\S+) \(/gm)].map((m) => m[1]!.slice(ROOT.href.length)),
  );
  assert.ok(published.has("mod.ts"), listing);
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const exports = config.exports as Record<string, string>;
  for (const path of ["./cli", "./convert", "./demo"]) assert.ok(path in exports, path);
  const graph: ModuleGraph = new Map();
  for (const entry of Object.values(exports)) {
    addInfo(graph, JSON.parse(await deno(["info", "--json", entry])), ROOT.href);
  }
  const needed = new Set(graph.keys());
  // Files read at run time next to a module: `new URL("relative", import.meta.url)`.
  for (const module of graph.keys()) {
    const text = await Deno.readTextFile(new URL(module, ROOT));
    for (const m of text.matchAll(/new URL\("(\.[^"]*)", import\.meta\.url\)/g)) {
      const target = new URL(m[1]!, new URL(module, ROOT));
      const path = target.href.slice(ROOT.href.length);
      if (path.endsWith("/")) {
        for (const entry of Deno.readDirSync(target)) needed.add(`${path}${entry.name}`);
      } else needed.add(path);
    }
  }
  assert.ok(needed.has("cli/main.ts") && needed.has("data/demo_passages.tsv"));
  const missing = [...needed].filter((path) => !published.has(path)).sort();
  assert.deepEqual(missing, [], "needed at run time but not published");
});

Deno.test("the usage texts name the JSR entry points they are run from", async () => {
  const { USAGE, COMMAND_USAGE } = await import("../cli/usage.ts");
  const convert = await import("../cli/convert.ts");
  assert.match(USAGE, /deno run -A jsr:@dpr\/dpr\/cli/);
  for (const text of Object.values(COMMAND_USAGE)) assert.match(text, /jsr:@dpr\/dpr\/cli/);
  assert.match(convert.USAGE, /deno run -A jsr:@dpr\/dpr\/convert/);
  assert.doesNotMatch(convert.USAGE, /^Usage: deno task/);
});

Deno.test("deno doc --lint mod.ts finds nothing in this package's own symbols", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts", "tf.ts", "tokenizer/mod.ts", "server/handler.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  // Each problem: "error[kind]: message" then "--> path:line:col". tfjs's own symbols (under
  // node_modules, reached through `tf`) are not this package's to document.
  const ours = [...text.matchAll(/^error\[([\w-]+)\]: (.*)\n\s*--> (\S+)/gm)]
    .filter((m) => !m[3]!.includes("/node_modules/"))
    .map((m) => `${m[3]!.slice(ROOT.pathname.length)}: ${m[1]}: ${m[2]}`)
    // deno doc reads no JSDoc on a namespace import re-exported (`tf`, `tfl`), documented or not.
    .filter((line) => !/^backend\/tf\.ts:\d+:\d+: missing-jsdoc:/.test(line));
  assert.deepEqual(
    ours,
    [],
    "export each private type named here from mod.ts (or the entry point that uses it), and " +
      "give each undocumented symbol a JSDoc description",
  );
});
