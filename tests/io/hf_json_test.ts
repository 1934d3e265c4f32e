import assert from "node:assert/strict";
import { hfJson } from "../../io/hf_json.ts";

Deno.test("hfJson writes as Python's json.dumps(indent=2, sort_keys=True, ensure_ascii=False)", () => {
  // Keys sort as strings ("100" before "2"), nesting indents by two, empty containers stay short.
  assert.equal(
    hfJson({ b: [1, 2.5, "é"], a: { "2": null, "100": true }, c: {}, d: [], e: 10n ** 30n }),
    '{\n  "a": {\n    "100": true,\n    "2": null\n  },\n  "b": [\n    1,\n    2.5,\n    "é"\n  ],\n' +
      '  "c": {},\n  "d": [],\n  "e": 1000000000000000000000000000000\n}\n',
  );
  assert.throws(() => hfJson({ x: [Infinity] }), /Cannot write value\.x\[0\] as JSON: Infinity/);
  assert.throws(() => hfJson({ f: () => 1 }), TypeError);
});
