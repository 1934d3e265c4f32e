import assert from "node:assert/strict";
import { TopK } from "../../index/top_k.ts";
import { seeded } from "../seeded.ts";

Deno.test("TopK: equals a full sort by (score desc, row asc), with many ties, run by run", () => {
  // Scores rounded to a few values so that ties straddle every cut.
  const scores = seeded(5000, 9).map((x) => Math.round(x * 20) / 4);
  for (const k of [1, 3, 17, 100, 4999, 5000]) {
    const top = new TopK(k);
    // Uneven runs, rows increasing over all of them, as blocks of a search give them.
    for (let start = 0, run = 1; start < scores.length; start += run, run = run * 2 + 1) {
      const count = Math.min(run, scores.length - start);
      top.scan(scores, start, count, start);
    }
    const expected = Array.from(scores, (s, row) => [s, row] as const)
      .sort((a, b) => b[0] - a[0] || a[1] - b[1]).slice(0, k);
    const { scores: s, rows } = top.sorted();
    assert.deepEqual(Array.from(rows), expected.map(([, row]) => row), `k=${k}`);
    assert.deepEqual(Array.from(s), expected.map(([score]) => score));
  }
});

Deno.test("TopK: keeps negative and -Infinity scores while not full", () => {
  const top = new TopK(3);
  top.scan(new Float32Array([-Infinity, -5, -Infinity, -7]), 0, 4, 10);
  assert.deepEqual(Array.from(top.sorted().rows), [11, 13, 10]);
  assert.equal(top.size, 3);
});

Deno.test("TopK: strided runs (a column of a [rows, nq] score matrix) select the same rows", () => {
  const nq = 3, rows = 400;
  const scores = seeded(rows * nq, 4).map((x) => Math.round(x * 8));
  for (let i = 0; i < nq; i++) {
    const strided = new TopK(25), flat = new TopK(25);
    strided.scan(scores, i, 150, 0, nq);
    strided.scan(scores, 150 * nq + i, rows - 150, 150, nq);
    const column = Float32Array.from({ length: rows }, (_, r) => scores[r * nq + i]!);
    flat.scan(column, 0, rows, 0);
    assert.deepEqual(strided.sorted(), flat.sorted());
  }
});
