import assert from "node:assert/strict";
import { openFileReader } from "../../io/byte_reader.ts";
import { readPytorchCheckpoint } from "../../io/pytorch_pickle.ts";
import { readSafetensors } from "../../io/safetensors.ts";
import { unpickle } from "../../io/pickle.ts";
import { crc32 } from "../../io/zip_reader.ts";
import { concat, f32, legacyTorchFile, makeZip, PickleBuilder, torchZip } from "./torch_bytes.ts";

const FIXTURES = new URL("../fixtures/models/", import.meta.url).pathname;
const NAMES = ["dpr-question_encoder-tiny", "dpr-ctx_encoder-tiny", "dpr-reader-tiny"];

Deno.test("pytorch_model.bin of each fixture equals its model.safetensors exactly", async () => {
  for (const name of NAMES) {
    const reader = await openFileReader(`${FIXTURES}${name}/pytorch_model.bin`);
    const pt = await readPytorchCheckpoint(reader);
    reader.close();
    const st = readSafetensors(await Deno.readFile(`${FIXTURES}${name}/model.safetensors`));
    assert.deepEqual([...pt.keys()].sort(), [...st.keys()].sort(), name);
    for (const [key, tensor] of st) assert.deepEqual(pt.get(key), tensor, `${name} ${key}`);
  }
});

Deno.test("strided views, storage offsets, shared storages and half storages decode", async () => {
  const pickle = new PickleBuilder().dict().mark()
    .str("t").tensor("0", "FloatStorage", 6, 0, [3, 2], [1, 3]) // transpose of a 2x3
    .str("o").tensor("0", "FloatStorage", 6, 4, [2], [1]) // a slice at offset 4
    .str("h").tensor("1", "HalfStorage", 2, 0, [2], [1])
    .setitems().stop();
  const half = new Uint8Array([0x00, 0x3c, 0x00, 0xc0]); // 1, -2
  const bytes = torchZip(pickle, { "0": f32([1, 2, 3, 4, 5, 6]), "1": half });
  const sd = await readPytorchCheckpoint(bytes);
  assert.deepEqual(sd.get("t"), { shape: [3, 2], data: new Float32Array([1, 4, 2, 5, 3, 6]) });
  assert.deepEqual(sd.get("o"), { shape: [2], data: new Float32Array([5, 6]) });
  assert.deepEqual(sd.get("h"), { shape: [2], data: new Float32Array([1, -2]) });
});

Deno.test("a pickle naming os.system or builtins.eval is refused and nothing runs", async () => {
  const hostile = new PickleBuilder().global("os", "system").mark().str("echo pwned").tuple()
    .reduce().stop();
  await assert.rejects(
    () => readPytorchCheckpoint(torchZip(hostile, {})),
    (e: Error) => e instanceof TypeError && /global os\.system is not allowed/.test(e.message),
  );
  // STACK_GLOBAL (protocol 4) is checked against the same table.
  const stackGlobal = new PickleBuilder().str("builtins").str("eval").raw(0x93).mark()
    .str("1+1").tuple().reduce().stop();
  await assert.rejects(
    () => readPytorchCheckpoint(torchZip(stackGlobal, {})),
    /global builtins\.eval is not allowed/,
  );
  // Opcodes that build arbitrary objects are not supported at all.
  const inst = new PickleBuilder().mark().raw(0x69, ...new TextEncoder().encode("os\nsystem\n"))
    .stop();
  assert.throws(
    () => unpickle(inst, { description: "x", findGlobal: () => undefined }),
    /opcode 0x69 .* not supported/,
  );
});

