// The converter's command line (jsr:@dpr/dpr/convert): arguments read with node:util's parseArgs,
// usage errors in one line with a hint to --help, exit codes.
import assert from "node:assert/strict";
import { main, parseConvertArgs } from "../../cli/convert.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url).pathname;

Deno.test("the convert CLI parses its arguments and returns exit codes", async () => {
  assert.deepEqual(parseConvertArgs(["a", "b", "--quantize", "uint8"]), {
    source: "a",
    outDir: "b",
    quantize: "uint8",
    overwrite: false,
  });
  assert.deepEqual(parseConvertArgs(["a", "b", "--quantize=int4"]), {
    error: "--quantize must be int8, float16 or uint8: received int4",
  });
  assert.deepEqual(parseConvertArgs(["a"]), {
    error: "expected <source> and <out-dir>: received 1 arguments",
  });
  assert.deepEqual(parseConvertArgs(["--bogus", "a", "b"]), { error: "unknown option --bogus" });
  assert.deepEqual(parseConvertArgs(["a", "b", "--tokenizer", "t", "--overwrite"]), {
    source: "a",
    outDir: "b",
    tokenizer: "t",
    overwrite: true,
  });
  assert.equal(parseConvertArgs(["--help"]), "help");
  const root = await Deno.makeTempDir();
  const error = console.error;
  const log = console.log;
  const lines: string[] = [];
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  console.log = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    assert.equal(await main(["only-one"]), 2);
    assert.deepEqual(lines, [
      "convert: expected <source> and <out-dir>: received 1 arguments\n" +
      'Run "convert --help" for usage.',
    ]);
    assert.equal(await main(["-h"]), 0);
    assert.match(
      lines.at(-1)!,
      /^Usage: convert <source> <out-dir>.*\n\(convert is "deno run -A jsr:@dpr\/dpr\/convert"/,
    );
    assert.equal(await main(["./missing-folder", `${root}/x`]), 1);
    assert.match(lines.join("\n"), /convert: Cannot resolve/);
    assert.equal(
      await main([`${FIXTURES}models/dpr-reader-tiny`, `${root}/x`, "--quantize", "float16"]),
      0,
    );
    assert.match(lines.at(-1)!, /converted 33 weights into .*x \(float16\)/);
  } finally {
    console.error = error;
    console.log = log;
    await Deno.remove(root, { recursive: true });
  }
});
