// The index options of the CLI: --no-rescore and --oversample (searching), --storage and
// --keep-originals (writing), checked while parsing, before any model loads.
import assert from "node:assert/strict";
import { parseArgs, UsageError } from "../../cli/args.ts";
import {
  keepOriginalsOption,
  SEARCH_INDEX_OPTIONS,
  searchIndexOptions,
  storageOption,
} from "../../cli/index_options.ts";

const PG = "postgres://user@localhost:5432/db?table=psgs";

Deno.test("searchIndexOptions: --no-rescore and --oversample parse into the index options", () => {
  const parse = (args: string[]) => parseArgs(args, SEARCH_INDEX_OPTIONS).options;
  assert.deepEqual(searchIndexOptions(parse([]), "idx"), {});
  assert.deepEqual(searchIndexOptions(parse(["--no-rescore"]), "idx"), { rescore: false });
  assert.deepEqual(searchIndexOptions(parse(["--oversample", "3"]), "idx"), { oversample: 3 });
  assert.deepEqual(searchIndexOptions(parse(["--oversample=1.5"]), "https://x/idx"), {
    oversample: 1.5,
  });
  assert.deepEqual(searchIndexOptions(parse(["--oversample", "1", "--no-rescore"]), "idx"), {
    oversample: 1,
    rescore: false,
  });
  // Without either option a Postgres URL is fine.
  assert.deepEqual(searchIndexOptions(parse([]), PG), {});
});

Deno.test("searchIndexOptions: bad --oversample values and a Postgres table are refused", () => {
  for (const value of ["abc", "0.99", "0", "-1", "", " ", "Infinity", "NaN", "2x"]) {
    assert.throws(() => searchIndexOptions({ oversample: value }, "idx"), {
      name: UsageError.name,
      message: `--oversample must be a number >= 1: received ${JSON.stringify(value)}`,
    }, value);
  }
  const pgCases: Array<Record<string, string | boolean>> = [{ "no-rescore": true }, {
    oversample: "2",
  }];
  for (const options of pgCases) {
    assert.throws(() => searchIndexOptions(options, PG), {
      name: UsageError.name,
      message: /^--no-rescore and --oversample are for index folders, not a Postgres table/,
    });
  }
});

Deno.test("storageOption and keepOriginalsOption: defaults and refusals", () => {
  assert.equal(storageOption({}), "float32");
  assert.equal(storageOption({ storage: "int8" }), "int8");
  assert.throws(() => storageOption({ storage: "int4" }), UsageError);
  assert.equal(keepOriginalsOption({}, "int8", "idx"), false);
  assert.equal(keepOriginalsOption({ "keep-originals": true }, "int8", "idx"), true);
  assert.throws(() => keepOriginalsOption({ "keep-originals": true }, "float32", "idx"), {
    message: /needs --storage float16 or int8/,
  });
  assert.throws(() => keepOriginalsOption({ "keep-originals": true }, "int8", PG), {
    message: /for index folders, not a Postgres table/,
  });
});
