// Loading tokenizers from model folders (vocab.txt + tokenizer_config.json +
// special_tokens_map.json, or tokenizer.json), checked against the tokenizer calls recorded in
// tests/fixtures/golden/models/*.json for the tiny checkpoints (their own, smaller vocabularies).
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { LocalFolderSource } from "../../io/file_source.ts";
import {
  BertTokenizer,
  BertTokenizerFast,
  DPRContextEncoderTokenizer,
  DPRQuestionEncoderTokenizer,
  DPRReaderTokenizer,
  type EncodeOptions,
  type ReaderEncodeOptions,
} from "../../tokenizer/mod.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);

interface Tensor {
  shape: number[];
  data: number[];
}

function rows(t: Tensor): number[][] {
  const [n, width] = t.shape as [number, number];
  return Array.from({ length: n }, (_, i) => t.data.slice(i * width, (i + 1) * width));
}

function options(call: Record<string, unknown>): EncodeOptions & ReaderEncodeOptions {
  const out: EncodeOptions & ReaderEncodeOptions = {};
  if (call.padding !== undefined) out.padding = call.padding as EncodeOptions["padding"];
  if (call.truncation !== undefined) {
    out.truncation = call.truncation as EncodeOptions["truncation"];
  }
  if (call.max_length !== undefined) out.maxLength = call.max_length as number;
  if (call.text_pair !== undefined) out.textPair = [call.text_pair as string | string[]].flat();
  return out;
}

for (
  const [name, load] of [
    ["dpr-question_encoder-tiny", DPRQuestionEncoderTokenizer.fromPretrained],
    ["dpr-ctx_encoder-tiny", DPRContextEncoderTokenizer.fromPretrained],
  ] as const
) {
  Deno.test(`${name}: fromPretrained reproduces the recorded tokenizer calls`, async () => {
    const dir = new URL(`models/${name}`, FIXTURES).pathname;
    const tokenizer = await load(dir);
    assertEquals(tokenizer.modelMaxLength, 64);
    const golden = JSON.parse(
      await Deno.readTextFile(new URL(`golden/models/${name}.json`, FIXTURES)),
    );
    let replayed = 0;
    for (const c of golden.cases) {
      const call = c.tokenizer_call;
      if (!call) continue;
      const result = tokenizer.encode([call.text].flat(), options(call));
      assertEquals(result.inputIds, rows(c.inputs.input_ids), c.name);
      assertEquals(result.tokenTypeIds, rows(c.inputs.token_type_ids), c.name);
      assertEquals(result.attentionMask, rows(c.inputs.attention_mask), c.name);
      replayed++;
    }
    assertEquals(replayed, 3);
  });
}

Deno.test("dpr-reader-tiny: fromPretrained reproduces the recorded reader calls", async () => {
  const tokenizer = await DPRReaderTokenizer.fromPretrained(
    new LocalFolderSource(new URL("models/dpr-reader-tiny", FIXTURES).pathname),
  );
  const golden = JSON.parse(
    await Deno.readTextFile(new URL("golden/models/dpr-reader-tiny.json", FIXTURES)),
  );
  let replayed = 0;
  for (const c of golden.cases) {
    const call = c.tokenizer_call;
    if (!call) continue;
    const result = tokenizer.encode(
      { questions: call.questions, titles: call.titles, texts: call.texts },
      options(call),
    );
    assertEquals(result.inputIds, rows(c.inputs.input_ids), c.name);
    assertEquals(result.attentionMask, rows(c.inputs.attention_mask), c.name);
    replayed++;
  }
  assertEquals(replayed, 2);
});

Deno.test("fromPretrained reads tokenizer.json, and Fast falls back to vocab.txt", async () => {
  const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<extra>", "héllo", "hello"];
  const json = {
    added_tokens: [{ id: 5, content: "<extra>", special: true }],
    normalizer: {
      type: "BertNormalizer",
      clean_text: true,
      handle_chinese_chars: true,
      strip_accents: false,
      lowercase: true,
    },
    post_processor: { type: "BertProcessing", sep: ["[SEP]", 3], cls: ["[CLS]", 2] },
    model: {
      type: "WordPiece",
      unk_token: "[UNK]",
      continuing_subword_prefix: "##",
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((token, id) => [token, id])),
    },
  };
  const files: Record<string, string> = { "tokenizer.json": JSON.stringify(json) };
  const source = {
    description: "memory",
    readFile: (file: string) =>
      Promise.resolve(file in files ? new TextEncoder().encode(files[file]) : null),
  };
  const fast = await BertTokenizerFast.fromPretrained(source);
  // strip_accents false with lowercase: the accent stays; <extra> is never split.
  assertEquals(fast.tokenize("HÉLLO<extra>hello"), ["héllo", "<extra>", "hello"]);
  assertEquals(fast.allSpecialTokens.includes("<extra>"), true);
  const slow = await BertTokenizer.fromPretrained(source);
  assertEquals(slow.encode("Héllo").inputIds, [2, 6, 3]);

  const folder = new URL("models/dpr-question_encoder-tiny", FIXTURES).pathname;
  const fromVocab = await BertTokenizerFast.fromPretrained(folder);
  const reference = await BertTokenizer.fromPretrained(folder);
  const text = "who sings does he love me with reba";
  assertEquals(fromVocab.encode(text).inputIds, reference.encode(text).inputIds);
});
