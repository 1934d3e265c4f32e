// Every kind of bad input gets a clear error naming the problem.
import { rejects, throws } from "node:assert/strict";
import type { FileSource } from "../../io/file_source.ts";
import {
  BertTokenizer,
  BertTokenizerFast,
  DPRReaderTokenizer,
  Vocabulary,
} from "../../tokenizer/mod.ts";

const VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!"];

function memory(files: Record<string, string | Uint8Array>): FileSource {
  return {
    description: "memory:test",
    readFile: (name: string) => {
      const file = files[name];
      if (file === undefined) return Promise.resolve(null);
      return Promise.resolve(typeof file === "string" ? new TextEncoder().encode(file) : file);
    },
  };
}

Deno.test("missing vocabulary files", async () => {
  await rejects(BertTokenizer.fromPretrained(memory({})), /neither vocab\.txt nor tokenizer\.json/);
  await rejects(
    BertTokenizer.fromPretrained("/nonexistent/folder/for/tokenizer/test"),
    /Cannot resolve "\/nonexistent\/folder\/for\/tokenizer\/test": it is not an existing folder/,
  );
});

Deno.test("malformed vocabulary and config files", async () => {
  await rejects(BertTokenizer.fromPretrained(memory({ "vocab.txt": "" })), SyntaxError);
  await rejects(
    BertTokenizer.fromPretrained(memory({ "vocab.txt": new Uint8Array([0x5b, 0xff, 0xfe]) })),
    /not valid UTF-8/,
  );
  await rejects(
    BertTokenizer.fromPretrained(
      memory({ "vocab.txt": VOCAB.join("\n"), "tokenizer_config.json": "{not json" }),
    ),
    SyntaxError,
  );
  await rejects(
    BertTokenizer.fromPretrained(
      memory({ "vocab.txt": VOCAB.join("\n"), "tokenizer_config.json": '{"do_lower_case": 1}' }),
    ),
    /do_lower_case must be a boolean/,
  );
  await rejects(
    BertTokenizerFast.fromPretrained(
      memory({ "tokenizer.json": JSON.stringify({ model: { type: "BPE", vocab: {} } }) }),
    ),
    /model\.type must be "WordPiece"/,
  );
  await rejects(
    BertTokenizerFast.fromPretrained(
      memory({
        "tokenizer.json": JSON.stringify({ model: { type: "WordPiece", vocab: { a: 0, b: 5 } } }),
      }),
    ),
    /ids must be integers 0\.\.1/,
  );
  throws(() => Vocabulary.fromText(""), SyntaxError);
  throws(() => new Vocabulary([]), /holds no tokens/);
});

Deno.test("unknown special tokens", () => {
  throws(
    () => new BertTokenizer(VOCAB.filter((t) => t !== "[MASK]")),
    /special token "\[MASK\]" is not in the vocabulary/,
  );
  throws(() => new BertTokenizer(VOCAB, { unkToken: "<unk>" }), /"<unk>" is not in the vocab/);
  throws(
    () => new BertTokenizer(VOCAB, { additionalSpecialTokens: ["<x>"] }),
    /"<x>" is not in the vocabulary/,
  );
  throws(() => new BertTokenizer(VOCAB, { modelMaxLength: 0 }), /modelMaxLength must be positive/);
});

Deno.test("maxLength smaller than the special tokens need", () => {
  const tokenizer = new BertTokenizer(VOCAB);
  throws(
    () => tokenizer.encode("hello world", { truncation: true, maxLength: 1 }),
    /maxLength must leave room for the 2 special tokens of one sequence: received 1/,
  );
  throws(
    () => tokenizer.encode("hello", { textPair: "world", truncation: true, maxLength: 2 }),
    /room for the 3 special tokens of a pair/,
  );
  throws(() => tokenizer.encode("hello", { maxLength: -1 }), RangeError);
  throws(
    () =>
      tokenizer.encode("hello", {
        padding: true,
        truncation: true,
        maxLength: 6,
        padToMultipleOf: 4,
      }),
    /must be a multiple of padToMultipleOf/,
  );
});

Deno.test("mismatched lengths", () => {
  const reader = new DPRReaderTokenizer(VOCAB);
  throws(
    () => reader.encode({ questions: "hello", titles: ["a", "b"], texts: ["x", "y", "z"] }),
    /one text per title: received 2 titles and 3 texts/,
  );
  throws(
    () => reader.encode({ questions: ["a", "b"], titles: ["a", "b", "c"], texts: ["x", "y", "z"] }),
    /received 2 questions for 3 passages/,
  );
  const tokenizer = new BertTokenizer(VOCAB);
  throws(
    () => tokenizer.encode(["hello", "world"], { textPair: ["x"] }),
    /same length: received 2 and 1/,
  );
  throws(() => tokenizer.encode(["hello"], { textPair: "x" }), /textPair must be a list/);
  throws(
    () => tokenizer.encode(["hello", "hello world"], { returnTensors: "tf" }),
    /rows have different lengths/,
  );
});

Deno.test("unknown ids in decode and convertIdsToTokens", () => {
  const tokenizer = new BertTokenizer(VOCAB);
  throws(() => tokenizer.decode([5, 8]), /token ids must be integers in \[0, 8\): received 8/);
  throws(() => tokenizer.decode([-1]), RangeError);
  throws(() => tokenizer.decode([1.5]), RangeError);
  throws(() => tokenizer.convertIdsToTokens(99), /received 99/);
});

Deno.test("wrong option values and types", () => {
  const tokenizer = new BertTokenizer(VOCAB);
  throws(() => tokenizer.encode("hello", { returnOffsetsMapping: true }), /needs a Fast tokenizer/);
  throws(() => tokenizer.encode("hello", { padding: "yes" as never }), /padding must be/);
  throws(() => tokenizer.encode("hello", { truncation: "both" as never }), /truncation must be/);
  throws(() => tokenizer.tokenize(42 as never), /text must be a string: received number/);
  throws(() => tokenizer.encode(["a", null as never]), /text\[1\] must be a string/);
  throws(
    () => tokenizer.encode("hello", { addSpecialTokens: false, returnTokenTypeIds: true }),
    /returnTokenTypeIds needs addSpecialTokens/,
  );
});

Deno.test("decodeBestSpans rejects bad shapes and options", () => {
  const reader = new DPRReaderTokenizer(VOCAB);
  const output = { startLogits: [[0, 0, 0, 0]], endLogits: [[0, 0, 0, 0]], relevanceLogits: [0] };
  throws(() => reader.decodeBestSpans({ inputIds: [[2, 5, 6, 7]] }, output), /no \[SEP\] token/);
  throws(
    () => reader.decodeBestSpans({ inputIds: [[2, 5, 3, 7]] }, output, { numSpans: 0 }),
    /numSpans must be a positive integer/,
  );
  throws(
    () => reader.decodeBestSpans({ inputIds: [[2, 5, 3, 7], [2, 3, 3, 7]] }, output),
    /one row per passage/,
  );
  throws(
    () => reader.decodeBestSpans({ inputIds: [[2, 5, 3]] }, output),
    /has 3 ids but 4 start/,
  );
  throws(
    () => reader.decodeBestSpans({ inputIds: [[2, 5, 3, 7]] }, output, { answerSearch: "passage" }),
    /lacks the two \[SEP\] tokens/,
  );
});
