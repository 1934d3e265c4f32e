/**
 * The package's module graph, checked: folders read top-down with no import from a lower folder
 * to a higher one, no import cycle, and no source file over 500 lines (tests aside).
 *
 * Order, highest first: `cli`, `server` > `eval`, `pipeline` > `convert` > `index`, `models` >
 * `tokenizer`, `layers` > `io` > `backend`. Folders of one rank may import each other (never in
 * a cycle). The graph is `deno info --json` of every export in `deno.json`, type imports included.
 *
 * Run: `deno run --allow-read --allow-run tools/graph_check.ts` (part of `deno task check`).
 * @module
 */

/** Rank of each top-level folder: a module may import only from its own rank or lower. */
export const FOLDER_RANKS: Readonly<Record<string, number>> = {
  backend: 0,
  io: 1,
  tokenizer: 2,
  layers: 2,
  index: 3,
  models: 3,
  convert: 4,
  eval: 5,
  pipeline: 5,
  cli: 6,
  server: 6,
};

/** The most lines a source file may have. */
export const MAX_LINES = 500;

/** Folders the line limit does not apply to (tests and what is not shipped source). */
const LINE_LIMIT_EXEMPT = ["tests/", "node_modules/", "scratch/", ".tools/", ".git/", ".gpu/"];

/** One local module and the local modules it imports. */
export type ModuleGraph = Map<string, Set<string>>;

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier?: string }; type?: { specifier?: string } }[];
}

/**
 * Adds the local modules of `deno info --json` output to `graph` (paths relative to `root`).
 * @param graph the graph to extend
 * @param info the parsed output
 * @param root the package's root as a `file:` URL ending in `/`
 */
export function addInfo(graph: ModuleGraph, info: { modules: InfoModule[] }, root: string): void {
  for (const module of info.modules) {
    if (!module.specifier.startsWith(root)) continue;
    const from = module.specifier.slice(root.length);
    const deps = graph.get(from) ?? new Set<string>();
    graph.set(from, deps);
    for (const dep of module.dependencies ?? []) {
      for (const target of [dep.code?.specifier, dep.type?.specifier]) {
        if (target !== undefined && target.startsWith(root)) deps.add(target.slice(root.length));
      }
    }
  }
}

function folderOf(path: string): string | null {
  const slash = path.indexOf("/");
  return slash < 0 ? null : path.slice(0, slash);
}

/**
 * Every import that runs up the folder order, and every module in a folder with no rank.
 * @param graph the module graph
 * @returns one line per problem
 */
export function upwardImports(graph: ModuleGraph): string[] {
  const problems: string[] = [];
  for (const [from, deps] of graph) {
    const source = folderOf(from);
    if (source === null) continue; // mod.ts and other entry files at the root
    const rank = FOLDER_RANKS[source];
    if (rank === undefined) {
      problems.push(`${from}: folder ${source}/ has no place in the order`);
      continue;
    }
    for (const to of deps) {
      const target = folderOf(to);
      if (target === null) {
        problems.push(`${from} imports ${to}: nothing imports a root entry file`);
        continue;
      }
      const targetRank = FOLDER_RANKS[target];
      if (targetRank !== undefined && targetRank > rank) {
        problems.push(`${from} imports ${to}: ${source}/ sits below ${target}/`);
      }
    }
  }
  return problems.sort();
}

/**
 * The import cycles of the graph (strongly connected components of more than one module, or a
 * module importing itself).
 * @param graph the module graph
 * @returns each cycle's modules, sorted
 */
export function importCycles(graph: ModuleGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || graph.get(v)?.has(v)) cycles.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/**
 * Source files over {@link MAX_LINES} lines, outside tests.
 * @param files paths relative to the root, with their text
 * @returns one line per file
 */
export function longFiles(files: Iterable<[string, string]>): string[] {
  const problems: string[] = [];
  for (const [path, text] of files) {
    if (LINE_LIMIT_EXEMPT.some((prefix) => path.startsWith(prefix))) continue;
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (lines > MAX_LINES) problems.push(`${path}: ${lines} lines, more than ${MAX_LINES}`);
  }
  return problems.sort();
}

async function* sourceFiles(root: URL, dir = ""): AsyncGenerator<[string, string]> {
  for await (const entry of Deno.readDir(new URL(dir, root))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) {
      if (LINE_LIMIT_EXEMPT.includes(`${path}/`)) continue;
      yield* sourceFiles(root, `${path}/`);
    } else if (entry.isFile && path.endsWith(".ts")) {
      yield [path, await Deno.readTextFile(new URL(path, root))];
    }
  }
}

async function denoInfo(entry: string, root: URL): Promise<{ modules: InfoModule[] }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`deno info --json ${entry} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/**
 * Checks the package at `root`.
 * @param root the folder holding `deno.json`
 * @returns every problem found (empty when the package passes)
 */
export async function checkPackage(root: URL): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", root)));
  const exports: string[] = typeof config.exports === "string"
    ? [config.exports]
    : Object.values(config.exports as Record<string, string>);
  const graph: ModuleGraph = new Map();
  for (const entry of exports) addInfo(graph, await denoInfo(entry, root), root.href);
  const files: [string, string][] = [];
  for await (const file of sourceFiles(root)) files.push(file);
  return [
    ...upwardImports(graph),
    ...importCycles(graph).map((cycle) => `import cycle: ${cycle.join(" -> ")}`),
    ...longFiles(files),
  ];
}

if (import.meta.main) {
  const root = new URL("../", import.meta.url);
  const problems = await checkPackage(root);
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) Deno.exit(1);
  console.log("module graph: no upward import, no cycle, no source file over 500 lines");
}
