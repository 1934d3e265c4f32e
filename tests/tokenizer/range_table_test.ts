import assert from "node:assert/strict";
import { hashRange, RangeTable } from "../../tokenizer/range_table.ts";

Deno.test("RangeTable finds a key by a range of a longer text, not by a prefix or a longer range", () => {
  const table = new RangeTable<number>(2);
  table.set("play", 1);
  table.set("##ing", 2);
  const text = "replaying";
  assert.equal(table.find(text, 2, 6, hashRange(text, 2, 6)), 1);
  assert.equal(table.find(text, 2, 5, hashRange(text, 2, 5)), undefined);
  assert.equal(table.find(text, 2, 7, hashRange(text, 2, 7)), undefined);
  assert.equal(table.find("##ing", 0, 5, hashRange("##ing", 0, 5)), 2);
});

Deno.test("RangeTable grows past its initial slots, replaces values, and clears", () => {
  const table = new RangeTable<string>(4);
  const words = Array.from({ length: 300 }, (_, i) => `w${i * 7919}`);
  words.forEach((w, i) => table.set(w, `v${i}`));
  assert.equal(table.size, 300);
  words.forEach((w, i) =>
    assert.equal(table.find(w, 0, w.length, hashRange(w, 0, w.length)), `v${i}`)
  );
  table.set(words[5]!, "again");
  assert.equal(table.size, 300);
  assert.equal(
    table.find(words[5]!, 0, words[5]!.length, hashRange(words[5]!, 0, words[5]!.length)),
    "again",
  );
  table.clear();
  assert.equal(table.size, 0);
  assert.equal(
    table.find(words[5]!, 0, words[5]!.length, hashRange(words[5]!, 0, words[5]!.length)),
    undefined,
  );
});

Deno.test("RangeTable keys that share a hash stay apart (surrogate pairs included)", () => {
  // "Aa" and "BB" share the 31-multiplier hash.
  assert.equal(hashRange("Aa", 0, 2), hashRange("BB", 0, 2));
  const table = new RangeTable<number>();
  table.set("Aa", 1);
  table.set("BB", 2);
  table.set("\u{1F600}", 3);
  assert.equal(table.find("xAa", 1, 3, hashRange("xAa", 1, 3)), 1);
  assert.equal(table.find("BB", 0, 2, hashRange("BB", 0, 2)), 2);
  assert.equal(table.find("a\u{1F600}", 1, 3, hashRange("a\u{1F600}", 1, 3)), 3);
});

Deno.test("RangeTable refuses an initial slot count that is not a power of two", () => {
  assert.throws(() => new RangeTable(3), /initialSlots must be a power of two: received 3/);
});
