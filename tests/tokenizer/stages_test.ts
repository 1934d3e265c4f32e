// The pipeline stages on their own: normalizer, pre-tokenizer, WordPiece, post-processor,
// decoder, truncation and padding rules.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { BertNormalizer } from "../../tokenizer/normalizer.ts";
import {
  forEachWord,
  splitOnPunctuation,
  splitOnSpecialTokens,
} from "../../tokenizer/pre_tokenizer.ts";
import { WordPiece } from "../../tokenizer/wordpiece.ts";
import { BertPostProcessor } from "../../tokenizer/post_processor.ts";
import { cleanUpTokenization, joinWordPieces } from "../../tokenizer/decoder.ts";
import { truncationCuts } from "../../tokenizer/truncation.ts";
import { paddedLength } from "../../tokenizer/padding.ts";

Deno.test("normalizer: per-character lower-casing (no final sigma), accents, NFC", () => {
  const n = new BertNormalizer();
  assertEquals(n.normalizeWord("ΣΑΣ").text, "σασ");
  assertEquals(n.normalizeWord("İstanbul").text, "istanbul");
  assertEquals(n.normalizeWord("Ångström").text, "angstrom");
  // Each output unit knows its source character (here the astral char is one code point).
  assertEquals(n.normalizeWord("𝐀é").sources, [0, 0, 1]);
  const keep = new BertNormalizer({ lowercase: false });
  assertEquals(keep.normalizeWord("Cafe\u0301").text, "Café");
  assertEquals(
    new BertNormalizer({ lowercase: true, stripAccents: false }).normalizeWord("É").text,
    "é",
  );
});

Deno.test("pre-tokenizer: special tokens, clean-up, whitespace, CJK, punctuation", () => {
  assertEquals(splitOnSpecialTokens("a[SEP]b[CLS]", ["[SEP]", "[CLS]"]), [
    { start: 0, end: 1, special: null },
    { start: 1, end: 6, special: "[SEP]" },
    { start: 6, end: 7, special: null },
    { start: 7, end: 12, special: "[CLS]" },
  ]);
  const words: [string, number, number, number[]][] = [];
  const text = "ab\u200bc  北京x\u2028y\u0000";
  forEachWord(text, 0, text.length, (w, s, e, chars) => {
    words.push([w, s, e, [...chars!]]);
  }, true);
  assertEquals(words, [
    ["abc", 0, 4, [0, 1, 3]],
    ["北", 6, 7, [6]],
    ["京", 7, 8, [7]],
    ["x", 8, 9, [8]],
    ["y", 10, 11, [10]],
  ]);
  const pieces: number[] = [];
  splitOnPunctuation("don't!", pieces);
  assertEquals(pieces, [0, 3, 3, 4, 4, 5, 5, 6]);
});

Deno.test("WordPiece: greedy longest match, ## continuations, unknown words", () => {
  const vocab = new Map([["[UNK]", 0], ["un", 1], ["##want", 2], ["##ed", 3], ["unwant", 4], [
    "𝐀",
    5,
  ], ["##𝐀", 6]]);
  const wp = new WordPiece(vocab, { unkId: 0, maxInputCharsPerWord: 4 });
  const run = (text: string): [number[], number[]] => {
    const ids: number[] = [];
    const spans: number[] = [];
    wp.tokenize(text, 0, text.length, ids, spans);
    return [ids, spans];
  };
  assertEquals(run("unwanted"), [[0], [0, 8]]); // 8 code points > 4
  const wide = new WordPiece(vocab, { unkId: 0 });
  const ids: number[] = [];
  wide.tokenize("unwanted", 0, 8, ids, null);
  assertEquals(ids, [4, 3]);
  ids.length = 0;
  wide.tokenize("unwantx", 0, 7, ids, null);
  assertEquals(ids, [0]);
  assertEquals(run("𝐀𝐀𝐀"), [[5, 6, 6], [0, 2, 2, 4, 4, 6]]);
});

Deno.test("post-processor, decoder, truncation and padding rules", () => {
  const post = new BertPostProcessor(101, 102);
  assertEquals(post.buildInputs([7, 8], [9]), [101, 7, 8, 102, 9, 102]);
  assertEquals(post.tokenTypeIds(2, 1), [0, 0, 0, 0, 1, 1]);
  assertEquals(post.specialTokensMask(2, null), [1, 0, 0, 1]);
  assertEquals(joinWordPieces(["sun", "##l", "##!", "den"]), "sunl! den");
  assertEquals(cleanUpTokenization("it ' s not . don ' t , ok"), "it's not. don't, ok");
  // longest_first: even out the longer first, then split (the first gets the smaller half).
  assertEquals(truncationCuts(10, 4, 8, "longest_first"), [7, 1]);
  assertEquals(truncationCuts(4, 4, 3, "longest_first"), [1, 2]);
  assertEquals(truncationCuts(3, 20, 5, "only_first"), [0, 0]); // cannot: left as is
  assertEquals(truncationCuts(3, 20, 5, "only_second"), [0, 5]);
  assertEquals(paddedLength([3, 9], "longest", undefined, 8), 16);
  assertEquals(paddedLength([3], "max_length", 20, undefined), 20);
  assertEquals(paddedLength([3], "do_not_pad", 20, 8), null);
});
