import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { isPostgresUrl, openIndex } from "../../index/open_index.ts";

Deno.test("isPostgresUrl: postgres:// and postgresql:// only", () => {
  assert.equal(isPostgresUrl("postgres://u@h/db?table=t"), true);
  assert.equal(isPostgresUrl("POSTGRESQL://h/db"), true);
  for (const other of ["my-index", "./postgres", "https://h/index/", "postgres:/x"]) {
    assert.equal(isPostgresUrl(other), false, other);
  }
});

Deno.test("openIndex: a folder opens as a DenseIndex", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const index = new DenseIndex(2);
    index.add(["a"], [new Float32Array([1, 2])], [{ title: "T", text: "x" }]);
    await index.save(`${dir}/idx`);
    const opened = await openIndex(`${dir}/idx`);
    assert.ok(opened instanceof DenseIndex);
    assert.equal(opened.dim, 2);
    assert.equal(await opened.count(), 1);
    await opened.close();
    await assert.rejects(openIndex(""), TypeError);
    await assert.rejects(openIndex(`${dir}/none`), /index\.json is missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
