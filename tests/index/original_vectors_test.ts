import assert from "node:assert/strict";
import { DenseIndex } from "../../index/dense_index.ts";
import { encodeNpy, npyHeader } from "../../index/npy.ts";
import { OriginalVectors } from "../../index/original_vectors.ts";
import { type FileSource, LocalFolderSource } from "../../io/file_source.ts";

function randomFlat(size: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: size }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

const N = 300, DIM = 8;
const data = randomFlat(N * DIM, 3);

async function savedIndex(run: (dir: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "dpr-originals-test-" });
  try {
    const index = new DenseIndex(DIM, { storage: "int8", keepOriginals: true });
    index.add(Array.from({ length: N }, (_, i) => `p${i}`), data);
    await index.save(`${root}/index`);
    await run(`${root}/index`);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

Deno.test("OriginalVectors: the saved file is numpy's (n, d) float32 matrix of the added rows", async () => {
  await savedIndex(async (dir) => {
    const bytes = await Deno.readFile(`${dir}/originals.npy`);
    assert.deepEqual(bytes, encodeNpy(data, N, DIM));
  });
});

Deno.test("OriginalVectors: a missing, truncated or mismatched originals file is refused", async () => {
  const cases: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
    ["missing", (dir) => Deno.remove(`${dir}/originals.npy`), /originals\.npy .*is missing/],
    [
      "truncated",
      async (dir) => await Deno.truncate(`${dir}/originals.npy`, 128 + N * DIM * 4 - 5),
      new RegExp(
        `originals\\.npy: shape \\(${N}, ${DIM}\\) needs ${
          128 + N * DIM * 4
        } bytes but the file has ${128 + N * DIM * 4 - 5} \\(truncated\\)`,
      ),
    ],
    [
      "header only",
      async (dir) => await Deno.truncate(`${dir}/originals.npy`, 6),
      /originals\.npy has 6 bytes, too few for an \.npy header \(truncated\)/,
    ],
    [
      "fewer rows",
      (dir) =>
        Deno.writeFile(
          `${dir}/originals.npy`,
          encodeNpy(data.subarray(0, (N - 1) * DIM), N - 1, DIM),
        ),
      new RegExp(
        `originals\\.npy \\(the float32 originals\\) has shape \\(${
          N - 1
        }, ${DIM}\\) but index\\.json says \\(${N}, ${DIM}\\)`,
      ),
    ],
    [
      "another dimension",
      (dir) =>
        Deno.writeFile(
          `${dir}/originals.npy`,
          encodeNpy(data.subarray(0, N * DIM / 2), N, DIM / 2),
        ),
      new RegExp(`has shape \\(${N}, ${DIM / 2}\\) but index\\.json says \\(${N}, ${DIM}\\)`),
    ],
    [
      "float16",
      async (dir) => {
        const header = npyHeader(N, DIM, "<f2");
        const bytes = new Uint8Array(header.length + N * DIM * 2);
        bytes.set(header);
        await Deno.writeFile(`${dir}/originals.npy`, bytes);
      },
      /originals\.npy: dtype must be '<f4'.*received '<f2'/,
    ],
    [
      "a path for a name",
      async (dir) => {
        const manifest = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
        manifest.files.originals = "../originals.npy";
        await Deno.writeTextFile(`${dir}/index.json`, JSON.stringify(manifest));
      },
      /files\.originals must be a plain file name/,
    ],
    [
      "float32 vectors",
      async (dir) => {
        const manifest = JSON.parse(await Deno.readTextFile(`${dir}/index.json`));
        await Deno.writeTextFile(
          `${dir}/index.json`,
          JSON.stringify({ ...manifest, dtype: "float32", version: 1 }),
        );
        await Deno.writeFile(`${dir}/vectors.npy`, encodeNpy(data, N, DIM));
      },
      /originals are kept for float16 or int8 only/,
    ],
  ];
  for (const [what, spoil, message] of cases) {
    await savedIndex(async (dir) => {
      await spoil(dir);
      // A refused load leaves no file open (the test's resource sanitizer checks it).
      await assert.rejects(DenseIndex.load(dir), (error: Error) => {
        assert.match(error.message, message, what);
        assert.ok(error.message.includes(dir), `${what}: names the folder: ${error.message}`);
        return true;
      });
    });
  }
});

