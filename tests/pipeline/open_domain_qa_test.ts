// The whole pipeline with the tiny fixture models: index generated passages with a sharded job,
// retrieve, answer; everything is checked against a direct computation from the models' outputs.
import assert from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { DenseIndex } from "../../index/dense_index.ts";
import { tokenizePassage } from "../../pipeline/dense_encoder.ts";
import {
  type DprEncoderAdapter,
  DprReaderAdapter,
  loadDenseEncoder,
  loadPassageReader,
  modelSubfolder,
} from "../../pipeline/dpr_models.ts";
import { mergeShards, runEncodeJob } from "../../pipeline/encode_passages.ts";
import { OpenDomainQA } from "../../pipeline/open_domain_qa.ts";
import { decodeBestSpans } from "../../tokenizer/decode_best_spans.ts";

const MODELS = new URL("../fixtures/models", import.meta.url).pathname;

const SUBJECTS = ["The river", "A castle", "The violin", "An engine", "The comet", "Our harbor"];
const VERBS = ["was built", "was found", "was painted", "moved", "was named"];
const PLACES = ["near the old mill", "in Paris", "by the sea", "under a bridge", "in 1901"];

function passagesTsv(n: number): string {
  let out = "id\ttext\ttitle\n";
  for (let i = 0; i < n; i++) {
    const text = `${SUBJECTS[i % 6]} ${VERBS[(i * 7) % 5]} ${PLACES[(i * 3) % 5]}, ` +
      `and it is number ${i}. ${i % 4 === 0 ? 'People say it\'s "famous".' : ""}`;
    out += `doc${i}\t"${text.replaceAll('"', '""')}"\tTopic ${i % 11}\n`;
  }
  return out;
}

/** Pooled output of one unpadded input, straight from the model. */
async function embedAlone(enc: DprEncoderAdapter, ids: number[], types: number[]) {
  const out = enc.model.forward({ inputIds: [ids], tokenTypeIds: [types] });
  const v = (await out.poolerOutput.data()) as Float32Array;
  out.poolerOutput.dispose();
  return v;
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i]! - b[i]!) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

