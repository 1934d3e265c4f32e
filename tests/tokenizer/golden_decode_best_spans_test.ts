// Replays every case of tests/fixtures/golden/decode_best_spans.json (Hugging Face
// DPRReaderTokenizer.decode_best_spans): scores in float32, order from stable sorts, texts.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { DPRReaderTokenizer } from "../../tokenizer/mod.ts";

const FIXTURES = new URL("../fixtures/", import.meta.url);
const golden = JSON.parse(
  await Deno.readTextFile(new URL("golden/decode_best_spans.json", FIXTURES)),
);
const fullVocab = await Deno.readTextFile(new URL("tokenizer/vocab.txt", FIXTURES));

interface Tensor {
  shape: number[];
  data: number[];
}

function rows(t: Tensor): number[][] {
  const [n, width] = t.shape as [number, number];
  return Array.from({ length: n }, (_, i) => t.data.slice(i * width, (i + 1) * width));
}

async function tokenizerFor(dir: string | null): Promise<DPRReaderTokenizer> {
  if (dir === null) return new DPRReaderTokenizer(fullVocab);
  return await DPRReaderTokenizer.fromPretrained(new URL(dir, FIXTURES).pathname);
}

Deno.test("decodeBestSpans replays every decode_best_spans.json case (arrays)", async () => {
  let count = 0;
  for (const group of golden.groups) {
    const tokenizer = await tokenizerFor(group.tokenizer_dir);
    const out = group.reader_output;
    for (const c of group.cases) {
      const spans = tokenizer.decodeBestSpans(
        { inputIds: group.reader_input.input_ids },
        {
          startLogits: rows(out.start_logits),
          endLogits: rows(out.end_logits),
          relevanceLogits: out.relevance_logits.data,
        },
        {
          numSpans: c.params.num_spans,
          maxAnswerLength: c.params.max_answer_length,
          numSpansPerPassage: c.params.num_spans_per_passage,
        },
      );
      const got = spans.map((s) => ({
        span_score: s.spanScore,
        relevance_score: s.relevanceScore,
        doc_id: s.docId,
        start_index: s.startIndex,
        end_index: s.endIndex,
        text: s.text,
      }));
      const expected = c.expected.map((e: Record<string, number | string>) => ({
        ...e,
        span_score: Math.fround(e.span_score as number),
        relevance_score: Math.fround(e.relevance_score as number),
      }));
      assertEquals(got, expected, `${group.name} ${JSON.stringify(c.params)}`);
      count++;
    }
  }
  assertEquals(count, 61);
});

Deno.test("decodeBestSpans accepts tfjs tensors", async () => {
  const group = golden.groups[0];
  const tokenizer = await tokenizerFor(group.tokenizer_dir);
  const out = group.reader_output;
  const start = tf.tensor2d(out.start_logits.data, out.start_logits.shape);
  const end = tf.tensor2d(out.end_logits.data, out.end_logits.shape);
  const relevance = tf.tensor1d(out.relevance_logits.data);
  const ids = tf.tensor2d(group.reader_input.input_ids, undefined, "int32");
  const spans = tokenizer.decodeBestSpans(
    { inputIds: ids },
    { startLogits: start, endLogits: end, relevanceLogits: relevance },
  );
  tf.dispose([start, end, relevance, ids]);
  assertEquals(
    spans.map((s) => [s.docId, s.startIndex, s.endIndex, s.text]),
    group.cases[0]
      .expected.map((e: Record<string, unknown>) => [e.doc_id, e.start_index, e.end_index, e.text]),
  );
});
