import { deepEqual, equal, ok, throws } from "node:assert/strict";
import {
  dequantize,
  dequantizeRows,
  emptyQuantized,
  QuantizedWeight,
  quantizeRows,
  quantizeRowsInto,
} from "../../../backend/quantized/quantized_weight.ts";
import { floatToHalf, halfToFloat } from "../../../backend/float16_bits.ts";
import { seeded } from "../../seeded.ts";

Deno.test("int8: symmetric per-row scales, each value within half a step of the original", () => {
  const rows = 5, cols = 33;
  const values = seeded(rows * cols, 3, 2);
  values.fill(0, 2 * cols, 3 * cols); // a row of zeros gets scale 0
  const q = quantizeRows(values, [rows, cols], "int8");
  equal(q.layout, "int8");
  equal(q.data.length, rows * cols);
  equal(q.bytes, rows * cols + rows * 4);
  equal(q.scales![2], 0);
  const back = dequantize(q);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(values[r * cols + c]!));
    equal(q.scales![r], Math.fround(max / 127));
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      ok(Math.abs(q.data[i]!) <= 127);
      // read back = q * scale exactly (float32), within half a step of the original
      equal(back[i], Math.fround(q.data[i]! * q.scales![r]!));
      ok(Math.abs(back[i]! - values[i]!) <= q.scales![r]! / 2 + 1e-7);
    }
  }
});

Deno.test("float16: round to nearest even; dequantizeRows reads any block of rows", () => {
  const values = new Float32Array([1, -2.5, 1 / 3, 65504, 1e-8, 0.1]);
  const q = quantizeRows(values, [3, 2], "float16");
  equal(q.scales, null);
  deepEqual([...q.data], [...values].map(floatToHalf));
  const out = new Float32Array(4).fill(9);
  dequantizeRows(q, 1, 2, out, 1);
  deepEqual([...out], [9, halfToFloat(floatToHalf(1 / 3)), 65504, 9]);
});

Deno.test("QuantizedWeight refuses data, scales and layouts that do not fit", () => {
  throws(() => new QuantizedWeight("int8", [2, 2], new Int8Array(3), new Float32Array(2)), /4/);
  throws(
    () => new QuantizedWeight("int8", [2, 2], new Int8Array(4), null, "dense.weight"),
    /dense\.weight.*scale per row/,
  );
  throws(() => new QuantizedWeight("int8", [2, 2], new Int8Array(4), new Float32Array([1, NaN])));
  for (const bad of [-1, Infinity, -0.5]) {
    throws(
      () => new QuantizedWeight("int8", [2, 2], new Int8Array(4), new Float32Array([0, bad])),
      /finite and >= 0/,
    );
  }
  throws(() => new QuantizedWeight("float16", [2, 2], new Int8Array(4), null), /Uint16Array/);
  // @ts-expect-error: an unknown layout is refused at run time too
  throws(() => new QuantizedWeight("int4", [1, 1], new Int8Array(1), null), /int4/);
  throws(() => quantizeRows(new Float32Array(3), [2, 2], "int8"), /4|3/);
  throws(() => quantizeRows(new Float32Array([1, Infinity]), [1, 2], "int8"), RangeError);
});

Deno.test("quantizeRowsInto: a table quantized a block of rows at a time equals it quantized whole", () => {
  const rows = 7, cols = 5, values = seeded(rows * cols, 9, 3);
  for (const layout of ["int8", "float16"] as const) {
    const whole = quantizeRows(values, [rows, cols], layout);
    const blocks = emptyQuantized([rows, cols], layout);
    for (const [start, end] of [[0, 3], [3, 4], [4, 7]] as const) {
      quantizeRowsInto(blocks, values.subarray(start * cols, end * cols), start);
    }
    deepEqual(blocks.data, whole.data);
    deepEqual(blocks.scales, whole.scales);
  }
  const target = emptyQuantized([2, 5], "int8");
  // A non-finite value names its row (counted from the block's first row) and leaves the rest.
  const bad = new Float32Array([1, 2, 3, 4, 5, 1, NaN, 0, 0, 0]);
  throws(() => quantizeRowsInto(target, bad.subarray(5), 1), /row 1 to int8: .*non-finite/);
  deepEqual([...target.data.subarray(5)], [0, 0, 0, 0, 0]);
  throws(() => quantizeRowsInto(target, new Float32Array(7), 0), /whole rows/);
  throws(() => quantizeRowsInto(target, new Float32Array(10), 1), /whole rows/);
});

Deno.test("deviceCopy: made once per owner, freed by releaseDeviceCopies", () => {
  const q = quantizeRows(seeded(12, 7), [3, 4], "int8");
  const owner = {}, released: string[] = [];
  let uploads = 0;
  const upload = (name: string) => () => {
    uploads++;
    return { release: () => released.push(name) };
  };
  const first = q.deviceCopy(owner, upload("a"));
  equal(q.deviceCopy(owner, upload("b")), first, "the same copy for the same owner");
  q.deviceCopy({}, upload("c"));
  equal(uploads, 2);
  equal(q.deviceCopies, 2);
  q.releaseDeviceCopies();
  deepEqual(released, ["a", "c"]);
  equal(q.deviceCopies, 0);
});
