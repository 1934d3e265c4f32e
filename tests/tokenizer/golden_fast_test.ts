// Replays every case of tests/fixtures/golden/tokenizer_fast.json (Hugging Face's Rust
// BertTokenizerFast): tokens, ids, token types and offsets in code points and in UTF-16 units.
// The tokenizer is loaded from the fixture's tokenizer.json (vocab filled in from vocab.txt).
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import type { FileSource } from "../../io/file_source.ts";
import {
  DPRContextEncoderTokenizerFast,
  DPRQuestionEncoderTokenizerFast,
} from "../../tokenizer/mod.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const golden = JSON.parse(await Deno.readTextFile(new URL("golden/tokenizer_fast.json", FIXTURES)));
const vocabLines = (await Deno.readTextFile(new URL("tokenizer/vocab.txt", FIXTURES)))
  .split("\n").slice(0, -1);

/** An in-memory folder holding only a tokenizer.json. */
function tokenizerJsonSource(): FileSource {
  const json = structuredClone(golden.tokenizer_json);
  json.model.vocab = Object.fromEntries(vocabLines.map((token, id) => [token, id]));
  const bytes = new TextEncoder().encode(JSON.stringify(json));
  return {
    description: "memory:tokenizer_fast",
    readFile: (name: string) => Promise.resolve(name === "tokenizer.json" ? bytes : null),
  };
}

interface FastCase {
  id: string;
  text: string;
  text_pair?: string;
  tokens: string[];
  input_ids: number[];
  token_type_ids: number[];
  offsets: [number, number][];
  offsets_utf16: [number, number][];
}

for (const Tokenizer of [DPRQuestionEncoderTokenizerFast, DPRContextEncoderTokenizerFast]) {
  Deno.test(`${Tokenizer.name} replays every tokenizer_fast.json case`, async () => {
    const tokenizer = await Tokenizer.fromPretrained(tokenizerJsonSource());
    const cases = golden.cases as FastCase[];
    assertEquals(cases.length, 56);
    for (const c of cases) {
      for (const unit of ["codepoint", "utf16"] as const) {
        const result = tokenizer.encode(c.text, {
          textPair: c.text_pair,
          returnOffsetsMapping: true,
          offsetsUnit: unit,
        });
        assertEquals(tokenizer.convertIdsToTokens(result.inputIds), c.tokens, c.id);
        assertEquals(result.inputIds, c.input_ids, c.id);
        assertEquals(result.tokenTypeIds, c.token_type_ids, c.id);
        assertEquals(
          result.offsetMapping,
          unit === "codepoint" ? c.offsets : c.offsets_utf16,
          `${c.id} (${unit})`,
        );
      }
    }
  });
}

Deno.test("UTF-16 offsets slice the original text (astral characters included)", async () => {
  const tokenizer = await DPRQuestionEncoderTokenizerFast.fromPretrained(tokenizerJsonSource());
  const text = "Ὀδύσσεια? 🤔 café e\u0301te\u0301 東京 🇬🇷!";
  const result = tokenizer.encode(text, { returnOffsetsMapping: true, addSpecialTokens: false });
  const pieces = result.offsetMapping!.map(([start, end]) => text.slice(start, end));
  assertEquals(pieces, [
    "Ὀ",
    "δ",
    "ύ",
    "σ",
    "σ",
    "ε",
    "ια",
    "?",
    "🤔",
    "café",
    "e\u0301t",
    "e",
    "東",
    "京",
    "🇬🇷",
    "!",
  ]);
});
