// The restricted unpickler's bounds: nesting depth, memo size, string length, and error messages
// that stay short however large the value they describe.
import assert from "node:assert/strict";
import { DEFAULT_PICKLE_LIMITS, describeValue, unpickle } from "../../io/pickle.ts";
import { readPytorchCheckpoint } from "../../io/pytorch_pickle.ts";
import { PickleBuilder, torchZip } from "./torch_bytes.ts";

const plain = { description: "evil.pkl", findGlobal: () => undefined };

/** A pickle (protocol 2) of `body` bytes then STOP. */
function pickleOf(body: number[] | Uint8Array): Uint8Array {
  const out = new Uint8Array(body.length + 3);
  out.set([0x80, 2]);
  out.set(body, 2);
  out[out.length - 1] = 0x2e;
  return out;
}

/** A pickle whose body is `count` copies of `unit`, then `tail`. */
function repeated(unit: number[], count: number, tail: number[] = []): Uint8Array {
  const body = new Uint8Array(unit.length * count + tail.length);
  for (let i = 0; i < count; i++) body.set(unit, i * unit.length);
  body.set(tail, unit.length * count);
  return pickleOf(body);
}

Deno.test("a list APPENDS-ed a million values loads (no call-stack overflow)", () => {
  // EMPTY_LIST MARK (NONE x 10^6) APPENDS
  const body = new Uint8Array(2 + 1_000_000 + 1);
  body.set([0x5d, 0x28]);
  body.fill(0x4e, 2, 2 + 1_000_000);
  body[body.length - 1] = 0x65;
  const list = unpickle(pickleOf(body), plain) as unknown[];
  assert.equal(list.length, 1_000_000);
});

Deno.test("MARKs nested 10^6 deep are refused naming the file, not a stack overflow", () => {
  const bytes = repeated([0x28], 1_000_000);
  assert.throws(
    () => unpickle(bytes, plain),
    (e: Error) =>
      e instanceof RangeError &&
      /^Cannot unpickle evil\.pkl: MARKs nest more than 1000 deep at offset \d+$/.test(e.message),
  );
});

Deno.test("lists nested 10^6 deep (EMPTY_LIST then APPEND) are refused naming the file", () => {
  const body = new Uint8Array(2_000_000);
  body.fill(0x5d, 0, 1_000_000); // EMPTY_LIST x 10^6
  body.fill(0x61, 1_000_000); // APPEND x 10^6: each list into the one below it
  body[1_999_999] = 0x61;
  assert.throws(
    () => unpickle(pickleOf(body.subarray(0, 1_999_999)), plain),
    /^RangeError: Cannot unpickle evil\.pkl: values nest 1001 deep at offset \d+, past the limit of 1000$/,
  );
  // Within the limit it loads.
  const ok = new Uint8Array(2 * 500 - 1);
  ok.fill(0x5d, 0, 500);
  ok.fill(0x61, 500);
  let value = unpickle(pickleOf(ok), plain) as unknown[];
  let depth = 1;
  while (value.length === 1) (value = value[0] as unknown[]), depth++;
  assert.equal(depth, 500);
});

Deno.test("billion laughs: nine levels of ten references load without expanding", async () => {
  // s = "lol"; l1 = [s]*10; l2 = [l1]*10; ... l9: 10^9 leaves if expanded.
  const body: number[] = [0x8c, 3, ...new TextEncoder().encode("lol"), 0x71, 0, 0x30];
  for (let level = 1; level <= 9; level++) {
    body.push(0x5d, 0x28); // EMPTY_LIST MARK
    for (let i = 0; i < 10; i++) body.push(0x68, level - 1); // BINGET previous
    body.push(0x65, 0x71, level); // APPENDS BINPUT level
    if (level < 9) body.push(0x30); // POP: only the last level stays on the stack
  }
  const value = unpickle(pickleOf(body), plain) as unknown[];
  assert.equal(value.length, 10);
  // As a state dict key or a persistent id, the error message stays short and names the file.
  const asKey = new PickleBuilder().dict().raw(...body).raw(0x4e, 0x73).stop();
  await assert.rejects(
    () => readPytorchCheckpoint(torchZip(asKey, {}), { description: "laughs.bin" }),
    (e: Error) =>
      e instanceof TypeError && e.message.length < 400 &&
      /^Cannot read laughs\.bin: state dict key \[\[\[.*\.\.\. is not a string$/.test(e.message),
  );
  const asPid = new PickleBuilder().raw(...body).raw(0x51).stop();
  await assert.rejects(
    () => readPytorchCheckpoint(torchZip(asPid, {}), { description: "laughs.bin" }),
    (e: Error) =>
      e.message.length < 400 && /laughs\.bin: unsupported persistent id \[/.test(e.message),
  );
});

Deno.test("the memo and string lengths are bounded, with errors naming the file", () => {
  // MEMOIZE grows the memo by one entry per byte.
  const memo = repeated([0x4e, 0x94, 0x30], 20, [0x4e]);
  assert.throws(
    () => unpickle(memo, { ...plain, limits: { maxMemo: 10 } }),
    /^RangeError: Cannot unpickle evil\.pkl: more than 10 memo entries at offset \d+$/,
  );
  // A BINUNICODE8 claiming 2^40 bytes.
  const huge = pickleOf([0x8d, 0, 0, 0, 0, 0, 1, 0, 0]);
  assert.throws(
    () => unpickle(huge, plain),
    new RegExp(
      `^RangeError: Cannot unpickle evil\\.pkl: a string of ${2 ** 40} bytes at offset \\d+ is ` +
        `longer than the limit of ${DEFAULT_PICKLE_LIMITS.maxStringBytes}$`,
    ),
  );
  const long = pickleOf([0x8c, 5, ...new TextEncoder().encode("hello")]);
  assert.equal(unpickle(long, plain), "hello");
  assert.throws(
    () => unpickle(long, { ...plain, limits: { maxStringBytes: 4 } }),
    /a string of 5 bytes at offset \d+ is longer than the limit of 4/,
  );
});

Deno.test("describeValue stays short for huge, deep and self-referencing values", () => {
  assert.equal(describeValue("abc"), '"abc"');
  assert.equal(describeValue([1, [2, "x"]]), '[1, [2, "x"]]');
  assert.equal(describeValue(new Map([["k", 1]])), '{"k"}');
  const self: unknown[] = [];
  self.push(self, self);
  assert.ok(describeValue(self).length <= 120);
  assert.ok(describeValue(new Array(1e6).fill("abc")).length <= 120);
  assert.ok(describeValue("z".repeat(1e6)).length <= 120);
});
