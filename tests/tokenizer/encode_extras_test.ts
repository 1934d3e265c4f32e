// encode's tensor output, the flat fast path for many passages, and decode round trips.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import {
  DPRContextEncoderTokenizer,
  DPRQuestionEncoderTokenizerFast,
} from "../../tokenizer/mod.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const vocabText = await Deno.readTextFile(new URL("tokenizer/vocab.txt", FIXTURES));
const tokenizer = new DPRContextEncoderTokenizer(vocabText, { modelMaxLength: 512 });
const titles = ["Haddaway", "Paris", "Jacksonville"];
const texts = [
  "'What Is Love' is a song recorded by the artist Haddaway",
  "Paris is the capital and most populous city of France.",
  "no it is not.",
];

Deno.test('returnTensors: "tf" gives int32 [batch, length] tensors', () => {
  const before = tf.memory().numTensors;
  const arrays = tokenizer.encode(titles, { textPair: texts, padding: true });
  const tensors = tokenizer.encode(titles, { textPair: texts, padding: true, returnTensors: "tf" });
  assertEquals(tensors.inputIds.dtype, "int32");
  assertEquals(tensors.inputIds.arraySync(), arrays.inputIds);
  assertEquals(tensors.tokenTypeIds!.arraySync(), arrays.tokenTypeIds);
  assertEquals(tensors.attentionMask!.arraySync(), arrays.attentionMask);
  const single = tokenizer.encode("hello world", { returnTensors: "tf" });
  assertEquals(single.inputIds.shape, [1, 4]);
  tf.dispose([...Object.values(tensors), ...Object.values(single)]);
  assertEquals(tf.memory().numTensors, before);
});

Deno.test("encodeFlat matches encode with truncation and padding", () => {
  const flat = tokenizer.encodeFlat(titles, { textPair: texts, maxLength: 12 });
  const rows = tokenizer.encode(titles, {
    textPair: texts,
    truncation: true,
    padding: true,
    maxLength: 12,
  });
  assertEquals([flat.batchSize, flat.sequenceLength], [3, 12]);
  assertEquals(Array.from(flat.inputIds), rows.inputIds.flat());
  assertEquals(Array.from(flat.tokenTypeIds), rows.tokenTypeIds!.flat());
  assertEquals(Array.from(flat.attentionMask), rows.attentionMask!.flat());
});

Deno.test("Fast offsets survive truncation and padding", () => {
  const fast = new DPRQuestionEncoderTokenizerFast(vocabText);
  const text = "Paris is the capital";
  const result = fast.encode(text, {
    padding: "max_length",
    truncation: true,
    maxLength: 6,
    returnOffsetsMapping: true,
  });
  assertEquals(result.inputIds.length, 6);
  assertEquals(result.offsetMapping, [[0, 0], [0, 5], [6, 8], [9, 12], [13, 20], [0, 0]]);
  const padded = fast.encode(text, {
    padding: "max_length",
    maxLength: 8,
    returnOffsetsMapping: true,
  });
  assertEquals(padded.offsetMapping!.slice(5), [[0, 0], [0, 0], [0, 0]]);
});

Deno.test("decode inverts encode up to normalization", () => {
  const ids = tokenizer.encode("Hello, is my dog cute?").inputIds;
  assertEquals(tokenizer.decode(ids, { skipSpecialTokens: true }), "hello, is my dog cute?");
  assertEquals(
    tokenizer.batchDecode([ids], { skipSpecialTokens: true, cleanUpTokenizationSpaces: false }),
    [
      "hello , is my dog cute ?",
    ],
  );
  assertEquals(tokenizer.convertTokensToIds(["hello", "qwertyuiop"]), [7592, 100]);
  assertEquals(tokenizer.decode(new Int32Array([101, 7592, 102])), "[CLS] hello [SEP]");
});

Deno.test("maxLength without truncation or padding truncates longest-first (as Hugging Face)", () => {
  const ids = tokenizer.encode("Paris is the capital and most populous city", { maxLength: 5 })
    .inputIds;
  assertEquals(ids, [101, 3000, 2003, 1996, 102]);
  const untouched = tokenizer.encode("Paris is the capital", { maxLength: 5, truncation: false });
  assertEquals(untouched.inputIds.length, 6);
  // only_second with a single sequence leaves it as is.
  assertEquals(
    tokenizer.encode("Paris is the capital", { maxLength: 5, truncation: "only_second" }).inputIds
      .length,
    6,
  );
});
