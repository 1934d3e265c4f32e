/**
 * The wasm backend's kernel of `gatherRows` (`backend/ops/gather_rows.ts`): rows are copied
 * straight out of wasm memory with ranged reads. tfjs-backend-wasm's GatherV2 copies element by
 * element (tens of millions of floats per second, a large share of a BERT forward pass there) and
 * its Slice copies the whole input per call.
 * @module
 */
import { tf } from "../tf.ts";
import { GATHER_ROWS_KERNEL } from "../ops/gather_rows.ts";

/** The wasm backend's ranged read (its `readSync` takes an element range) and its output. */
interface RangedReader {
  readSync(dataId: object, start?: number, end?: number): ArrayLike<number>;
  makeOutput(
    shape: number[],
    dtype: tf.DataType,
    memoryOffset?: number,
    values?: Float32Array,
  ): tf.TensorInfo;
}

function gatherRowsWasm(
  args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const table = args.inputs["table"]!;
  const ids = (args.attrs as unknown as { indices: number[] }).indices;
  const reader = args.backend as RangedReader;
  const [rows, width] = table.shape as [number, number];
  const out = new Float32Array(ids.length * width);
  const cache = new Map<number, ArrayLike<number>>();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    let row = cache.get(id);
    if (row === undefined) {
      if (!(Number.isInteger(id) && id >= 0 && id < rows)) {
        throw new RangeError(`Cannot gather row ${id}: the table has ${rows} rows`);
      }
      row = reader.readSync(table.dataId, id * width, (id + 1) * width);
      cache.set(id, row);
    }
    out.set(row, i * width);
  }
  return reader.makeOutput([ids.length, width], "float32", undefined, out);
}

if (tf.getKernel(GATHER_ROWS_KERNEL, "wasm") === undefined) {
  tf.registerKernel({
    kernelName: GATHER_ROWS_KERNEL,
    backendName: "wasm",
    kernelFunc: gatherRowsWasm as unknown as tf.KernelFunc,
  });
}