Deno.test("legacy, truncated, compressed and corrupt checkpoints give clear errors", async () => {
  const tar = new Uint8Array(1024);
  tar.set(new TextEncoder().encode("ustar"), 257);
  await assert.rejects(() => readPytorchCheckpoint(tar), /legacy tar torch\.save format/);
  await assert.rejects(
    () => readPytorchCheckpoint(new TextEncoder().encode("hello")),
    /not a zip archive written by torch\.save/,
  );

  const fixture = await Deno.readFile(`${FIXTURES}dpr-reader-tiny/pytorch_model.bin`);
  await assert.rejects(
    () => readPytorchCheckpoint(fixture.subarray(0, fixture.length >> 1)),
    /no end-of-central-directory record; the file is truncated/,
  );

  const pickle = new PickleBuilder().dict().mark()
    .str("w").tensor("0", "FloatStorage", 2, 0, [2], [1]).setitems().stop();
  const compressed = makeZip([["archive/data.pkl", pickle], ["archive/data/0", f32([1, 2])]], {
    method: 8,
  });
  await assert.rejects(() => readPytorchCheckpoint(compressed), /compressed \(method 8\)/);

  const good = torchZip(pickle, { "0": f32([1, 2]) });
  assert.deepEqual((await readPytorchCheckpoint(good)).get("w")?.data, new Float32Array([1, 2]));
  const corrupt = good.slice();
  const at = findBytes(corrupt, f32([1, 2]));
  assert.ok(at > 0);
  corrupt[at + 1] = corrupt[at + 1]! ^ 0xff;
  await assert.rejects(() => readPytorchCheckpoint(corrupt), /CRC-32 mismatch/);

  const lying = new PickleBuilder().dict().mark()
    .str("w").tensor("0", "FloatStorage", 2, 1, [4], [1]).setitems().stop();
  await assert.rejects(
    () => readPytorchCheckpoint(torchZip(lying, { "0": f32([1, 2]) })),
    /tensor "w": offset 1, size \[4\] and stride \[1\] reach element 5 of a storage of 2/,
  );

  const complex = new PickleBuilder().dict().mark()
    .str("w").tensor("0", "ComplexFloatStorage", 2, 0, [2], [1]).setitems().stop();
  await assert.rejects(
    () => readPytorchCheckpoint(torchZip(complex, { "0": f32([1, 2, 3, 4]) })),
    /global torch\.ComplexFloatStorage is not allowed/,
  );

  const missing = torchZip(pickle, {});
  await assert.rejects(() => readPytorchCheckpoint(missing), /storage 0 is missing/);

  const truncatedPickle = pickle.subarray(0, 40);
  await assert.rejects(
    () => readPytorchCheckpoint(torchZip(truncatedPickle, {})),
    /pickle is truncated/,
  );
  // Bytes after the end record (like a zip comment) do not hide it.
  const padded = concat([good, new Uint8Array(10)]);
  assert.deepEqual((await readPytorchCheckpoint(padded)).get("w")?.data, new Float32Array([1, 2]));
});

function findBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("legacy (pre-1.6) torch files load; truncated or lying ones are refused", async () => {
  const main = new PickleBuilder();
  main.legacy = true;
  main.dict().mark()
    .str("a").tensor("7", "FloatStorage", 4, 0, [2, 2], [2, 1])
    .str("b").tensor("9", "HalfStorage", 1, 0, [1], [1])
    .setitems();
  const pickle = main.stop();
  const storages: [string, number, Uint8Array][] = [
    ["7", 4, f32([1, 2, 3, 4])],
    ["9", 1, new Uint8Array([0x00, 0x3c])],
  ];
  const bytes = legacyTorchFile(pickle, storages);
  const sd = await readPytorchCheckpoint(bytes);
  assert.deepEqual(sd.get("a"), { shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
  assert.deepEqual(sd.get("b"), { shape: [1], data: new Float32Array([1]) });
  await assert.rejects(
    () => readPytorchCheckpoint(bytes.subarray(0, bytes.length - 3)),
    /storages need \d+ bytes but the file has \d+; it is truncated/,
  );
  await assert.rejects(() => readPytorchCheckpoint(bytes.subarray(0, 30)), /pickle is truncated/);
  const lying = legacyTorchFile(pickle, [["7", 4, f32([1, 2, 3, 4])], ["9", 1, new Uint8Array(2)]]);
  new DataView(lying.buffer).setBigInt64(lying.length - 2 - 8, 5n, true);
  await assert.rejects(() => readPytorchCheckpoint(lying), /holds 5 elements, the pickle says 1/);
  const hostile = new PickleBuilder();
  hostile.legacy = true;
  const evil = hostile.global("builtins", "exec").mark().str("1").tuple().reduce().stop();
  await assert.rejects(
    () => readPytorchCheckpoint(legacyTorchFile(evil, [])),
    /global builtins\.exec is not allowed/,
  );
});

Deno.test("crc32 matches the reference at every alignment and length", () => {
  const check = new TextEncoder().encode("123456789");
  assert.equal(crc32(check), 0xcbf43926);
  const data = new Uint8Array(300).map((_, i) => (i * 131 + 7) & 0xff);
  const reference = (bytes: Uint8Array): number => {
    let c = 0xffffffff;
    for (const b of bytes) {
      c ^= b;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    }
    return (c ^ 0xffffffff) >>> 0;
  };
  for (let start = 0; start < 9; start++) {
    for (const length of [0, 1, 7, 8, 9, 15, 16, 17, 100, 291 - start]) {
      const slice = data.subarray(start, start + length);
      assert.equal(crc32(slice), reference(slice), `start ${start} length ${length}`);
    }
  }
  assert.equal(crc32(data.subarray(100), crc32(data.subarray(0, 100))), crc32(data));
});

Deno.test("randomly corrupted checkpoints either read or fail with a clear error", async () => {
  const bin = await Deno.readFile(`${FIXTURES}dpr-reader-tiny/pytorch_model.bin`);
  const st = await Deno.readFile(`${FIXTURES}dpr-reader-tiny/model.safetensors`);
  // A fixed-seed generator keeps the test deterministic.
  let state = 12345;
  const random = (n: number): number => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state % n;
  };
  const broadcast = new PickleBuilder().dict().mark()
    .str("w").tensor("0", "FloatStorage", 1, 0, [1_000_000_000], [0]).setitems().stop();
  await assert.rejects(
    () => readPytorchCheckpoint(torchZip(broadcast, { "0": f32([1]) })),
    /broadcast views are not supported/,
  );
  for (let round = 0; round < 150; round++) {
    for (const original of [bin, st]) {
      const bytes = original.slice();
      // Corrupt the structure-heavy start (header, pickle) more often than tensor data.
      const span = random(2) === 0 ? Math.min(bytes.length, 6000) : bytes.length;
      for (let k = 0; k < 1 + random(4); k++) bytes[random(span)] = random(256);
      try {
        if (original === bin) await readPytorchCheckpoint(bytes);
        else readSafetensors(bytes);
      } catch (error) {
        assert.ok(error instanceof Error, `round ${round}: threw ${String(error)}`);
        assert.match(error.message, /^Cannot /, `round ${round}: ${error.message}`);
      }
    }
  }
});

Deno.test("a storage relabelled to another type is refused, naming the storage and tensor", async () => {
  // float32 bytes of 4 values; the pickle calls the storage another type of the same count.
  const bytes = f32([1.5, -2, 3.25, 1e-3]);
  for (
    const type of [
      "HalfStorage",
      "BFloat16Storage",
      "ByteStorage",
      "BoolStorage",
      "CharStorage",
      "ShortStorage",
      "DoubleStorage",
      "LongStorage",
    ]
  ) {
    const pickle = new PickleBuilder().dict().mark()
      .str("encoder.weight").tensor("7", type, 4, 0, [4], [1]).setitems().stop();
    await assert.rejects(
      () => readPytorchCheckpoint(torchZip(pickle, { "7": bytes }), { description: "m.bin" }),
      (e: Error) =>
        e instanceof RangeError &&
        /^Cannot read PyTorch checkpoint m\.bin: tensor "encoder\.weight": storage 7 holds 16 bytes, but 4 elements of \w+ \(\d bytes each\) are \d+; its type or size does not match its data$/
          .test(e.message),
      type,
    );
  }
  // The exact size loads.
  const right = new PickleBuilder().dict().mark()
    .str("w").tensor("0", "FloatStorage", 4, 0, [4], [1]).setitems().stop();
  assert.deepEqual(
    (await readPytorchCheckpoint(torchZip(right, { "0": bytes }))).get("w")?.data,
    new Float32Array([1.5, -2, 3.25, 1e-3]),
  );
  // One storage key named with two types.
  const twoTypes = new PickleBuilder().dict().mark()
    .str("a").tensor("0", "FloatStorage", 4, 0, [4], [1])
    .str("b").tensor("0", "HalfStorage", 8, 0, [8], [1]).setitems().stop();
  await assert.rejects(
    () => readPytorchCheckpoint(torchZip(twoTypes, { "0": bytes })),
    /storage 0 is named as 4 elements of F32 and as 8 elements of F16/,
  );
});

Deno.test("a legacy torch file whose storage type is narrower than its data is refused", async () => {
  const main = new PickleBuilder();
  main.legacy = true;
  const pickle = main.dict().mark().str("w").tensor("k", "HalfStorage", 2, 0, [2], [1])
    .setitems().stop();
  // The file holds 2 float32 values (8 bytes) where the type says 2 halves (4 bytes).
  const file = legacyTorchFile(pickle, [["k", 2, f32([1, 2])]]);
  await assert.rejects(
    () => readPytorchCheckpoint(file, { description: "old.bin" }),
    /Cannot read PyTorch checkpoint old\.bin: the storages' types and sizes account for \d+ bytes but the file has \d+; a storage's type does not match its data/,
  );
});

Deno.test("a zip with two entries of the same name is refused", async () => {
  const pickle = new PickleBuilder().dict().mark()
    .str("w").tensor("0", "FloatStorage", 2, 0, [2], [1]).setitems().stop();
  const twice = makeZip([
    ["archive/data.pkl", pickle],
    ["archive/data/0", f32([1, 2])],
    ["archive/data/0", f32([666, 666])],
  ]);
  await assert.rejects(
    () => readPytorchCheckpoint(twice, { description: "dup.bin" }),
    (e: Error) =>
      e instanceof RangeError && /dup\.bin/.test(e.message) &&
      /the archive holds two entries named "archive\/data\/0"/.test(e.message),
  );
});
