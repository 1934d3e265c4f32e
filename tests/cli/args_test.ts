// Integer options: range checks happen while parsing, before any model is loaded.
import assert from "node:assert/strict";
import { intOption, UsageError } from "../../cli/args.ts";

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
