// The dpr CLI and the demo as subprocesses, with the tiny fixture models (answers are nonsense).
import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { missingOpenBlas } from "../backend/blas/libraries.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MODELS = `${ROOT}tests/fixtures/models`;

async function run(script: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}${script}`, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { DPR_BACKEND: "cpu" },
  }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("dpr CLI: index, ask, eval and usage errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const passages = `${ROOT}data/demo_passages.tsv`;
    const idx = `${dir}/idx`;
    const indexed = await run("cli/main.ts", [
      "index",
      passages,
      idx,
      "--models",
      MODELS,
      "--chunk-size",
      "16",
      "--batch",
      "8",
    ]);
    assert.equal(indexed.code, 0, indexed.stderr);
    assert.match(indexed.stderr, /42 passages/);
    assert.match(indexed.stderr, /passages\/s/);
    const index = await DenseIndex.load(idx);
    assert.equal(index.size, 42);
    assert.deepEqual(index.ids.slice(0, 3), ["1", "2", "3"]);
    assert.ok(!(await Deno.stat(`${idx}/shards`).then(() => true, () => false)), "shards removed");

    const ask = await run("cli/main.ts", [
      "ask",
      idx,
      "who discovered penicillin?",
      "--models",
      MODELS,
      "--json",
      "--top-k",
      "3",
      "--num-spans",
      "2",
    ]);
    assert.equal(ask.code, 0, ask.stderr);
    const answers = JSON.parse(ask.stdout).answers;
    assert.equal(answers.length, 2);
    for (const a of answers) assert.equal(a.passageText.slice(a.start, a.end), a.text);

    const retrieveArgs = [
      "ask",
      idx,
      "volcano lava",
      "--models",
      MODELS,
      "--retrieve-only",
      "--top-k",
      "2",
    ];
    const retrieveOnly = await run("cli/main.ts", retrieveArgs);
    assert.equal(retrieveOnly.code, 0, retrieveOnly.stderr);
    assert.match(retrieveOnly.stdout, /^Q: volcano lava\n1\. \[/);
    // wasm, with its FMA kernel (its default) or XNNPACK, retrieves the same (blas: below).
    const variants = [
      ["--backend", "wasm"],
      ["--backend", "wasm", "--no-wasm-fma"],
    ];
    for (const extra of variants) {
      const other = await run("cli/main.ts", [...retrieveArgs, ...extra]);
      assert.equal(other.code, 0, other.stderr);
      assert.equal(other.stdout, retrieveOnly.stdout, extra.join(" "));
    }
    // int8 and float16 weights (--dtype) rank the same passages here (scores differ slightly).
    // The ranked lines with their scores ("[3.606]") left out.
    const ranked = (stdout: string) =>
      [...stdout.matchAll(/^\d+\. \[[^\]]+\](.*)$/gm)].map((m) => m[1]);
    for (const dtype of ["int8", "float16"]) {
      const other = await run("cli/main.ts", [...retrieveArgs, "--dtype", dtype]);
      assert.equal(other.code, 0, other.stderr);
      assert.deepEqual(ranked(other.stdout), ranked(retrieveOnly.stdout), dtype);
      assert.equal(ranked(other.stdout).length, 2);
    }

    const ev = await run("cli/main.ts", [
      "eval",
      idx,
      `${ROOT}data/demo_questions.tsv`,
      "--models",
      MODELS,
      "--json",
      "--reader-top-k",
      "2",
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    const report = JSON.parse(ev.stdout);
    assert.equal(report.questions, 8);
    assert.equal(report.passages, 42);
    // 42 passages < 100: every question finds its answer within the top 100.
    assert.equal(report.topK["100"], 1);
    assert.ok(report.topK["1"] <= report.topK["5"] && report.topK["5"] <= report.topK["20"]);
    assert.equal(typeof report.readerExactMatch, "number");

    const usage: Array<[string[], RegExp]> = [
      [[], /Usage: dpr <command>/],
      [["frobnicate"], /unknown command "frobnicate"/],
      [["index", passages], /index takes 2 arguments: received 1/],
      [["index", `${dir}/missing.tsv`, idx], /passage file .*missing\.tsv does not exist/],
      [
        ["index", passages, idx, "--batch", "zero"],
        /--batch must be an integer >= 1: received "zero"/,
      ],
      [
        ["index", passages, idx, "--shard-id", "2", "--num-shards", "2"],
        /--shard-id must be below --num-shards 2/,
      ],
      [["index", passages, idx, "--token-types", "ones"], /--token-types must be zeros or pair/],
      [["ask", idx, "q", "--bogus"], /unknown option --bogus/],
      [["ask", idx, "q", "--top-k"], /--top-k needs a value/],
      [
        ["ask", idx, "q", "--dtype", "int4"],
        /--dtype must be one of float32, float16, int8: received "int4"/,
      ],
      [["ask", idx, "  "], /the question is empty/],
      [
        ["eval", idx, `${ROOT}data/demo_questions.tsv`, "--match", "fuzzy"],
        /--match must be string or regex/,
      ],
      [["merge"], /merge takes 1 argument: received 0/],
    ];
    for (const [args, message] of usage) {
      const r = await run("cli/main.ts", args);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr + r.stdout, message);
      if (args.length === 0) continue;
      // One line saying what is wrong, one naming the help: never the whole usage text.
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 2, r.stderr);
      const command = ["index", "ask", "eval", "merge"].includes(args[0]!)
        ? `dpr ${args[0]}`
        : "dpr";
      assert.equal(lines[1], `Run "${command} --help" for usage.`);
    }
    // Each command's own help, with -h or --help, or "dpr help <command>".
    for (const args of [["ask", "--help"], ["ask", idx, "q", "-h"], ["help", "ask"]]) {
      const r = await run("cli/main.ts", args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^Usage: dpr ask <index-dir> <question> \[options\]/);
      assert.match(r.stdout, /--retrieve-only/);
      assert.match(r.stdout, /deno run -A jsr:@dpr\/dpr\/cli/);
      assert.doesNotMatch(r.stdout, /--chunk-size/, "not another command's options");
    }
    const overview = await run("cli/main.ts", ["--help"]);
    assert.equal(overview.code, 0);
    assert.match(overview.stdout, /"dpr <command> --help" \(or -h, or "dpr help <command>"\)/);
    const broken = await run("cli/main.ts", ["ask", `${dir}/nothing`, "q", "--models", MODELS]);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /dpr ask: .*index\.json is missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "dpr CLI: the blas backend, weights packed or plain, retrieves as cpu does",
  // Without OpenBLAS ignored (never passed), with a line saying what to install.
  ignore: missingOpenBlas("dpr CLI blas") !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const idx = `${dir}/idx`;
      const passages = `${ROOT}data/demo_passages.tsv`;
      const indexed = await run("cli/main.ts", ["index", passages, idx, "--models", MODELS]);
      assert.equal(indexed.code, 0, indexed.stderr);
      const ask = ["ask", idx, "volcano lava", "--models", MODELS, "--retrieve-only"];
      const cpu = await run("cli/main.ts", ask);
      assert.equal(cpu.code, 0, cpu.stderr);
      for (const extra of [["--backend", "blas"], ["--backend", "blas", "--no-blas-prepack"]]) {
        const other = await run("cli/main.ts", [...ask, ...extra]);
        assert.equal(other.code, 0, other.stderr);
        assert.equal(other.stdout, cpu.stdout, extra.join(" "));
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("dpr CLI: sharded index job with merge", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const passages = `${ROOT}data/demo_passages.tsv`;
    for (const shard of ["1", "0"]) {
      const r = await run("cli/main.ts", [
        "index",
        passages,
        `${dir}/idx`,
        "--models",
        MODELS,
        "--num-shards",
        "2",
        "--shard-id",
        shard,
        "--chunk-size",
        "10",
        "--no-progress",
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /dpr merge/);
      assert.doesNotMatch(r.stderr, /passages\/s/);
    }
    const merged = await run("cli/main.ts", ["merge", `${dir}/idx`]);
    assert.equal(merged.code, 0, merged.stderr);
    const index = await DenseIndex.load(`${dir}/idx`);
    assert.deepEqual(index.ids, Array.from({ length: 42 }, (_, i) => String(i + 1)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo: runs end to end with the tiny models, and reuses a kept index", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const first = await run("cli/demo.ts", ["--models", MODELS, "--index-dir", `${dir}/demo`]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /Indexed 42 passages/);
    assert.match(first.stdout, /Q: who invented the telephone\n {2}1\. "/);
    assert.match(first.stdout, /Retrieval on 8 demo questions: top-1 \d+%, top-5 \d+%/);
    const second = await run("cli/demo.ts", [
      "--models",
      MODELS,
      "--index-dir",
      `${dir}/demo`,
      "--question",
      "What is a glacier?",
    ]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /Using the index in .* \(42 passages\)/);
    assert.match(second.stdout, /Q: What is a glacier\?\n {2}1\. "/);
    const bad = await run("cli/demo.ts", ["--question"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--question needs a question/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dpr index: a shard killed midway and restarted gives the uninterrupted index", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // The first 20 demo passages in chunks of 4: shard 0 of 2 owns chunks 0, 2 and 4.
    const lines = (await Deno.readTextFile(`${ROOT}data/demo_passages.tsv`)).split("\n");
    const passages = `${dir}/p.tsv`;
    await Deno.writeTextFile(passages, lines.slice(0, 21).join("\n") + "\n");
    const common = ["--models", MODELS, "--chunk-size", "4", "--batch", "4", "--no-progress"];
    const ref = await run("cli/main.ts", ["index", passages, `${dir}/ref`, ...common]);
    assert.equal(ref.code, 0, ref.stderr);

    // Two shards; shard 0 is killed (SIGKILL) right after its second chunk is written.
    const shard0 = `${dir}/crash/shards/shard-0-of-2`;
    const args = (extra: string[]) => [
      "run",
      "-A",
      `${ROOT}cli/main.ts`,
      "index",
      passages,
      `${dir}/crash`,
      ...common,
      "--num-shards",
      "2",
      ...extra,
    ];
    const killed = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        `${ROOT}tests/cli/helpers/killed_after_chunks.ts`,
        "2",
        ...args(["--shard-id", "0", "--throttle-ms", "1234"]).slice(3),
      ],
      stdout: "null",
      stderr: "null",
      env: { DPR_BACKEND: "cpu" },
    }).output();
    assert.equal(killed.signal, "SIGKILL", "shard 0 should have been killed before it finished");
    const done = [...Deno.readDirSync(shard0)].filter((e) => /^chunk-\d+$/.test(e.name)).length;
    assert.equal(done, 2, `chunks of shard 0 before the restart: ${done}`);

    const resumed = await run("cli/main.ts", args(["--shard-id", "0"]).slice(3));
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /1 chunks encoded, 2 already done/);
    const other = await run("cli/main.ts", args(["--shard-id", "1"]).slice(3));
    assert.equal(other.code, 0, other.stderr);
    assert.equal((await run("cli/main.ts", ["merge", `${dir}/crash`])).code, 0);
    for (const file of ["vectors.npy", "ids.jsonl", "metadata.jsonl"]) {
      assert.deepEqual(
        await Deno.readFile(`${dir}/crash/${file}`),
        await Deno.readFile(`${dir}/ref/${file}`),
        file,
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dpr CLI: index --storage int8 and merge --storage float16 record the storage", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const passages = `${ROOT}data/demo_passages.tsv`;
    const common = ["--models", MODELS, "--chunk-size", "16", "--batch", "8", "--no-progress"];
    const indexed = await run("cli/main.ts", [
      "index",
      passages,
      `${dir}/q`,
      ...common,
      "--storage",
      "int8",
      "--keep-shards",
    ]);
    assert.equal(indexed.code, 0, indexed.stderr);
    assert.match(indexed.stderr, /42 passages, dimension \d+, int8 vectors/);
    const int8 = await DenseIndex.load(`${dir}/q`);
    assert.equal(int8.storage, "int8");
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/q/index.json`));
    assert.equal(manifest.dtype, "int8");
    assert.equal(manifest.files.scales, "scales.npy");
    // The kept float32 chunks merge again into another storage type.
    const merged = await run("cli/main.ts", ["merge", `${dir}/q`, "--storage", "float16"]);
    assert.equal(merged.code, 0, merged.stderr);
    assert.match(merged.stderr, /float16 vectors/);
    const half = await DenseIndex.load(`${dir}/q`);
    assert.equal(half.storage, "float16");
    assert.equal(half.vectorBytes * 2, int8.size * int8.dim * 4);
    const ask = await run("cli/main.ts", ["ask", `${dir}/q`, "penicillin", "--models", MODELS]);
    assert.equal(ask.code, 0, ask.stderr);
    // int8 with the float32 originals on disk: ask re-scores with them.
    const kept = await run("cli/main.ts", [
      "merge",
      `${dir}/q`,
      "--storage",
      "int8",
      "--keep-originals",
    ]);
    assert.equal(kept.code, 0, kept.stderr);
    const keptManifest = JSON.parse(await Deno.readTextFile(`${dir}/q/index.json`));
    assert.equal(keptManifest.dtype, "int8");
    const originals = await Deno.readFile(`${dir}/q/${keptManifest.files.originals}`);
    assert.equal(originals.length, 128 + int8.size * int8.dim * 4);
    {
      await using rescored = await DenseIndex.load(`${dir}/q`);
      assert.equal(rescored.keepsOriginals, true);
    }
    const keptAsk = await run("cli/main.ts", ["ask", `${dir}/q`, "penicillin", "--models", MODELS]);
    assert.equal(keptAsk.code, 0, keptAsk.stderr);
    assert.equal(keptAsk.stdout, ask.stdout);
    const float32Kept = await run("cli/main.ts", ["merge", `${dir}/q`, "--keep-originals"]);
    assert.equal(float32Kept.code, 2, float32Kept.stderr);
    assert.match(float32Kept.stderr, /--keep-originals needs --storage float16 or int8/);
    const bad = await run("cli/main.ts", ["merge", `${dir}/q`, "--storage", "int4"]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--storage must be float32, float16, int8: received "int4"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dpr index --keep-shards on a changed passage file of the same size is refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const lines = (await Deno.readTextFile(`${ROOT}data/demo_passages.tsv`)).split("\n");
    const passages = `${dir}/p.tsv`;
    const original = lines.slice(0, 9).join("\n") + "\n";
    await Deno.writeTextFile(passages, original);
    const common = ["--models", MODELS, "--chunk-size", "4", "--no-progress", "--keep-shards"];
    const first = await run("cli/main.ts", ["index", passages, `${dir}/idx`, ...common]);
    assert.equal(first.code, 0, first.stderr);
    const vectors = await Deno.readFile(`${dir}/idx/vectors.npy`);
    // One letter of the last passage changes case: same size, other content.
    const last = original.trimEnd().split("\n").at(-1)!;
    const at = last.search(/[a-z]/);
    const changed = original.replace(
      last,
      last.slice(0, at) + last[at]!.toUpperCase() + last.slice(at + 1),
    );
    assert.equal(changed.length, original.length);
    await Deno.writeTextFile(passages, changed);
    const again = await run("cli/main.ts", ["index", passages, `${dir}/idx`, ...common]);
    assert.notEqual(again.code, 0, "a changed collection must not reuse the old shards");
    assert.match(again.stderr, /Cannot reuse the finished encoding job .*other passages.*Refused/);
    assert.deepEqual(await Deno.readFile(`${dir}/idx/vectors.npy`), vectors, "index untouched");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dpr ask --no-rescore and --oversample on an int8 index kept with its originals", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const idx = `${dir}/idx`;
    const models = ["--models", MODELS];
    const indexed = await run("cli/main.ts", [
      "index",
      `${ROOT}data/demo_passages.tsv`,
      idx,
      ...models,
      "--chunk-size",
      "16",
      "--no-progress",
      "--keep-shards",
    ]);
    assert.equal(indexed.code, 0, indexed.stderr);
    const question = "who discovered penicillin?";
    const hits = async (...extra: string[]) => {
      const ask = await run("cli/main.ts", [
        "ask",
        idx,
        question,
        ...models,
        "--retrieve-only",
        "--json",
        ...extra,
      ]);
      assert.equal(ask.code, 0, ask.stderr);
      return (JSON.parse(ask.stdout).hits as Array<{ id: string; score: number }>)
        .map(({ id, score }) => ({ id, score }));
    };
    // float32: every passage's exact score, and the exact top 10.
    const exact = new Map((await hits("--top-k", "42")).map((h) => [h.id, h.score]));
    const exactTop = await hits("--top-k", "10");
    // int8 alone (no originals): the plain quantized ranking.
    const merge = (...extra: string[]) => run("cli/main.ts", ["merge", idx, ...extra]);
    assert.equal((await merge("--storage", "int8")).code, 0);
    const plain = await hits("--top-k", "10");
    assert.ok(
      plain.some((h) => Math.abs(h.score - exact.get(h.id)!) > 1e-6),
      "int8 scores differ from the float32 ones",
    );
    assert.equal((await merge("--storage", "int8", "--keep-originals")).code, 0);
    // --no-rescore: the same ranking and scores as the index without originals.
    assert.deepEqual(await hits("--top-k", "10", "--no-rescore"), plain);
    // Default (oversample 2): the candidates re-scored with the float32 originals.
    const rescored = await hits("--top-k", "10");
    assert.notDeepEqual(rescored, plain);
    for (const h of rescored) assert.ok(Math.abs(h.score - exact.get(h.id)!) < 1e-5, h.id);
    for (let i = 1; i < rescored.length; i++) {
      assert.ok(rescored[i - 1]!.score >= rescored[i]!.score);
    }
    // Oversample 5: 50 candidates of 42 rows, so the float32 top 10 exactly.
    const all = await hits("--top-k", "10", "--oversample", "5");
    assert.deepEqual(all.map((h) => h.id), exactTop.map((h) => h.id));
    all.forEach((h, i) => assert.ok(Math.abs(h.score - exactTop[i]!.score) < 1e-5, h.id));
    // eval and serve take them too; a Postgres table (no originals) is refused before connecting.
    const ev = await run("cli/main.ts", [
      "eval",
      idx,
      `${ROOT}data/demo_questions.tsv`,
      ...models,
      "--no-reader",
      "--json",
      "--no-rescore",
      "--oversample",
      "1.5",
    ]);
    assert.equal(ev.code, 0, ev.stderr);
    assert.equal(JSON.parse(ev.stdout).passages, 42);
    for (const command of [["serve"], ["eval", `${ROOT}data/demo_questions.tsv`]]) {
      const pg = await run("cli/main.ts", [
        command[0]!,
        "postgres://nobody@127.0.0.1:1/db?table=psgs",
        ...command.slice(1),
        "--no-rescore",
      ]);
      assert.equal(pg.code, 2, pg.stderr);
      assert.match(
        pg.stderr,
        /--no-rescore and --oversample are for index folders, not a Postgres/,
      );
    }
    // Bad values are refused before any model loads, in the usage style.
    for (const value of ["abc", "0.5", "0", "-2", "", "Infinity"]) {
      const bad = await run("cli/main.ts", ["ask", idx, question, `--oversample=${value}`]);
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(
        bad.stderr,
        new RegExp(
          `^dpr ask: --oversample must be a number >= 1: received ${
            JSON.stringify(value).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
          }\nRun "dpr ask --help" for usage\\.\n$`,
        ),
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
