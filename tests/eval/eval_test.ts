import assert from "node:assert/strict";
import { exactMatch, hasAnswer, normalizeAnswer, simpleTokens } from "../../eval/answer_match.ts";
import { parseAnswerList, parseQaFile } from "../../eval/qa_file.ts";
import { exactMatchRate, retrievalAccuracy } from "../../eval/retrieval_accuracy.ts";

Deno.test("simpleTokens: letter/digit/mark runs and single other characters", () => {
  assert.deepEqual(simpleTokens("U.S. $5,000 don't"), [
    "u",
    ".",
    "s",
    ".",
    "$",
    "5",
    ",",
    "000",
    "don",
    "'",
    "t",
  ]);
  // NFD keeps the combining accent inside the word token.
  assert.deepEqual(simpleTokens("Röntgen".normalize("NFD")), ["ro\u0308ntgen"]);
});

Deno.test("hasAnswer string mode: token sequences, case, NFD, no partial words", () => {
  const text = "Wilhelm Conrad Röntgen won the first Nobel Prize in Physics in 1901.";
  assert.ok(hasAnswer(["wilhelm conrad röntgen"], text));
  assert.ok(hasAnswer(["Ro\u0308ntgen"], text)); // decomposed vs composed input
  assert.ok(hasAnswer(["nobel prize"], text));
  assert.ok(hasAnswer(["1901"], text));
  assert.ok(!hasAnswer(["190"], text)); // tokens must match whole
  assert.ok(!hasAnswer(["prize nobel"], text));
  assert.ok(!hasAnswer(["Einstein", "Curie"], text));
  assert.ok(hasAnswer(["   "], text)); // DPR: an answer without tokens matches
  assert.ok(hasAnswer(["1901."], text)); // the final period is a token of its own
  assert.ok(!hasAnswer(["physics."], text));
});

Deno.test("hasAnswer regex mode: case-insensitive search, bad patterns match nothing", () => {
  const text = "The bridge opened in 1932 and cost $13.5 million.";
  assert.ok(hasAnswer(["19[0-9]{2}"], text, "regex"));
  assert.ok(hasAnswer(["BRIDGE"], text, "regex"));
  assert.ok(!hasAnswer(["^cost"], text, "regex"));
  assert.ok(!hasAnswer(["(unclosed"], text, "regex"));
  assert.throws(() => hasAnswer(["x"], text, "bogus" as "string"), RangeError);
});

Deno.test("normalizeAnswer / exactMatch: SQuAD rules", () => {
  assert.equal(normalizeAnswer("  The  Eiffel-Tower! "), "eiffeltower");
  assert.equal(normalizeAnswer("an apple a day"), "apple day");
  assert.equal(normalizeAnswer("Theatre"), "theatre"); // "the" only as a word
  assert.ok(exactMatch("the Nile", ["Nile River", "nile"]));
  assert.ok(!exactMatch("Nile River delta", ["Nile River"]));
  assert.equal(exactMatchRate(["a Nile", "x"], [["nile"], ["y"]]), 0.5);
});

Deno.test("parseAnswerList: Python and JSON list literals", () => {
  assert.deepEqual(parseAnswerList("['Wilhelm Conrad Röntgen']"), ["Wilhelm Conrad Röntgen"]);
  assert.deepEqual(parseAnswerList(`["it's", 'say "x"', 'a\\'b', u'\\u00e9']`), [
    "it's",
    'say "x"',
    "a'b",
    "é",
  ]);
  assert.deepEqual(parseAnswerList("[]"), []);
  assert.deepEqual(parseAnswerList("['a',]"), ["a"]);
  assert.throws(() => parseAnswerList("'a'"), SyntaxError);
  assert.throws(() => parseAnswerList("['a' 'b']"), /expected , or \]/);
  assert.throws(() => parseAnswerList("['a'"), SyntaxError);
});

Deno.test("parseQaFile: DPR's csv-quoted TSV lines and JSONL", () => {
  const text = "who wrote it\t['Ann', 'Bo']\n" +
    '"a ""quoted"" question"\t"[\'say ""x""\']"\n\n';
  assert.deepEqual(parseQaFile(text, "q.csv"), [
    { question: "who wrote it", answers: ["Ann", "Bo"] },
    { question: 'a "quoted" question', answers: ['say "x"'] },
  ]);
  assert.throws(() => parseQaFile("no tab here\n", "q.csv"), /q\.csv: line 1 .*no tab/);
  assert.throws(() => parseQaFile("q\tnot a list\n", "q.csv"), /q\.csv: line 1/);
  assert.deepEqual(parseQaFile('{"question": "q", "answers": ["a"]}\n', "q.jsonl"), [
    { question: "q", answers: ["a"] },
  ]);
  assert.throws(() => parseQaFile('{"question": 1}\n', "q.jsonl"), TypeError);
});

Deno.test("retrievalAccuracy: first-hit ranks and top-k shares", () => {
  const acc = retrievalAccuracy(
    [["paris"], ["rome"], ["oslo"]],
    [["x", "Paris is big"], ["Rome"], ["a", "b", "c"]],
    [1, 2, 100],
  );
  assert.deepEqual(acc.firstHit, [1, 0, -1]);
  assert.deepEqual(acc.topK, { 1: 1 / 3, 2: 2 / 3, 100: 2 / 3 });
  assert.throws(() => retrievalAccuracy([["a"]], [], [1]), RangeError);
});

Deno.test("parseQaFile: DPR's retriever .json list (extra keys ignored), and its errors", () => {
  const text = JSON.stringify([
    { question: "who sang?", answers: ["Haddaway"], positive_ctxs: [{ title: "x", text: "y" }] },
    { question: "when?", answers: ["1993", "in 1993"] },
  ]);
  assert.deepEqual(parseQaFile(text, "nq-dev.json"), [
    { question: "who sang?", answers: ["Haddaway"] },
    { question: "when?", answers: ["1993", "in 1993"] },
  ]);
  assert.throws(() => parseQaFile('{"question": "q"}', "a.json"), {
    name: "TypeError",
    message: /a\.json: a \.json QA file must hold a list/,
  });
  assert.throws(() => parseQaFile('[{"question": "q", "answers": "a"}]', "a.json"), {
    name: "TypeError",
    message: /item 0 must be/,
  });
  assert.throws(() => parseQaFile("[", "a.json"), { name: "SyntaxError" });
});
