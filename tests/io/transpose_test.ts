// transposeInto against the plain definition, on sizes around the tile's (32) and with the
// transpose placed beside others in a wider matrix, as a fused weight's slices are.
import assert from "node:assert/strict";
import { transposeInto } from "../../io/transpose.ts";

function naive(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  }
  return out;
}

Deno.test("transposeInto: equals the plain transpose, tile edges and single rows included", () => {
  for (const [rows, cols] of [[1, 1], [1, 70], [70, 1], [31, 33], [32, 32], [37, 70], [96, 65]]) {
    const data = Float32Array.from({ length: rows! * cols! }, (_, i) => i * 0.5 - 3);
    const out = new Float32Array(rows! * cols!);
    transposeInto(data, rows!, cols!, out);
    assert.deepEqual(out, naive(data, rows!, cols!), `[${rows}, ${cols}]`);
  }
});

Deno.test("transposeInto: slices side by side in a wider matrix, the other columns untouched", () => {
  const rows = 33, cols = 40, count = 3;
  const out = new Float32Array(cols * rows * count).fill(-1);
  const slices = Array.from(
    { length: count },
    (_, s) => Float32Array.from({ length: rows * cols }, (_, i) => s * 10_000 + i),
  );
  transposeInto(slices[0]!, rows, cols, out, rows * count, 0);
  transposeInto(slices[2]!, rows, cols, out, rows * count, 2 * rows);
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < rows; r++) {
      assert.equal(out[c * rows * count + r], slices[0]![r * cols + c]);
      assert.equal(out[c * rows * count + rows + r], -1, "slice 1's columns are left alone");
      assert.equal(out[c * rows * count + 2 * rows + r], slices[2]![r * cols + c]);
    }
  }
  assert.throws(
    () => transposeInto(slices[1]!, rows, cols, out, rows * count, 2 * rows + 1),
    /Cannot transpose a \[33, 40\] matrix of 1320 values into columns 67\.\.100 of a \[40, 99\]/,
  );
  assert.throws(() => transposeInto(slices[1]!, rows, cols + 1, out), RangeError);
});
