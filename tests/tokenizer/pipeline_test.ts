// The fused fast scan (no offsets) and the offset-tracking path must agree on every input,
// whatever the cache holds: random strings over the tricky characters of each class.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { BertTokenizerFast } from "../../tokenizer/mod.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const vocabText = await Deno.readTextFile(new URL("tokenizer/vocab.txt", FIXTURES));

const ALPHABET = [
  "a",
  "b",
  "e",
  "s",
  "t",
  "un",
  "want",
  "ed",
  "A",
  "Z",
  " ",
  " ",
  "\t",
  "\n",
  "\r\n",
  "\u00a0",
  "\u2028",
  "\u3000",
  ",",
  ".",
  "'",
  "!",
  "-",
  "\u0000",
  "\u200b",
  "\ufffd",
  "\u00ad",
  "\u0301",
  "é",
  "É",
  "ß",
  "İ",
  "Σ",
  "ς",
  "北",
  "京",
  "日本",
  "안녕",
  "𝐀",
  "🤗",
  "\ud83d",
  "Ω",
  "ﬁ",
  "[SEP]",
  "[CLS]",
  "[cls]",
  "##",
  "1",
  "23",
];

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

Deno.test("fast scan and offset-tracking path give the same ids", () => {
  const next = random(7);
  const warm = new BertTokenizerFast(vocabText, { cacheSize: 64 });
  const cold = new BertTokenizerFast(vocabText, { cacheSize: 1 });
  for (let n = 0; n < 400; n++) {
    const length = Math.floor(next() * 30);
    let text = "";
    for (let k = 0; k < length; k++) text += ALPHABET[Math.floor(next() * ALPHABET.length)];
    const tracked = cold.encodeText(text, true);
    const fast = warm.encodeText(text, false).ids;
    assertEquals(fast, tracked.ids, JSON.stringify(text));
    assertEquals(cold.encodeText(text, false).ids, tracked.ids, JSON.stringify(text));
    // Every offset lies inside the text, in order.
    const offsets = tracked.offsets!;
    for (let k = 0; k < offsets.length; k += 2) {
      assertEquals(offsets[k]! <= offsets[k + 1]! && offsets[k + 1]! <= text.length, true);
    }
  }
});
