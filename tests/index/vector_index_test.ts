import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { passageFields, type VectorIndex } from "../../index/vector_index.ts";

const v = (...xs: number[]) => new Float32Array(xs);

Deno.test("DenseIndex as a VectorIndex: upsert twice leaves one row per id, replaced in place", async () => {
  const index: VectorIndex = new DenseIndex(2);
  await index.upsert({
    ids: ["a", "b"],
    vectors: [v(1, 0), v(0, 1)],
    metadata: [{ title: "A", text: "first" }, { title: "B", text: "second" }],
  });
  // The same batch again, plus a new row and a changed one: a re-run job.
  await index.upsert({
    ids: ["c", "a", "b"],
    vectors: v(1, 1, -1, 0, 0, 1),
    metadata: [{ title: "C", text: "third" }, { title: "A2", text: "first again" }, {
      title: "B",
      text: "second",
    }],
  });
  assert.equal(await index.count(), 3);
  assert.deepEqual(await index.passages(["a", "zzz", "c"]), [
    { id: "a", title: "A2", text: "first again" },
    null,
    { id: "c", title: "C", text: "third" },
  ]);
  const [hits] = await index.search([v(1, 0)], 3);
  // a's vector is now (-1, 0): it ranks last; rows keep their first insertion order.
  assert.deepEqual(hits!.map((h) => [h.id, h.score, h.row]), [["c", 1, 2], ["b", 0, 1], [
    "a",
    -1,
    0,
  ]]);
  await index.close();
});

Deno.test("DenseIndex.upsert: a bad row changes nothing", async () => {
  const index = new DenseIndex(2);
  await index.upsert({ ids: ["a"], vectors: [v(1, 0)] });
  await assert.rejects(
    index.upsert({ ids: ["a", "b"], vectors: [v(2, 0), v(NaN, 0)] }),
    /\(id "b"\) holds NaN/,
  );
  await assert.rejects(
    index.upsert({ ids: ["a", "a"], vectors: [v(2, 0), v(3, 0)] }),
    /duplicate id "a"/,
  );
  await assert.rejects(
    index.upsert({ ids: ["a"], vectors: v(1, 2, 3) }),
    /3 values are not rows of dimension 2/,
  );
  assert.equal(index.size, 1);
  assert.deepEqual(Array.from(index.vector(0)), [1, 0]);
});

Deno.test("passageFields: title and text of object metadata, empty otherwise", () => {
  assert.deepEqual(passageFields({ title: "T", text: "x", other: 1 }), { title: "T", text: "x" });
  assert.deepEqual(passageFields({ title: 3 }), { title: "", text: "" });
  assert.deepEqual(passageFields(null), { title: "", text: "" });
  assert.deepEqual(passageFields(["a"]), { title: "", text: "" });
});
