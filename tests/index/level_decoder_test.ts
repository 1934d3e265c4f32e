import assert from "node:assert/strict";
import { acquireDecoder, LevelDecoder, releaseDecoder } from "../../index/level_decoder.ts";
import { float16Table } from "../../backend/float16_bits.ts";
import { seeded } from "../seeded.ts";

Deno.test("LevelDecoder: table[code] for bytes, every finite half, any length, tables switched", () => {
  const decoder = LevelDecoder.create();
  assert.ok(decoder !== null, "WebAssembly is available in Deno");
  const levels = Float32Array.from(seeded(256, 1, 5));
  const halves = float16Table();
  // Every half but infinities and NaN (never stored), in a scrambled order, and a tail.
  const finite = Array.from({ length: 65536 }, (_, h) => h).filter((h) => (h & 0x7c00) !== 0x7c00);
  const words = Uint16Array.from({ length: 70_001 }, (_, i) => finite[(i * 7919) % finite.length]!);
  for (const n of [0, 1, 3, 4, 5, 1027, 70_001]) {
    const bytes = Uint8Array.from(seeded(n, n + 3), (x) => Math.floor((x + 1) * 127.5));
    assert.deepEqual(decoder.decode(bytes, levels), Float32Array.from(bytes, (b) => levels[b]!));
    const w = words.subarray(0, n);
    assert.deepEqual(decoder.decode(w, halves), Float32Array.from(w, (h) => halves[h]!));
  }
  // A table changed for another (same length) is read again.
  const other = levels.map((x) => -x);
  const codes = new Uint8Array([0, 255, 7]);
  assert.deepEqual(decoder.decode(codes, other), Float32Array.from(codes, (b) => other[b]!));
});

Deno.test("LevelDecoder: each search holds its own decoder", () => {
  const a = acquireDecoder(), b = acquireDecoder();
  assert.ok(a !== null && b !== null && a !== b);
  const table = Float32Array.from({ length: 256 }, (_, i) => i);
  const first = a.decode(new Uint8Array([1, 2]), table);
  b.decode(new Uint8Array([9, 9]), table);
  assert.deepEqual(first, new Float32Array([1, 2]));
  releaseDecoder(a);
  releaseDecoder(b);
  assert.ok([a, b].includes(acquireDecoder()!));
});

Deno.test("LevelDecoder: one query's products straight from bytes and halves", () => {
  const decoder = LevelDecoder.create()!;
  const dim = 16, rows = 37;
  const query = seeded(dim, 5, 2);
  const levels = Float32Array.from(seeded(256, 6, 3));
  const bytes = Uint8Array.from(seeded(rows * dim, 7), (x) => Math.floor((x + 1) * 127.5));
  const halves = float16Table();
  const words = Uint16Array.from(seeded(rows * dim, 8), (x) => Math.floor((x + 1) * 7000));
  for (const [codes, table] of [[bytes, levels], [words, halves]] as const) {
    const got = decoder.dot(codes, table, query);
    assert.equal(got.length, rows);
    for (let r = 0; r < rows; r++) {
      let want = 0;
      for (let j = 0; j < dim; j++) want += table[codes[r * dim + j]!]! * query[j]!;
      assert.ok(Math.abs(got[r]! - want) <= 1e-5 * (1 + Math.abs(want)), `row ${r}`);
    }
  }
});