Deno.test("OriginalVectors: rows read in runs across read boundaries, from memory and by reader", async () => {
  // Rows of 256 KiB: four to a read, so runs are split and joined at every boundary.
  const dim = 65536, n = 14;
  const rows = randomFlat(n * dim, 5);
  const root = await Deno.makeTempDir({ prefix: "dpr-originals-runs-" });
  try {
    await Deno.writeFile(`${root}/originals.npy`, encodeNpy(rows, n, dim));
    const local = new LocalFolderSource(root);
    // A source whose reader only reads asynchronously (as one over http does).
    const asyncOnly: FileSource = {
      description: root,
      readFile: (name) => local.readFile(name),
      async openReader(name) {
        const reader = await local.openReader(name);
        if (reader === null) return null;
        return {
          description: reader.description,
          size: reader.size,
          read: (offset, length) => reader.read(offset, length),
          close: () => reader.close(),
        };
      },
    };
    for (const source of [local, asyncOnly]) {
      const originals = await OriginalVectors.open(source, "originals.npy", n, dim);
      try {
        assert.equal(originals.onDisk, true);
        assert.equal(originals.memoryBytes, 0);
        originals.setRow(6, new Float32Array(dim).fill(7));
        originals.append(rows.subarray(0, dim));
        for (
          const wanted of [[0, 1, 2, 3, 4, 5, 6, 7, 8, 13, 14], [1, 3, 4, 9, 10, 11, 12], [14]]
        ) {
          const seen: number[] = [];
          await originals.forEachRow(Int32Array.from(wanted), (at, values) => {
            const row = wanted[at]!;
            seen.push(row);
            const expected = row === 6
              ? new Float32Array(dim).fill(7)
              : rows.subarray((row % n) * dim, (row % n + 1) * dim);
            assert.deepEqual(values, expected, `row ${row}`);
          });
          assert.deepEqual(seen, wanted);
        }
        let total = 0;
        for await (const block of originals.blocks()) total += block.length / dim;
        assert.equal(total, n + 1);
      } finally {
        originals.close();
      }
    }
    const noRanges: FileSource = { description: root, readFile: (name) => local.readFile(name) };
    await assert.rejects(
      OriginalVectors.open(noRanges, "originals.npy", n, dim),
      /read by positions, which this file source cannot do/,
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("OriginalVectors: a file cut short after loading fails searches and saves cleanly", async () => {
  await savedIndex(async (dir) => {
    const root = dir.slice(0, dir.lastIndexOf("/"));
    const other = new DenseIndex(DIM, { storage: "int8" });
    other.add(["x"], data.subarray(0, DIM));
    await other.save(`${root}/other`);
    const before = await Deno.readTextFile(`${root}/other/index.json`);
    await using index = await DenseIndex.load(dir);
    await Deno.truncate(`${dir}/originals.npy`, 128 + 10 * DIM * 4);
    await assert.rejects(
      index.search(data.subarray(0, DIM), 5, { oversample: N }),
      /Cannot read originals\.npy in .*: the file ended at \d+ bytes, before \d+; it is truncated/,
    );
    assert.deepEqual((await index.search(data.subarray(0, DIM), 5, { rescore: false })).length, 1);
    // Nothing half-written: no new folder, the index saved over is whole and untouched.
    await assert.rejects(index.save(`${root}/fresh`), /the file ended/);
    await assert.rejects(index.save(`${root}/other`), /the file ended/);
    assert.deepEqual([...Deno.readDirSync(root)].map((e) => e.name).sort(), ["index", "other"]);
    assert.equal(await Deno.readTextFile(`${root}/other/index.json`), before);
    assert.equal([...Deno.readDirSync(`${root}/other`)].length, 7);
    await using reloaded = await DenseIndex.load(`${root}/other`);
    assert.equal(reloaded.size, 1);
  });
});

Deno.test("DenseIndex.append: float32 folders lend their vectors.npy as the originals", async () => {
  const root = await Deno.makeTempDir({ prefix: "dpr-originals-append-" });
  try {
    const ids = Array.from({ length: N }, (_, i) => `p${i}`);
    const half = N / 2;
    for (const [name, from, to] of [["a", 0, half], ["b", half, N]] as const) {
      const chunk = new DenseIndex(DIM);
      chunk.add(ids.slice(from, to), data.subarray(from * DIM, to * DIM), ids.slice(from, to));
      await chunk.save(`${root}/${name}`);
    }
    const queries = randomFlat(5 * DIM, 9);
    const exact = new DenseIndex(DIM);
    exact.add(ids, data, ids);
    const expected = await exact.search(queries, 10);
    const build = async () => {
      const merged = new DenseIndex(DIM, { storage: "int8", keepOriginals: true });
      for (const name of ["a", "b"]) await merged.append(await DenseIndex.load(`${root}/${name}`));
      return merged;
    };
    const merged = await build();
    assert.equal(merged.size, N);
    assert.deepEqual(merged.ids, ids);
    assert.deepEqual(merged.metadata(7), "p7");
    const found = await merged.search(queries, 10);
    assert.deepEqual(found.map((h) => h.map((x) => x.id)), expected.map((h) => h.map((x) => x.id)));
    await merged.save(`${root}/merged`);
    assert.deepEqual(
      await Deno.readFile(`${root}/merged/originals.npy`),
      encodeNpy(data, N, DIM),
    );
    // Other sources of originals: copied; none: refused.
    const int8 = new DenseIndex(DIM, { storage: "int8", keepOriginals: true });
    await int8.append(merged);
    const inMemory = new DenseIndex(DIM);
    inMemory.add(["x"], data.subarray(0, DIM));
    await int8.append(inMemory);
    assert.equal(int8.size, N + 1);
    assert.deepEqual(rowsOf(await int8.search(queries, 10)), rowsOf(expected));
    const plain = new DenseIndex(DIM, { storage: "int8" });
    plain.add(["y"], data.subarray(0, DIM));
    await assert.rejects(int8.append(plain), /keeps float32 originals, which the int8 index/);
    await assert.rejects(
      int8.append(new DenseIndex(DIM + 1)),
      /dimension 9 to an index of dimension 8/,
    );
    assert.equal(int8.size, N + 1);
    // The rows are read from the folders' files, not held: a file cut short fails the save.
    const cut = await build();
    await Deno.truncate(`${root}/b/vectors.npy`, 200);
    await assert.rejects(cut.save(`${root}/cut`), /vectors\.npy.*\(truncated\)/);
    assert.equal(await Deno.stat(`${root}/cut`).catch(() => null), null);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

function rowsOf(hits: Array<Array<{ row: number }>>): number[][] {
  return hits.map((h) => h.map((x) => x.row));
}

Deno.test("OriginalVectors: an index behind an http URL reads only the candidates' rows", async () => {
  const n = 20_000, dim = 16;
  const rows = randomFlat(n * dim, 11);
  const ids = Array.from({ length: n }, (_, i) => `p${i}`);
  const root = await Deno.makeTempDir({ prefix: "dpr-originals-http-" });
  // A static file server answering `Range: bytes=a-b` with 206, as CDNs do.
  const sent = new Map<string, number>();
  const controller = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: controller.signal, onListen: () => {} },
    async (req) => {
      const name = new URL(req.url).pathname.slice(1);
      let bytes: Uint8Array<ArrayBuffer>;
      try {
        bytes = await Deno.readFile(`${root}/index/${name}`);
      } catch {
        return new Response("no", { status: 404 });
      }
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.get("Range") ?? "");
      const start = range === null ? 0 : Number(range[1]);
      const end = range === null ? bytes.length - 1 : Math.min(Number(range[2]), bytes.length - 1);
      sent.set(name, (sent.get(name) ?? 0) + end + 1 - start);
      if (range === null) return new Response(bytes);
      return new Response(bytes.subarray(start, end + 1), {
        status: 206,
        headers: { "Content-Range": `bytes ${start}-${end}/${bytes.length}` },
      });
    },
  );
  try {
    const index = new DenseIndex(dim, { storage: "int8", keepOriginals: true });
    index.add(ids, rows);
    await index.save(`${root}/index`);
    const exact = new DenseIndex(dim);
    exact.add(ids, rows);
    const queries = randomFlat(3 * dim, 12);
    const { port } = server.addr as Deno.NetAddr;
    await using remote = await DenseIndex.load(`http://127.0.0.1:${port}`);
    assert.equal(remote.keepsOriginals, true);
    const found = await remote.search(queries, 10);
    assert.deepEqual(rowsOf(found), rowsOf(await exact.search(queries, 10)));
    const size = (await Deno.stat(`${root}/index/originals.npy`)).size;
    // The first request's 64 KiB, then a range per candidate run: a small share of the file.
    assert.ok(sent.get("originals.npy")! < size / 8, `${sent.get("originals.npy")} of ${size}`);
  } finally {
    controller.abort();
    await server.finished;
    await Deno.remove(root, { recursive: true });
  }
});