Deno.test("OpenDomainQA with the tiny models: index, retrieve, answer equal a direct computation", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const ctx = await loadDenseEncoder("context", { models: MODELS });
    const question = await loadDenseEncoder("question", { models: MODELS });
    const reader = await loadPassageReader({ models: MODELS });
    const tensorsAfterLoading = tf.memory().numTensors;
    await Deno.writeTextFile(`${dir}/p.tsv`, passagesTsv(240));
    for (const shard of [0, 1]) {
      await runEncodeJob({
        passages: `${dir}/p.tsv`,
        outDir: `${dir}/idx`,
        encoder: ctx,
        shardId: shard,
        numShards: 2,
        chunkSize: 50,
        batchSize: 16,
        progress: false,
      });
    }
    await mergeShards(`${dir}/idx`);
    const index = await DenseIndex.load(`${dir}/idx`);
    assert.equal(index.size, 240);
    assert.equal(index.dim, 32);

    // Every stored vector is the passage encoded alone (no padding), all-zero token types.
    for (const row of [0, 1, 57, 123, 239]) {
      const meta = index.metadata(row) as { title: string; text: string };
      const enc = tokenizePassage(ctx, meta.title, meta.text);
      assert.ok(enc.tokenTypeIds.every((t) => t === 0));
      close(
        index.vector(row),
        await embedAlone(ctx, enc.inputIds, enc.tokenTypeIds),
        1e-5,
        `row ${row}`,
      );
    }

    const qa = new OpenDomainQA({ questionEncoder: question, index, reader });
    const questions = ["Where was the castle built?", "who painted the violin", "comet in 1901"];
    // Concurrent calls are batched and each equals the brute-force top-k.
    const retrieved = await Promise.all(questions.map((q) => qa.retrieve(q, 10)));
    const all = index.vectors;
    for (const [qi, q] of questions.entries()) {
      const enc = question.tokenize(q);
      const qv = await embedAlone(question, enc.inputIds, enc.tokenTypeIds);
      const scores: Array<[number, number]> = Array.from({ length: index.size }, (_, r) =>
        [
          dot(qv, all.subarray(r * 32, (r + 1) * 32)),
          r,
        ] as [number, number]);
      scores.sort((a, b) => b[0]! - a[0]! || a[1]! - b[1]!);
      assert.deepEqual(retrieved[qi]!.map((p) => p.row), scores.slice(0, 10).map((s) => s[1]));
      close(retrieved[qi]!.map((p) => p.score), scores.slice(0, 10).map((s) => s[0]!), 1e-4, q);
      assert.equal(retrieved[qi]![0]!.id, `doc${retrieved[qi]![0]!.row}`);
    }

    // Answers equal decodeBestSpans on the reader's own logits for the retrieved passages.
    for (const scope of ["text", "hf"] as const) {
      const scoped = new DprReaderAdapter(reader.tokenizer, reader.model, undefined, scope);
      const qaScoped = new OpenDomainQA({ questionEncoder: question, index, reader: scoped });
      const q = questions[0]!;
      const answers = await qaScoped.answer(q, { topK: 6, numSpans: 5, maxAnswerLength: 6 });
      const passages = retrieved[0]!.slice(0, 6);
      const input = reader.tokenizer.encode({
        questions: q,
        titles: passages.map((p) => p.title),
        texts: passages.map((p) => p.text),
      }, { padding: true, truncation: true, maxLength: 64, returnOffsetsMapping: true });
      const out = reader.model.forward({
        inputIds: input.inputIds,
        attentionMask: input.attentionMask,
      });
      const expected = decodeBestSpans(reader.tokenizer, input, {
        startLogits: out.startLogits.arraySync(),
        endLogits: out.endLogits.arraySync(),
        relevanceLogits: out.relevanceLogits.arraySync(),
      }, {
        numSpans: 5,
        maxAnswerLength: 6,
        numSpansPerPassage: 4,
        answerSearch: scope === "text" ? "passage" : "hf",
      });
      tf.dispose([out.startLogits, out.endLogits, out.relevanceLogits]);
      assert.equal(answers.length, expected.length);
      for (const [i, a] of answers.entries()) {
        const e = expected[i]!;
        assert.equal(a.passageId, passages[e.docId]!.id);
        assert.equal(a.passageRank, e.docId);
        assert.equal(a.decodedText, e.text);
        assert.ok(Math.abs(a.score - e.spanScore) < 1e-5);
        assert.ok(Math.abs(a.relevanceScore - e.relevanceScore) < 1e-5);
        assert.equal(a.start, e.passageCharStart);
        assert.equal(a.end, e.passageCharEnd);
        if (a.start !== null) {
          assert.equal(a.text, a.passageText.slice(a.start, a.end!));
          assert.equal(a.passageText, passages[e.docId]!.text);
        }
      }
      if (scope === "text") assert.ok(answers.every((a) => a.start !== null && a.text !== ""));
    }
    await assert.rejects(() => qa.retrieve("   ", 3), /empty/);
    // Nothing leaks: only the models' weights stay allocated.
    assert.equal(tf.memory().numTensors, tensorsAfterLoading);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("modelSubfolder: exact names first, then a unique folder containing the hint", async () => {
  assert.match(modelSubfolder(MODELS, "question"), /dpr-question_encoder-tiny$/);
  assert.match(modelSubfolder(MODELS, "context"), /dpr-ctx_encoder-tiny$/);
  assert.match(modelSubfolder(MODELS, "reader"), /dpr-reader-tiny$/);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/reader`);
    await Deno.mkdir(`${dir}/old_reader`);
    assert.equal(modelSubfolder(dir, "reader"), `${dir}/reader`);
    assert.throws(
      () => modelSubfolder(dir, "question"),
      /expected a subfolder named question_encoder/,
    );
    assert.throws(() => modelSubfolder(`${dir}/nope`, "reader"), /Cannot find models/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("OpenDomainQA models: dtype for all three or per model; an unknown one is refused", async () => {
  const { heldQuantized } = await import("../../layers/held_weight.ts");
  const isInt8 = (enc: DprEncoderAdapter) =>
    heldQuantized(enc.model.encoder.layer[0]!.intermediate.denseKernel)?.weight.layout;
  const perModel = await loadDenseEncoder("question", {
    models: MODELS,
    dtype: { questionEncoder: "int8", reader: "float16" },
  });
  const context = await loadDenseEncoder("context", {
    models: MODELS,
    dtype: { questionEncoder: "int8" },
  });
  const reader = await loadPassageReader({ models: MODELS, dtype: "float16" });
  try {
    assert.equal(isInt8(perModel), "int8");
    assert.equal(isInt8(context), undefined, "an unnamed model stays float32");
    const held = heldQuantized(reader.model.encoder.encoder.layer[0]!.intermediate.denseKernel);
    assert.equal(held?.weight.layout, "float16");
  } finally {
    perModel.dispose();
    context.dispose();
    reader.dispose();
  }
  await assert.rejects(
    // @ts-expect-error: an unknown dtype is refused at run time too
    loadDenseEncoder("question", { models: MODELS, dtype: { questionEncoder: "int4" } }),
    /questionEncoder with dtype "int4"/,
  );
  // Refused before anything is read: a models folder that does not exist is never looked at.
  await assert.rejects(
    // @ts-expect-error: an unknown dtype is refused at run time too
    loadPassageReader({ models: `${MODELS}/does-not-exist`, dtype: "int4" }),
    /reader with dtype "int4"/,
  );
});
