// Replays every case of tests/fixtures/golden/tokenizer_reader.json (Hugging Face
// DPRReaderTokenizer, full bert-base-uncased vocabulary).
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  DPRReaderTokenizer,
  DPRReaderTokenizerFast,
  type PaddingOption,
  type ReaderEncodeOptions,
  type TruncationOption,
} from "../../tokenizer/mod.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const golden = JSON.parse(
  await Deno.readTextFile(new URL("golden/tokenizer_reader.json", FIXTURES)),
);
const vocabText = await Deno.readTextFile(new URL("tokenizer/vocab.txt", FIXTURES));

for (const Tokenizer of [DPRReaderTokenizer, DPRReaderTokenizerFast]) {
  Deno.test(`${Tokenizer.name} replays every tokenizer_reader.json case`, () => {
    const tokenizer = new Tokenizer(vocabText, { modelMaxLength: golden.init.model_max_length });
    assertEquals(golden.cases.length, 18);
    for (const c of golden.cases) {
      const a = c.args;
      const options: ReaderEncodeOptions = {};
      if (a.padding !== undefined) options.padding = a.padding as PaddingOption;
      if (a.truncation !== undefined) options.truncation = a.truncation as TruncationOption;
      if (a.max_length !== undefined) options.maxLength = a.max_length;
      if (a.pad_to_multiple_of !== undefined) options.padToMultipleOf = a.pad_to_multiple_of;
      if (a.return_attention_mask !== undefined) {
        options.returnAttentionMask = a.return_attention_mask;
      }
      const result = tokenizer.encode(
        { questions: a.questions, titles: a.titles, texts: a.texts },
        options,
      ) as { inputIds: unknown; attentionMask?: unknown };
      assertEquals(
        { inputIds: result.inputIds, attentionMask: result.attentionMask },
        { inputIds: c.expected.input_ids, attentionMask: c.expected.attention_mask },
        c.id,
      );
    }
  });
}

Deno.test("DPRReaderTokenizer marks where each passage text starts", () => {
  const tokenizer = new DPRReaderTokenizer(vocabText);
  const result = tokenizer.encode({
    questions: "What is love ?",
    titles: ["Haddaway", ""],
    texts: ["'What Is Love' is a song", "x"],
  }, { padding: true, truncation: true, maxLength: 8 });
  // [CLS] what is love ? [SEP] had ##da ... cut at 8; second row: [CLS] ... [SEP] [SEP] x
  assertEquals(result.passageStarts, [8, 7]);
  assertEquals(result.inputIds[1], [101, 2054, 2003, 2293, 1029, 102, 102, 1060]);
});
