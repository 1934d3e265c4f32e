// Integer options: range checks happen while parsing, before any model is loaded.
import assert from "node:assert/strict";
import { intOption, parseArgs, UsageError } from "../../cli/args.ts";

Deno.test("intOption: bounds, including a port above 65535 and unsafe integers", () => {
  assert.equal(intOption({ port: "8080" }, "port", 8000, 0, 65535), 8080);
  assert.equal(intOption({}, "port", 8000, 0, 65535), 8000);
  assert.throws(() => intOption({ port: "99999" }, "port", 8000, 0, 65535), {
    name: UsageError.name,
    message: /--port must be at most 65535: received "99999"/,
  });
  assert.throws(() => intOption({ k: "99999999999999999999" }, "k", 1), UsageError);
  assert.throws(() => intOption({ k: "1e3" }, "k", 1), UsageError);
});

Deno.test("parseArgs: node:util's parser, errors in one line naming the option", () => {
  const spec = { "top-k": "string", json: "boolean", help: "boolean" } as const;
  assert.deepEqual(parseArgs(["idx", "--top-k", "3", "q", "--json"], spec), {
    positionals: ["idx", "q"],
    options: { "top-k": "3", json: true },
  });
  assert.deepEqual(parseArgs(["--top-k=4", "-h", "--", "--json"], spec), {
    positionals: ["--json"],
    options: { "top-k": "4", help: true },
  });
  const cases: Array<[string[], RegExp]> = [
    [["--bogus"], /^unknown option --bogus$/],
    [["-5"], /^unknown option -5 \(an argument starting with "-" goes after "--"\)$/],
    [["--top-k"], /^--top-k needs a value$/],
    [["--top-k", "--json"], /^--top-k needs a value \(one starting with "-" is written/],
    [["--json=yes"], /^--json takes no value$/],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseArgs(args, spec), { name: UsageError.name, message }, args.join(" "));
  }
});
