import assert from "node:assert/strict";
import { readSafetensors, writeSafetensors } from "../../io/safetensors.ts";
import { readSafetensorsFile } from "../../io/safetensors_source.ts";
import { readShardedSafetensors } from "../../io/safetensors_sharded.ts";
import { decodeFloat16, encodeFloat16, floatToHalf, halfToFloat } from "../../io/float16.ts";
import { LocalFolderSource } from "../../io/file_source.ts";
import type { FileSource } from "../../io/file_source.ts";
import type { StateDict } from "../../io/state_dict.ts";

const FIXTURES = new URL("../fixtures/models/", import.meta.url).pathname;
const NAMES = ["dpr-question_encoder-tiny", "dpr-ctx_encoder-tiny", "dpr-reader-tiny"];

/** Builds a safetensors file from a raw header object and data bytes, without validation. */
function rawFile(header: unknown, data: Uint8Array, headerText?: string): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

Deno.test("readSafetensors reads every fixture with the shapes the header gives", async () => {
  for (const name of NAMES) {
    const bytes = await Deno.readFile(`${FIXTURES}${name}/model.safetensors`);
    const sd = readSafetensors(bytes);
    assert.ok(sd.size > 30, `${name} has ${sd.size} tensors`);
    for (const [key, tensor] of sd) {
      assert.equal(tensor.data.length, tensor.shape.reduce((a, b) => a * b, 1), key);
    }
    const fromFile = await readSafetensorsFile(`${FIXTURES}${name}/model.safetensors`);
    assert.deepEqual([...fromFile.keys()], [...sd.keys()]);
    for (const [key, tensor] of sd) assert.deepEqual(fromFile.get(key), tensor);
  }
});

Deno.test("writeSafetensors round-trips a fixture byte-for-byte in values", async () => {
  const bytes = await Deno.readFile(`${FIXTURES}dpr-reader-tiny/model.safetensors`);
  const sd = readSafetensors(bytes);
  const written = writeSafetensors(sd);
  const shared = readSafetensors(written, { share: true });
  assert.deepEqual(shared, sd);
  assert.equal(shared.get([...sd.keys()][0]!)!.data.buffer, written.buffer);
  const headerLength = Number(new DataView(written.buffer).getBigUint64(0, true));
  assert.equal(headerLength % 8, 0);
  const again = readSafetensors(written);
  assert.deepEqual(again, sd);
});

Deno.test("F16 and BF16 decode to float32", () => {
  const half = new Uint8Array(6);
  const dv = new DataView(half.buffer);
  dv.setUint16(0, 0x3c00, true); // 1
  dv.setUint16(2, 0xc000, true); // -2
  dv.setUint16(4, 0x0001, true); // smallest subnormal
  const bf = new Uint8Array(4);
  new DataView(bf.buffer).setUint16(0, 0x3fc0, true); // 1.5
  new DataView(bf.buffer).setUint16(2, 0xc2f7, true); // -123.5
  const data = new Uint8Array([...half, ...bf]);
  const file = rawFile({
    a: { dtype: "F16", shape: [3], data_offsets: [0, 6] },
    b: { dtype: "BF16", shape: [2, 1], data_offsets: [6, 10] },
  }, data);
  const sd = readSafetensors(file);
  assert.deepEqual([...sd.get("a")!.data], [1, -2, 2 ** -24]);
  assert.deepEqual([...sd.get("b")!.data], [1.5, -123.5]);
  assert.deepEqual(sd.get("b")!.shape, [2, 1]);
});

Deno.test("float16 encoding rounds to nearest even and round-trips every half value", () => {
  for (let bits = 0; bits < 65536; bits++) {
    const v = halfToFloat(bits);
    if (Number.isNaN(v)) continue;
    assert.equal(floatToHalf(v), bits, `bits ${bits}`);
  }
  assert.equal(floatToHalf(65520), 0x7c00); // rounds up to Infinity
  assert.equal(floatToHalf(1 + 2 ** -11), 0x3c00); // halfway, even stays
  assert.equal(floatToHalf(1 + 3 * 2 ** -11), 0x3c02); // halfway, odd rounds up
  const values = new Float32Array([0.1, -3.25, 1e-6]);
  const back = decodeFloat16(encodeFloat16(values));
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(back[i]! - values[i]!) < 1e-3);
});

