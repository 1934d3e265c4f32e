// `fromPretrained` from every weight format streams into the same weights, bit for bit: each
// fixture model as model.safetensors, sharded safetensors, pytorch_model.bin alone and converted
// tfjs folders (a layers model loads straight into the layers; a "pytorch"-layout folder by its
// PyTorch names), float32 and int8 / float16; malformed inputs fail naming the file or tensor
// and leave no tensor behind.
import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { convertCheckpoint } from "../../convert/convert.ts";
import { readSafetensors, writeSafetensors } from "../../io/safetensors.ts";
import type { StateDict } from "../../io/state_dict.ts";
import type { RawTensor } from "../../io/state_dict.ts";
import type { EncodedTensor } from "../../io/safetensors_write.ts";
import { DPRContextEncoder } from "../../models/dpr_context_encoder.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import type { WeightDtype } from "../../models/weight_binding.ts";
import { readZipDirectory } from "../../io/zip_reader.ts";
import { memoryReader } from "../../io/byte_reader.ts";

const MODELS = new URL("../fixtures/models/", import.meta.url).pathname;
const KINDS = {
  "dpr-question_encoder-tiny": DPRQuestionEncoder,
  "dpr-ctx_encoder-tiny": DPRContextEncoder,
  "dpr-reader-tiny": DPRReader,
} as const;
type Name = keyof typeof KINDS;
type Held = Map<string, RawTensor | EncodedTensor>;

async function held(name: Name, dir: string, dtype: WeightDtype): Promise<Held> {
  const model = await KINDS[name].fromPretrained(dir, { dtype });
  try {
    return model.heldStateDict().tensors;
  } finally {
    model.dispose();
  }
}

function sameBits(actual: Held, expected: Held, what: string): void {
  deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), what);
  for (const [key, tensor] of expected) {
    const other = actual.get(key)!;
    deepEqual(other.shape, tensor.shape, `${what}: ${key}`);
    const a = new Uint8Array(other.data.buffer, other.data.byteOffset, other.data.byteLength);
    const b = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    ok(a.length === b.length && a.every((x, i) => x === b[i]), `${what}: ${key} differs`);
  }
}

async function copyConfig(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  await Deno.copyFile(`${from}/config.json`, `${to}/config.json`);
}

/** The fixture's weights split into two shards with an index, as transformers writes them. */
async function writeSharded(from: string, to: string): Promise<string[]> {
  await copyConfig(from, to);
  const sd = readSafetensors(await Deno.readFile(`${from}/model.safetensors`));
  const keys = [...sd.keys()];
  const half = Math.ceil(keys.length / 2);
  const shards = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"];
  const weightMap: Record<string, string> = {};
  for (const [i, part] of [keys.slice(0, half), keys.slice(half)].entries()) {
    const piece: StateDict = new Map(part.map((k) => [k, sd.get(k)!]));
    await Deno.writeFile(`${to}/${shards[i]}`, writeSafetensors(piece));
    for (const k of part) weightMap[k] = shards[i]!;
  }
  await Deno.writeTextFile(
    `${to}/model.safetensors.index.json`,
    JSON.stringify({ metadata: {}, weight_map: weightMap }),
  );
  return shards;
}

