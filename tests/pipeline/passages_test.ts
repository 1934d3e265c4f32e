import assert from "node:assert/strict";
import { readPassages, splitTsvRecord } from "../../pipeline/passages.ts";

function streamOf(text: string, chunk = 7): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(i, i + chunk));
      i += chunk;
    },
  });
}

async function all<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

Deno.test("splitTsvRecord: Python csv quoting with a tab delimiter", () => {
  assert.deepEqual(splitTsvRecord("1\tplain\tTitle"), ["1", "plain", "Title"]);
  assert.deepEqual(splitTsvRecord('1\t"say ""hi""\tthere"\tT'), ["1", 'say "hi"\tthere', "T"]);
  assert.deepEqual(splitTsvRecord('1\tmid "quote" ok\t'), ["1", 'mid "quote" ok', ""]);
  assert.equal(splitTsvRecord('1\t"open'), null);
});

Deno.test("readPassages: DPR TSV with header, quotes, CRLF, multi-line field, é split over chunks", async () => {
  const tsv = 'id\ttext\ttitle\r\n1\t"Aaron (or ""Ahärôn"") is"\tAaron\r\n' +
    '2\t"two\nlines"\tT2\n3\tcafé\t\n';
  let bytes = 0;
  const got = await all(
    readPassages(streamOf(tsv, 5), { format: "tsv", onBytes: (b) => bytes = b }),
  );
  assert.deepEqual(got, [
    { id: "1", text: 'Aaron (or "Ahärôn") is', title: "Aaron" },
    { id: "2", text: "two\nlines", title: "T2" },
    { id: "3", text: "café", title: "" },
  ]);
  assert.equal(bytes, new TextEncoder().encode(tsv).length);
});

Deno.test("readPassages: column order from the header; JSONL with numeric ids", async () => {
  const got = await all(readPassages(streamOf("title\tid\ttext\nA\t7\tbody\n"), { format: "tsv" }));
  assert.deepEqual(got, [{ id: "7", text: "body", title: "A" }]);
  const jsonl = '{"id": 5, "text": "x", "title": "y"}\n\n{"id": "a", "text": "z"}\n';
  assert.deepEqual(await all(readPassages(streamOf(jsonl), { format: "jsonl" })), [
    { id: "5", text: "x", title: "y" },
    { id: "a", text: "z", title: "" },
  ]);
});

Deno.test("readPassages: errors name the file, the line and the problem", async () => {
  await assert.rejects(
    () => all(readPassages(streamOf("a\tb\n"), { format: "tsv", name: "p.tsv" })),
    /p\.tsv: line 1 must be a header/,
  );
  await assert.rejects(
    () => all(readPassages(streamOf('id\ttext\n1\t"never closed\n'), { format: "tsv" })),
    /line 2: unterminated quoted field/,
  );
  await assert.rejects(
    () => all(readPassages(streamOf("id\ttext\ttitle\n1\n"), { format: "tsv" })),
    /line 2: expected at least 3/,
  );
  await assert.rejects(
    () => all(readPassages(streamOf('{"id": 1}\n'), { format: "jsonl" })),
    /line 1: "text" must be a string/,
  );
  await assert.rejects(
    () => all(readPassages(streamOf("{oops\n"), { format: "jsonl" })),
    SyntaxError,
  );
  await assert.rejects(() => all(readPassages("x.txt")), /unknown format/);
});

Deno.test("readPassages: gzip-compressed file on disk", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const raw = new TextEncoder().encode("id\ttext\ttitle\n1\thello\tH\n");
    const gz = new Uint8Array(
      await new Response(
        new Blob([raw]).stream().pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );
    await Deno.writeFile(`${dir}/p.tsv.gz`, gz);
    assert.deepEqual(await all(readPassages(`${dir}/p.tsv.gz`)), [
      { id: "1", text: "hello", title: "H" },
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readPassages: corrupt gzip and bad UTF-8 name the file; stopping early is clean", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const raw = new TextEncoder().encode("id\ttext\ttitle\n1\thello\tH\n2\tbye\tB\n");
    const gz = new Uint8Array(
      await new Response(
        new Blob([raw]).stream().pipeThrough(new CompressionStream("gzip")),
      ).arrayBuffer(),
    );
    await Deno.writeFile(`${dir}/cut.tsv.gz`, gz.slice(0, gz.length - 6));
    await assert.rejects(all(readPassages(`${dir}/cut.tsv.gz`)), {
      name: "SyntaxError",
      message: /cut\.tsv\.gz: it is not a valid gzip file/,
    });
    await Deno.writeFile(`${dir}/plain.tsv.gz`, raw);
    await assert.rejects(all(readPassages(`${dir}/plain.tsv.gz`)), {
      name: "SyntaxError",
      message: /plain\.tsv\.gz: it is not a valid gzip file/,
    });
    await Deno.writeFile(`${dir}/latin1.tsv`, new Uint8Array([...raw, 0x33, 0x09, 0xe9, 0x0a]));
    await assert.rejects(all(readPassages(`${dir}/latin1.tsv`)), {
      name: "SyntaxError",
      message: /latin1\.tsv: it is not valid UTF-8/,
    });
    // Stopping early cancels the file stream (as a for-await over the stream did).
    const rows = Array.from({ length: 50_000 }, (_, i) => `${i + 1}\tpassage ${i}\tT\n`);
    await Deno.writeTextFile(`${dir}/p.tsv`, "id\ttext\ttitle\n" + rows.join(""));
    for await (const passage of readPassages(`${dir}/p.tsv`)) {
      assert.equal(passage.id, "1");
      break;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