Deno.test("readSafetensors refuses malformed headers with errors naming the problem", () => {
  const data = f32Bytes([1, 2, 3, 4]);
  const cases: [string, Uint8Array, ErrorConstructor, RegExp][] = [
    ["empty file", new Uint8Array(3), RangeError, /at least 8 bytes/],
    [
      "header length beyond file",
      (() => {
        const f = rawFile({}, data);
        new DataView(f.buffer).setBigUint64(0, 1000n, true);
        return f;
      })(),
      RangeError,
      /runs past the end/,
    ],
    ["non-JSON header", rawFile(null, data, "{not json}"), SyntaxError, /not valid UTF-8 JSON/],
    ["header array", rawFile([1], data), SyntaxError, /must be a JSON object/],
    [
      "unsupported dtype",
      rawFile({ w: { dtype: "F8_E4M3", shape: [4], data_offsets: [0, 4] } }, data),
      TypeError,
      /tensor "w" has unsupported dtype "F8_E4M3"/,
    ],
    [
      "offsets past data",
      rawFile({ w: { dtype: "F32", shape: [8], data_offsets: [0, 32] } }, data),
      RangeError,
      /tensor "w" has data_offsets \[0, 32\] outside the data section of 16 bytes/,
    ],
    [
      "offsets not matching shape",
      rawFile({ w: { dtype: "F32", shape: [3], data_offsets: [0, 16] } }, data),
      RangeError,
      /tensor "w" .* do not match dtype F32 and shape \[3\]/,
    ],
    [
      "overlapping tensors",
      rawFile({
        a: { dtype: "F32", shape: [2], data_offsets: [0, 8] },
        b: { dtype: "F32", shape: [2], data_offsets: [4, 12] },
      }, data),
      RangeError,
      /tensor "b" .* overlaps tensor "a"/,
    ],
    [
      "a gap between tensors",
      rawFile({
        a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
        b: { dtype: "F32", shape: [2], data_offsets: [8, 16] },
      }, data),
      RangeError,
      /tensor "b" starts at data byte 8, leaving bytes 4\.\.8 unused/,
    ],
    [
      "bytes after the last tensor",
      rawFile({ w: { dtype: "F32", shape: [3], data_offsets: [0, 12] } }, data),
      RangeError,
      /4 bytes follow the last tensor's data/,
    ],
    [
      "reversed offsets",
      rawFile({ w: { dtype: "F32", shape: [0], data_offsets: [8, 4] } }, data),
      RangeError,
      /tensor "w" has data_offsets \[8, 4\]/,
    ],
    [
      "bad shape",
      rawFile({ w: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, data),
      TypeError,
      /tensor "w" needs a shape of non-negative integers/,
    ],
    [
      "missing offsets",
      rawFile({ w: { dtype: "F32", shape: [1] } }, data),
      TypeError,
      /tensor "w" needs data_offsets/,
    ],
  ];
  for (const [label, bytes, type, pattern] of cases) {
    assert.throws(() => readSafetensors(bytes, { description: "test.safetensors" }), (e) => {
      assert.ok(e instanceof type, `${label}: ${e}`);
      assert.match((e as Error).message, pattern, label);
      assert.match((e as Error).message, /test\.safetensors/, label);
      return true;
    });
  }
});

Deno.test("a truncated fixture is refused", async () => {
  const bytes = await Deno.readFile(`${FIXTURES}dpr-reader-tiny/model.safetensors`);
  assert.throws(() => readSafetensors(bytes.subarray(0, bytes.length - 100)), RangeError);
});

/** An in-memory folder. */
class MemorySource implements FileSource {
  readonly description = "memory";
  constructor(readonly files: Map<string, Uint8Array>) {}
  readFile(name: string): Promise<Uint8Array | null> {
    return Promise.resolve(this.files.get(name) ?? null);
  }
}

Deno.test("sharded checkpoints are read through their index", async () => {
  const sd = readSafetensors(
    await Deno.readFile(`${FIXTURES}dpr-question_encoder-tiny/model.safetensors`),
  );
  const keys = [...sd.keys()];
  const first: StateDict = new Map(keys.slice(0, 10).map((k) => [k, sd.get(k)!]));
  const second: StateDict = new Map(keys.slice(10).map((k) => [k, sd.get(k)!]));
  const weightMap: Record<string, string> = {};
  for (const k of first.keys()) weightMap[k] = "model-00001-of-00002.safetensors";
  for (const k of second.keys()) weightMap[k] = "model-00002-of-00002.safetensors";
  const files = new Map([
    ["model-00001-of-00002.safetensors", writeSafetensors(first)],
    ["model-00002-of-00002.safetensors", writeSafetensors(second)],
    [
      "model.safetensors.index.json",
      new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap })),
    ],
  ]);
  const read = await readShardedSafetensors(new MemorySource(files));
  assert.equal(read?.size, sd.size);
  for (const [k, t] of sd) assert.deepEqual(read!.get(k), t);

  // A shard missing, or an index pointing to a tensor its shard lacks, is an error.
  files.delete("model-00002-of-00002.safetensors");
  await assert.rejects(() => readShardedSafetensors(new MemorySource(files)), /shard .* missing/);
  files.set("model-00002-of-00002.safetensors", writeSafetensors(first));
  await assert.rejects(() => readShardedSafetensors(new MemorySource(files)), /does not hold/);
  assert.equal(await readShardedSafetensors(new LocalFolderSource(FIXTURES)), null);
});

Deno.test("writeSafetensors refuses what it cannot write faithfully or read back", () => {
  const write = (name: string, tensor: unknown, metadata?: Record<string, string>) => () =>
    writeSafetensors(
      new Map([[name, tensor as { shape: number[]; data: Float32Array }]]),
      metadata === undefined ? {} : { metadata },
    );
  assert.throws(write("w", { shape: [2], data: [1, 2] }), {
    name: "TypeError",
    message: /data must be a Float32Array: received Array/,
  });
  assert.throws(write("w", { shape: [2], data: new Float64Array([1, 2]) }), {
    name: "TypeError",
    message: /received Float64Array/,
  });
  assert.throws(write("w", { shape: [-2], data: new Float32Array(2) }), {
    name: "TypeError",
    message: /shape must be non-negative integers/,
  });
  assert.throws(write("__metadata__", { shape: [1], data: new Float32Array(1) }), {
    name: "TypeError",
    message: /reserved/,
  });
  const badMetadata = { format: 1 } as unknown as Record<string, string>;
  assert.throws(write("w", { shape: [1], data: new Float32Array(1) }, badMetadata), {
    name: "TypeError",
    message: /metadata values must be strings/,
  });
});
