// pytorch_model.bin read a tensor at a time: the same values as reading it whole, strided and
// shared storages included, rows on request, and a corrupt storage caught by its CRC-32.
import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { memoryReader, openFileReader } from "../../io/byte_reader.ts";
import { readPytorchCheckpoint } from "../../io/pytorch_pickle.ts";
import { pytorchSource } from "../../io/pytorch_source.ts";
import { collectTensors } from "../../io/tensor_source.ts";
import { f32, PickleBuilder, torchZip } from "./torch_bytes.ts";

const FIXTURES = new URL("../fixtures/models/", import.meta.url).pathname;

Deno.test("pytorchSource serves each fixture's tensors as readPytorchCheckpoint reads them", async () => {
  for (const name of ["dpr-question_encoder-tiny", "dpr-reader-tiny"]) {
    const path = `${FIXTURES}${name}/pytorch_model.bin`;
    const whole = await readPytorchCheckpoint(await Deno.readFile(path));
    const source = await pytorchSource(await openFileReader(path));
    try {
      deepEqual(await collectTensors(source), whole);
      equal(source.dtypes?.get([...whole.keys()][0]!), "F32");
      const [key, tensor] = [...whole].find(([, t]) => t.shape.length === 2)!;
      const cols = tensor.shape[1]!;
      deepEqual(await source.readRows!(key, 1, 3), tensor.data.subarray(cols, 3 * cols));
    } finally {
      source.close();
    }
  }
});

Deno.test("pytorchSource: strided views and slices of a storage; a corrupt storage is named", async () => {
  const pickle = new PickleBuilder().dict().mark()
    .str("t").tensor("0", "FloatStorage", 6, 0, [3, 2], [1, 3]) // transpose of a 2x3
    .str("o").tensor("0", "FloatStorage", 6, 4, [2], [1]) // a slice at offset 4
    .str("w").tensor("1", "FloatStorage", 4, 0, [2, 2], [2, 1])
    .setitems().stop();
  const bytes = torchZip(pickle, { "0": f32([1, 2, 3, 4, 5, 6]), "1": f32([7, 8, 9, 10]) });
  const source = await pytorchSource(memoryReader(bytes, "the zip"));
  deepEqual(await source.read("t"), new Float32Array([1, 4, 2, 5, 3, 6]));
  deepEqual(await source.readRows!("t", 1, 3), new Float32Array([2, 5, 3, 6]));
  deepEqual(await source.read("o"), new Float32Array([5, 6]));
  deepEqual(await source.readRows!("w", 1, 2), new Float32Array([9, 10]));
  // Only tensors stored as themselves report a stored dtype (their raw bytes are theirs).
  deepEqual([...source.dtypes!.keys()], ["w"]);
  source.close();
  // A flipped byte in storage 1: reading it whole, or its rows in order, fails on the CRC-32.
  const corrupt = bytes.slice();
  const at = corrupt.findIndex((_, i) =>
    corrupt[i] === 0 && corrupt[i + 1] === 0 && corrupt[i + 2] === 0xe0 && corrupt[i + 3] === 0x40
  ); // 7 as float32
  ok(at > 0);
  corrupt[at] = 1;
  const bad = await pytorchSource(memoryReader(corrupt, "the zip"));
  await rejects(bad.read("w"), /Cannot read the zip: tensor "w": CRC-32 mismatch/);
  await bad.readRows!("w", 0, 1);
  await rejects(bad.readRows!("w", 1, 2), /tensor "w": CRC-32 mismatch/);
  bad.close();
});