Deno.test("every weight format loads bit-identically to model.safetensors, float32 and int8 / float16", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const name of Object.keys(KINDS) as Name[]) {
      const from = `${MODELS}${name}`;
      await writeSharded(from, `${root}/${name}/sharded`);
      await copyConfig(from, `${root}/${name}/bin`);
      await Deno.copyFile(`${from}/pytorch_model.bin`, `${root}/${name}/bin/pytorch_model.bin`);
      await convertCheckpoint(from, `${root}/${name}/tfjs`);
      await convertCheckpoint(from, `${root}/${name}/tfjs-pt`, { layout: "pytorch" });
      for (const dtype of ["float32", "int8", "float16"] as const) {
        const expected = await held(name, from, dtype);
        for (const format of ["sharded", "bin", "tfjs", "tfjs-pt"]) {
          const before = tf.memory().numTensors;
          const actual = await held(name, `${root}/${name}/${format}`, dtype);
          sameBits(actual, expected, `${name} ${format} ${dtype}`);
          equal(tf.memory().numTensors, before, `${name} ${format} ${dtype}: tensors leaked`);
        }
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a convert --quantize float16 folder loads its float16 weights bit-identically to model.safetensors as float16", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const name of Object.keys(KINDS) as Name[]) {
      const from = `${MODELS}${name}`;
      await convertCheckpoint(from, `${root}/${name}`, { quantize: "float16", progress: false });
      const expected = await held(name, from, "float16");
      const actual = await held(name, `${root}/${name}`, "float16");
      // The weights held as float16 (dense kernels, transposed into place, and the word table);
      // the rest stay float32, rounded through float16 in the folder, so they are not compared.
      const halves = (map: Held): Held =>
        new Map([...map].filter(([, t]) => (t as EncodedTensor).dtype === "F16"));
      ok(halves(expected).size > 0, `${name}: no float16 weight held`);
      sameBits(halves(actual), halves(expected), `${name} float16 folder`);
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("malformed weights: clear errors naming the file or tensor, nothing left registered", async () => {
  const root = await Deno.makeTempDir();
  const from = `${MODELS}dpr-question_encoder-tiny`;
  const load = (dir: string) => DPRQuestionEncoder.fromPretrained(dir);
  try {
    const before = tf.memory().numTensors;
    // A truncated shard: refused when its header is checked, naming the shard and a tensor.
    const shards = await writeSharded(from, `${root}/truncated`);
    const cut = await Deno.readFile(`${root}/truncated/${shards[1]}`);
    await Deno.writeFile(`${root}/truncated/${shards[1]}`, cut.subarray(0, cut.length - 100));
    await rejects(load(`${root}/truncated`), (error: Error) => {
      match(error.message, new RegExp(`${shards[1]} in ${root}/truncated`));
      match(error.message, /tensor "[^"]+"/);
      return error instanceof RangeError;
    });
    // A shard the index names but the folder lacks.
    await writeSharded(from, `${root}/missing`);
    await Deno.remove(`${root}/missing/${shards[0]}`);
    await rejects(load(`${root}/missing`), new RegExp(`shard ${shards[0]} is missing`));
    // A storage whose bytes would run past the end of the zip (its local header claims a huge
    // extra field): refused naming the tensor, before any weight is made.
    const bin = await Deno.readFile(`${from}/pytorch_model.bin`);
    const entries = await readZipDirectory(memoryReader(bin, "the fixture"));
    const last = [...entries.values()].filter((e) => /\/data\/\d+$/.test(e.name))
      .sort((a, b) => b.localHeaderOffset - a.localHeaderOffset)[0]!;
    const bad = bin.slice();
    new DataView(bad.buffer).setUint16(last.localHeaderOffset + 28, 0xffff, true);
    await copyConfig(from, `${root}/zip`);
    await Deno.writeFile(`${root}/zip/pytorch_model.bin`, bad);
    await rejects(load(`${root}/zip`), (error: Error) => {
      match(error.message, /pytorch_model\.bin in .*zip: tensor "[^"]+": .*run past the end/);
      return error instanceof RangeError;
    });
    // A NaN in the last shard's tensor fails half way through the load: what was written
    // already is freed with the model.
    await writeSharded(from, `${root}/nan`);
    const sd = readSafetensors(await Deno.readFile(`${root}/nan/${shards[1]}`));
    const [lastKey, lastTensor] = [...sd].at(-1)!;
    lastTensor.data = lastTensor.data.slice();
    lastTensor.data[0] = NaN;
    await Deno.writeFile(`${root}/nan/${shards[1]}`, writeSafetensors(sd));
    await rejects(
      load(`${root}/nan`),
      new RegExp(`${shards[1]}.*"${lastKey.replaceAll(".", "\\.")}" holds NaN`),
    );
    // A tfjs shard cut short.
    await convertCheckpoint(from, `${root}/tfjs`);
    const shard = `${root}/tfjs/group1-shard1of1.bin`;
    await Deno.truncate(shard, (await Deno.stat(shard)).size - 8);
    await rejects(load(`${root}/tfjs`), /the shards end before weight "[^"]+" is complete/);
    equal(tf.memory().numTensors, before);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
