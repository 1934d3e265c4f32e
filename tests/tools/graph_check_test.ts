import { deepEqual } from "node:assert/strict";
import {
  checkPackage,
  importCycles,
  longFiles,
  type ModuleGraph,
  upwardImports,
} from "../../tools/graph_check.ts";

function graph(edges: Record<string, string[]>): ModuleGraph {
  return new Map(Object.entries(edges).map(([from, to]) => [from, new Set(to)]));
}

Deno.test("graph check: an import up the folder order is reported, down and sideways are not", () => {
  const g = graph({
    "mod.ts": ["models/a.ts", "io/b.ts"],
    "models/a.ts": ["io/b.ts", "layers/c.ts", "index/d.ts"],
    "io/b.ts": ["models/a.ts", "backend/e.ts"],
    "layers/c.ts": ["tokenizer/f.ts"],
    "index/d.ts": [],
    "extra/g.ts": [],
  });
  deepEqual(upwardImports(g), [
    "extra/g.ts: folder extra/ has no place in the order",
    "io/b.ts imports models/a.ts: io/ sits below models/",
  ]);
});

Deno.test("graph check: cycles are reported, acyclic graphs pass", () => {
  deepEqual(importCycles(graph({ "a/x.ts": ["a/y.ts"], "a/y.ts": ["a/z.ts"], "a/z.ts": [] })), []);
  deepEqual(
    importCycles(graph({
      "a/x.ts": ["a/y.ts"],
      "a/y.ts": ["a/z.ts"],
      "a/z.ts": ["a/x.ts"],
      "a/w.ts": ["a/w.ts"],
    })),
    [["a/x.ts", "a/y.ts", "a/z.ts"], ["a/w.ts"]],
  );
});

Deno.test("graph check: files over 500 lines outside tests are reported", () => {
  const long = "x\n".repeat(501);
  deepEqual(
    longFiles([["io/long.ts", long], ["tests/io/long_test.ts", long], ["io/ok.ts", "x\n"]]),
    [
      "io/long.ts: 501 lines, more than 500",
    ],
  );
});

Deno.test("graph check: this package passes", async () => {
  deepEqual(await checkPackage(new URL("../../", import.meta.url)), []);
});
