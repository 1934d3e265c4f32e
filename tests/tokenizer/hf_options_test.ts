// Options of the Python BertTokenizer that the golden fixtures do not reach: `never_split` and
// lower-casing without accent stripping (the Python tokenizer composes to NFC first).
import assert, { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import {
  DPRQuestionEncoderTokenizer,
  DPRQuestionEncoderTokenizerFast,
  DPRReaderTokenizer,
  DPRReaderTokenizerFast,
} from "../../tokenizer/mod.ts";
import { tf } from "../../backend/tf.ts";

const VOCAB = [
  "[PAD]",
  "[UNK]",
  "[CLS]",
  "[SEP]",
  "[MASK]",
  "hello-world",
  "hello",
  "-",
  "world",
  "!",
  "café",
  "cafe",
  "caf",
  "##e",
  "##é",
  "##\u0301",
];

Deno.test("neverSplit keeps whole words as Python's never_split: as written, else normalized", () => {
  const slow = new DPRQuestionEncoderTokenizer(VOCAB, { neverSplit: ["hello-world", "zzz!"] });
  assertEquals(slow.tokenize("Hello-World hello-world!"), [
    "hello-world",
    "hello",
    "-",
    "world",
    "!",
  ]);
  // A kept word missing from the vocabulary has the unknown token's id but shows as itself, as
  // Python's tokenize() (which keeps the string) does.
  assertEquals(slow.encode("zzz! world").inputIds, [2, 1, 8, 3]);
  assertEquals(slow.tokenize("zzz! world zzz"), ["zzz!", "world", "[UNK]"]);
  // Python checks the word as written first (kept unchanged, capitals and all), then lower-cased
  // with accents stripped.
  const listed = new DPRQuestionEncoderTokenizer(VOCAB, { neverSplit: ["Hello-World", "cafe!"] });
  assertEquals(listed.tokenize("Hello-World HELLO-WORLD Café!"), [
    "Hello-World",
    "hello",
    "-",
    "world",
    "cafe!",
  ]);
  assertEquals(listed.encode("Hello-World Café!").inputIds, [2, 1, 1, 3]);
  // The Fast classes ignore it, like BertTokenizerFast.
  const fast = new DPRQuestionEncoderTokenizerFast(VOCAB, { neverSplit: ["hello-world"] });
  assertEquals(fast.tokenize("hello-world"), ["hello", "-", "world"]);
  const readerFast = new DPRReaderTokenizerFast(VOCAB, { neverSplit: ["hello-world"] });
  assertEquals(readerFast.tokenize("hello-world"), ["hello", "-", "world"]);
  const reader = new DPRReaderTokenizer(VOCAB, { neverSplit: ["hello-world"] });
  assertEquals(reader.tokenize("hello-world"), ["hello-world"]);
  // Without lower-casing the word must match exactly.
  const cased = new DPRQuestionEncoderTokenizer(VOCAB, {
    doLowerCase: false,
    neverSplit: ["hello-world"],
  });
  assertEquals(cased.tokenize("Hello-World hello-world"), ["[UNK]", "-", "[UNK]", "hello-world"]);
});

Deno.test("never_split is read from tokenizer_config.json and checked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/vocab.txt`, VOCAB.join("\n") + "\n");
    await Deno.writeTextFile(
      `${dir}/tokenizer_config.json`,
      JSON.stringify({ do_lower_case: true, never_split: ["hello-world"] }),
    );
    const slow = await DPRQuestionEncoderTokenizer.fromPretrained(dir);
    assertEquals(slow.tokenize("HELLO-WORLD"), ["hello-world"]);
    const fast = await DPRQuestionEncoderTokenizerFast.fromPretrained(dir);
    assertEquals(fast.tokenize("HELLO-WORLD"), ["hello", "-", "world"]);
    await Deno.writeTextFile(`${dir}/tokenizer_config.json`, JSON.stringify({ never_split: "x" }));
    await rejects(DPRQuestionEncoderTokenizer.fromPretrained(dir), {
      name: "TypeError",
      message: /never_split must be a list of strings/,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("do_lower_case without strip_accents composes to NFC (Python), Fast does not (Rust)", () => {
  const slow = new DPRQuestionEncoderTokenizer(VOCAB, { stripAccents: false });
  assertEquals(slow.tokenize("CAFE\u0301 Café"), ["café", "café"]);
  const fast = new DPRQuestionEncoderTokenizerFast(VOCAB, { stripAccents: false });
  assertEquals(fast.tokenize("CAFE\u0301"), ["cafe", "##\u0301"]);
  // Stripping accents (the default with lower-casing) is unchanged.
  assertEquals(new DPRQuestionEncoderTokenizer(VOCAB).tokenize("CAFE\u0301 Café"), [
    "cafe",
    "cafe",
  ]);
});

Deno.test("added tokens past the vocabulary extend it and are kept whole", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/vocab.txt`, VOCAB.join("\n") + "\n");
    const decoder = {
      "0": { content: "[PAD]", special: true },
      "16": { content: "<ent>", special: true },
      "17": { content: "NewWord", special: false },
    };
    await Deno.writeTextFile(
      `${dir}/tokenizer_config.json`,
      JSON.stringify({ do_lower_case: true, added_tokens_decoder: decoder }),
    );
    for (
      const tokenizer of [
        await DPRQuestionEncoderTokenizer.fromPretrained(dir),
        await DPRQuestionEncoderTokenizerFast.fromPretrained(dir),
      ]
    ) {
      assert.equal(tokenizer.vocabSize, 18);
      assertEquals(tokenizer.tokenize("hello<ent>world NewWord!"), [
        "hello",
        "<ent>",
        "world",
        "NewWord",
        "!",
      ]);
      const ids = tokenizer.encode("hello <ent> NewWord").inputIds as number[];
      assertEquals(ids, [2, 6, 16, 17, 3]);
      // Special added tokens are skipped by decode, the others are not.
      assert.equal(tokenizer.decode(ids, { skipSpecialTokens: true }), "hello NewWord");
    }
    // Ids must continue the vocabulary.
    await Deno.writeTextFile(
      `${dir}/tokenizer_config.json`,
      JSON.stringify({ added_tokens_decoder: { "20": { content: "<x>", special: true } } }),
    );
    await rejects(DPRQuestionEncoderTokenizer.fromPretrained(dir), {
      name: "SyntaxError",
      message: /continue the vocabulary of 16 tokens without gaps: id 16 is missing/,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("maxInputCharsPerWord must be a positive integer (a tokenizer.json may say otherwise)", () => {
  for (const bad of [0, -1, 2.5, Number.NaN]) {
    assert.throws(() => new DPRQuestionEncoderTokenizer(VOCAB, { maxInputCharsPerWord: bad }), {
      name: "RangeError",
      message: /maxInputCharsPerWord must be a positive integer/,
    });
  }
  const short = new DPRQuestionEncoderTokenizer(VOCAB, { maxInputCharsPerWord: 4 });
  assertEquals(short.tokenize("cafe hello"), ["cafe", "[UNK]"]);
});

Deno.test("DPRReaderTokenizer: wrong input types name the field; null texts mean absent (as None)", () => {
  const reader = new DPRReaderTokenizer(VOCAB);
  assert.throws(
    () => reader.encode({ questions: "hello", titles: [5 as unknown as string], texts: ["x"] }),
    { name: "TypeError", message: /titles must be a string or a list of strings: titles\[0\]/ },
  );
  assert.throws(
    () => reader.encode({ questions: 7 as unknown as string, titles: ["t"], texts: ["x"] }),
    { name: "TypeError", message: /questions must be a string .*received number/ },
  );
  // Only titles: they pair with the question, as with texts=None in Hugging Face.
  const pair = reader.encode({
    questions: "hello",
    titles: "world",
    texts: null as unknown as string,
  });
  assertEquals((pair as unknown as { inputIds: number[] }).inputIds, [2, 6, 3, 8, 3]);
  assert.throws(() => reader.encode({ questions: "hello", texts: ["world"] }), {
    name: "TypeError",
    message: /questions and texts must both be strings or both lists/,
  });
});

Deno.test("decode takes a rank-1 tensor of ids; other non-arrays are TypeErrors, not ''", () => {
  const tokenizer = new DPRQuestionEncoderTokenizer(VOCAB);
  const ids = tokenizer.encode("hello world").inputIds as number[];
  const row = tf.tensor1d(ids, "int32");
  const rows = tf.tensor2d([ids, ids], [2, ids.length], "int32");
  try {
    assert.equal(tokenizer.decode(row as unknown as number[]), "[CLS] hello world [SEP]");
    assertEquals(
      tokenizer.batchDecode(rows as unknown as number[][], { skipSpecialTokens: true }),
      [
        "hello world",
        "hello world",
      ],
    );
    assert.throws(() => tokenizer.decode(rows as unknown as number[]), {
      name: "TypeError",
      message: /rank 1/,
    });
    assert.throws(() => tokenizer.decode({} as unknown as number[]), {
      name: "TypeError",
      message: /ids must be an array of token ids/,
    });
  } finally {
    tf.dispose([row, rows]);
  }
});
