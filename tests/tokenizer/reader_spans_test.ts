// DPRReaderTokenizer extras: answers limited to the passage text (answerSearch: "passage"), and
// each span's character range in the original passage text (from a Fast encode with offsets).
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { DPRReaderTokenizerFast, type ReaderEncoding } from "../../tokenizer/mod.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const vocabText = await Deno.readTextFile(new URL("tokenizer/vocab.txt", FIXTURES));
const tokenizer = new DPRReaderTokenizerFast(vocabText);

const titles = ["Haddaway", "Love"];
const texts = ["🎵 'What Is Love' (1993) by HADDAWAY, the Trinidadian-German singer.", "Love."];

/** Logits that prefer `[start, end]` (score 10) and then `[start2, end2]` (score 6) in row 0. */
function logits(encoded: ReaderEncoding, spans: [number, number][]) {
  const width = encoded.inputIds[0]!.length;
  const start = encoded.inputIds.map(() => new Array<number>(width).fill(0));
  const end = encoded.inputIds.map(() => new Array<number>(width).fill(0));
  spans.forEach(([s, e], k) => {
    start[0]![s] = 5 - 2 * k;
    end[0]![e] = 5 - 2 * k;
  });
  return { startLogits: start, endLogits: end, relevanceLogits: [1, 0] };
}

function indexOf(row: number[], token: string, from = 0): number {
  const tokens = tokenizer.convertIdsToTokens(row);
  return tokens.indexOf(token, from);
}

for (const unit of ["utf16", "codepoint"] as const) {
  Deno.test(`answer spans carry their range in the passage text (${unit} offsets)`, () => {
    const encoded = tokenizer.encode({ questions: "Who sang it?", titles, texts }, {
      padding: true,
      returnOffsetsMapping: true,
      offsetsUnit: unit,
    });
    const row = encoded.inputIds[0]!;
    const passage = encoded.passageStarts[0]!;
    assertEquals(row[passage - 1], tokenizer.sepTokenId);
    // "had ##da ##way" in the title (before passage) and again in the text.
    const titleStart = indexOf(row, "had");
    const textStart = indexOf(row, "had", passage);
    const output = logits(encoded, [[titleStart, titleStart + 2], [textStart, textStart + 2]]);

    const hf = tokenizer.decodeBestSpans(encoded, output, { numSpans: 2, numSpansPerPassage: 2 });
    assertEquals(hf[0]!.startIndex, titleStart);
    assertEquals(hf[0]!.text, "haddaway");
    assertEquals(hf[0]!.passageCharStart, null); // a title span has no passage range
    assertEquals(hf[1]!.startIndex, textStart);

    const spans = tokenizer.decodeBestSpans(encoded, output, {
      numSpans: 1,
      answerSearch: "passage",
    });
    assertEquals(spans.length, 1);
    const span = spans[0]!;
    assertEquals([span.docId, span.startIndex, span.endIndex], [0, textStart, textStart + 2]);
    assertEquals(span.text, "haddaway");
    const original = unit === "utf16"
      ? texts[0]!.slice(span.passageCharStart!, span.passageCharEnd!)
      : [...texts[0]!].slice(span.passageCharStart!, span.passageCharEnd!).join("");
    assertEquals(original, "HADDAWAY");
    // The emoji is one code point but two UTF-16 units.
    assertEquals(span.passageCharStart, unit === "utf16" ? 28 : 27);
  });
}

Deno.test("answerSearch passage finds the text without offsets too", () => {
  const encoded = tokenizer.encode({ questions: "Who?", titles, texts }, { padding: true });
  const plain = { inputIds: encoded.inputIds };
  const row = encoded.inputIds[0]!;
  const titleStart = indexOf(row, "had");
  const output = logits(encoded, [[titleStart, titleStart + 2]]);
  const withStarts = tokenizer.decodeBestSpans(encoded, output, { answerSearch: "passage" });
  const withoutStarts = tokenizer.decodeBestSpans(plain, output, { answerSearch: "passage" });
  assertEquals(withStarts, withoutStarts);
  for (const span of withStarts) {
    assertEquals(span.startIndex >= encoded.passageStarts[span.docId]!, true);
  }
});
