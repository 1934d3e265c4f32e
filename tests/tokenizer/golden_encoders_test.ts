// Replays every case of tests/fixtures/golden/tokenizer_encoders.json (Hugging Face
// DPRQuestionEncoderTokenizer / DPRContextEncoderTokenizer, full bert-base-uncased vocabulary).
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type {
  BertTokenizer,
  EncodeOptions,
  PaddingOption,
  TruncationOption,
} from "../../tokenizer/mod.ts";
import {
  DPRContextEncoderTokenizer,
  DPRQuestionEncoderTokenizer,
} from "../../tokenizer/dpr_tokenizers.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const golden = JSON.parse(
  await Deno.readTextFile(new URL("golden/tokenizer_encoders.json", FIXTURES)),
);
const vocabText = await Deno.readTextFile(new URL("tokenizer/vocab.txt", FIXTURES));

interface Case {
  id: string;
  method: string;
  args: Record<string, unknown>;
  expected: unknown;
}

/** Maps the Python keyword arguments of a `__call__` case to `encode` options. */
function encodeOptions(args: Record<string, unknown>): EncodeOptions {
  const options: EncodeOptions = {};
  if (args.text_pair !== undefined) options.textPair = args.text_pair as string | string[];
  if (args.add_special_tokens !== undefined) {
    options.addSpecialTokens = args.add_special_tokens as boolean;
  }
  if (args.padding !== undefined) options.padding = args.padding as PaddingOption;
  if (args.truncation !== undefined) options.truncation = args.truncation as TruncationOption;
  if (args.max_length !== undefined && args.max_length !== null) {
    options.maxLength = args.max_length as number;
  }
  if (args.pad_to_multiple_of !== undefined) {
    options.padToMultipleOf = args.pad_to_multiple_of as number;
  }
  if (args.return_token_type_ids !== undefined) {
    options.returnTokenTypeIds = args.return_token_type_ids as boolean;
  }
  if (args.return_attention_mask !== undefined) {
    options.returnAttentionMask = args.return_attention_mask as boolean;
  }
  if (args.return_special_tokens_mask !== undefined) {
    options.returnSpecialTokensMask = args.return_special_tokens_mask as boolean;
  }
  return options;
}

const KEYS: Record<string, string> = {
  input_ids: "inputIds",
  token_type_ids: "tokenTypeIds",
  attention_mask: "attentionMask",
  special_tokens_mask: "specialTokensMask",
};

function replay(tokenizer: BertTokenizer, c: Case): void {
  const args = c.args;
  switch (c.method) {
    case "tokenize":
      assertEquals(tokenizer.tokenize(args.text as string), c.expected, c.id);
      break;
    case "__call__": {
      const text = args.text as string | string[];
      const result = tokenizer.encode(text as string, encodeOptions(args)) as unknown as Record<
        string,
        unknown
      >;
      const expected: Record<string, unknown> = {};
      for (const [key, value] of Object.entries(c.expected as Record<string, unknown>)) {
        expected[KEYS[key]!] = value;
      }
      assertEquals(result, expected, c.id);
      break;
    }
    case "decode":
      assertEquals(
        tokenizer.decode(args.token_ids as number[], {
          skipSpecialTokens: args.skip_special_tokens as boolean | undefined,
          cleanUpTokenizationSpaces: args.clean_up_tokenization_spaces as boolean | undefined,
        }),
        c.expected,
        c.id,
      );
      break;
    case "convert_ids_to_tokens":
      assertEquals(tokenizer.convertIdsToTokens(args.ids as number[]), c.expected, c.id);
      break;
    default:
      throw new Error(`unknown method in fixture case ${c.id}: ${c.method}`);
  }
}

for (const Tokenizer of [DPRQuestionEncoderTokenizer, DPRContextEncoderTokenizer]) {
  Deno.test(`${Tokenizer.name} replays every tokenizer_encoders.json case`, () => {
    const init = golden.init;
    const tokenizer = new Tokenizer(vocabText, {
      doLowerCase: init.do_lower_case,
      modelMaxLength: init.model_max_length,
      cleanUpTokenizationSpaces: init.clean_up_tokenization_spaces,
      tokenizeChineseChars: init.tokenize_chinese_chars,
      stripAccents: init.strip_accents,
    });
    const cases = golden.cases as Case[];
    assertEquals(cases.length, 210);
    for (const c of cases) replay(tokenizer, c);
  });
}
