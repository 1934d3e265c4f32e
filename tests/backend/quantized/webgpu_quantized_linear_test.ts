/**
 * The webgpu quantized linear shader against the cpu kernel on odd shapes, in a child process
 * (Mesa's llvmpipe on CI; see webgpu_quantized_linear_cases.ts). Skipped (not failed) where no
 * adapter is available, unless DPR_EXPECT_BACKENDS names webgpu.
 */
import { deepEqual, equal } from "node:assert/strict";
import { runInChild, skipWebGpu } from "../backends.ts";
import { packedRows } from "../../../backend/quantized/webgpu_quantized_linear.ts";
import { quantizeRows } from "../../../backend/quantized/quantized_weight.ts";
import { seeded } from "../../seeded.ts";

Deno.test({
  name: "webgpu quantized linear: the WGSL shader equals the cpu kernel (int8, float16)",
  ignore: await skipWebGpu(),
  fn: async () => {
    await runInChild(
      new URL("./webgpu_quantized_linear_cases.ts", import.meta.url),
      "productsMatchCpu",
    );
  },
});

Deno.test("packedRows: each row starts on a 32-bit word, padded with zeros", () => {
  // int8 [2, 5]: 2 words per row, 3 zero bytes after each row
  const int8 = quantizeRows(seeded(10, 4), [2, 5], "int8");
  const words = packedRows(int8);
  equal(words.length, 4);
  const bytes = new Int8Array(words.buffer);
  deepEqual([...bytes.subarray(0, 5)], [...int8.data.subarray(0, 5)]);
  deepEqual([...bytes.subarray(5, 8)], [0, 0, 0]);
  deepEqual([...bytes.subarray(8, 13)], [...int8.data.subarray(5, 10)]);
  // float16 [3, 3]: 2 words per row, one zero half after each row
  const half = quantizeRows(seeded(9, 5), [3, 3], "float16");
  const halves = new Uint16Array(packedRows(half).buffer);
  equal(halves.length, 12);
  deepEqual([...halves.subarray(4, 8)], [...half.data.subarray(3, 6), 0]);
  // K a multiple of the values per word: the weight's own bytes, no copy
  const even = quantizeRows(seeded(16, 6), [2, 8], "int8");
  equal(packedRows(even).buffer, even.data.buffer);
});
