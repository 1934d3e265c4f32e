// Non-finite weights (NaN, ±Infinity, F64 values beyond float32's range) are refused by every
// reader, naming the file and the tensor, unless allowNonFinite is set.
import assert from "node:assert/strict";
import { checkFiniteWeights } from "../../io/finite_weights.ts";
import { readPytorchCheckpoint } from "../../io/pytorch_pickle.ts";
import { resolvePretrained } from "../../io/resolve.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { readSafetensors, writeSafetensors } from "../../io/safetensors.ts";
import { readSafetensorsFile } from "../../io/safetensors_source.ts";
import { f32, PickleBuilder, torchZip } from "./torch_bytes.ts";

const FIXTURE = new URL("../fixtures/models/dpr-question_encoder-tiny/", import.meta.url).pathname;

/** A safetensors file with one F64 tensor "big" (raw header: writeSafetensors writes F32 only). */
function f64File(values: number[]): Uint8Array {
  const data = new Uint8Array(new Float64Array(values).buffer);
  const header = new TextEncoder().encode(
    JSON.stringify({
      big: { dtype: "F64", shape: [values.length], data_offsets: [0, data.length] },
    }),
  );
  const out = new Uint8Array(8 + header.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(data, 8 + header.length);
  return out;
}

Deno.test("checkFiniteWeights names the tensor, the first bad value, its index and the count", () => {
  assert.doesNotThrow(() => checkFiniteWeights(new Float32Array([0, -3.4e38, 3.4e38]), "w", "x"));
  assert.throws(
    () => checkFiniteWeights(new Float32Array([1, NaN, Infinity]), "enc.w", "Cannot read f"),
    (e: Error) =>
      e instanceof RangeError &&
      /^Cannot read f: tensor "enc\.w" holds NaN at index 1 \(2 non-finite values in all/.test(
        e.message,
      ) && /allowNonFinite: true/.test(e.message),
  );
  assert.doesNotThrow(() =>
    checkFiniteWeights(new Float32Array([NaN]), "w", "x", { allowNonFinite: true })
  );
  // Long blocks are scanned in slices: values far into one, and a block's offset in its tensor.
  const long = new Float32Array(20000);
  assert.doesNotThrow(() => checkFiniteWeights(long, "w", "x"));
  long[9000] = -Infinity;
  long[19999] = NaN;
  assert.throws(
    () => checkFiniteWeights(long, "w", "x", {}, 100),
    /holds -Infinity at index 9100 \(2 non-finite values in the block read/,
  );
});

for (const [label, value] of [["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity]]) {
  Deno.test(`safetensors holding ${label} is refused, in memory and from disk`, async () => {
    const bytes = writeSafetensors(
      new Map([
        ["ok", { shape: [2], data: new Float32Array([1, 2]) }],
        ["bad.weight", { shape: [3], data: new Float32Array([0, value as number, 1]) }],
      ]),
    );
    const pattern = new RegExp(`tensor "bad\\.weight" holds ${label} at index 1`);
    assert.throws(() => readSafetensors(bytes, { description: "t.safetensors" }), pattern);
    assert.throws(() => readSafetensors(bytes, { share: true }), pattern);
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeFile(`${dir}/model.safetensors`, bytes);
      await assert.rejects(
        () => readSafetensorsFile(`${dir}/model.safetensors`),
        (e: Error) => e instanceof RangeError && pattern.test(e.message) && e.message.includes(dir),
      );
      const allowed = await readSafetensorsFile(`${dir}/model.safetensors`, {
        allowNonFinite: true,
      });
      assert.ok(Object.is(allowed.get("bad.weight")!.data[1], Math.fround(value as number)));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("F64 values beyond float32's range are refused; finite float32 extremes load", () => {
  assert.throws(
    () => readSafetensors(f64File([1, 1e39]), { description: "f64.safetensors" }),
    /Cannot read f64\.safetensors: tensor "big" holds Infinity at index 1 .*beyond float32's range/,
  );
  assert.throws(() => readSafetensors(f64File([-1e300])), /holds -Infinity at index 0/);
  const sd = readSafetensors(f64File([3.4e38, -3.4e38]));
  assert.deepEqual(Array.from(sd.get("big")!.data), [Math.fround(3.4e38), Math.fround(-3.4e38)]);
  const allowed = readSafetensors(f64File([1e39]), { allowNonFinite: true });
  assert.equal(allowed.get("big")!.data[0], Infinity);
});

Deno.test("pytorch_model.bin holding NaN is refused naming the tensor; allowNonFinite loads it", async () => {
  const pickle = new PickleBuilder().dict().mark()
    .str("good").tensor("0", "FloatStorage", 2, 0, [2], [1])
    .str("encoder.bad").tensor("1", "FloatStorage", 2, 0, [2], [1])
    .setitems().stop();
  const bytes = torchZip(pickle, { "0": f32([1, 2]), "1": f32([3, NaN]) });
  await assert.rejects(
    () => readPytorchCheckpoint(bytes, { description: "bad.bin" }),
    (e: Error) =>
      e instanceof RangeError &&
      /Cannot read bad\.bin: tensor "encoder\.bad" holds NaN at index 1/.test(e.message),
  );
  const sd = await readPytorchCheckpoint(bytes, { allowNonFinite: true });
  assert.ok(Number.isNaN(sd.get("encoder.bad")!.data[1]));
});

Deno.test("resolvePretrained and fromPretrained refuse weights holding Infinity; allowNonFinite loads", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${FIXTURE}config.json`, `${dir}/config.json`);
    const sd = readSafetensors(await Deno.readFile(`${FIXTURE}model.safetensors`));
    const [name, tensor] = [...sd].at(-1)!;
    tensor.data[0] = Infinity;
    await Deno.writeFile(`${dir}/model.safetensors`, writeSafetensors(sd));
    await assert.rejects(
      () => resolvePretrained(dir),
      (e: Error) =>
        e instanceof RangeError && e.message.includes(`tensor "${name}" holds Infinity`),
    );
    const resolved = await resolvePretrained(dir, { allowNonFinite: true });
    assert.equal(resolved.stateDict.get(name)!.data[0], Infinity);
    // fromPretrained streams the file tensor by tensor: the same check, the same option.
    await assert.rejects(
      () => DPRQuestionEncoder.fromPretrained(dir),
      (e: Error) =>
        e instanceof RangeError && e.message.includes(`tensor "${name}" holds Infinity`),
    );
    const model = await DPRQuestionEncoder.fromPretrained(dir, { allowNonFinite: true });
    model.dispose();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
