/**
 * The wasm backend's kernel of `gatherRows` (`backend/ops/gather_rows.ts`): rows are copied from
 * the table to the output inside wasm memory (`copyWithin`), so a gather leaves no JavaScript
 * array behind. tfjs-backend-wasm's GatherV2 copies element by element (tens of millions of
 * floats per second, a large share of a BERT forward pass there) and its Slice copies the whole
 * input out of wasm memory per call (1.5 MB of garbage for BERT's position table per forward
 * pass, which the collector left to pile up in a server).
 * @module
 */
import { tf } from "../tf.ts";
import { GATHER_ROWS_KERNEL } from "../ops/gather_rows.ts";

/** What the kernel needs of tfjs's wasm backend: its memory, tensor addresses and outputs. */
interface WasmRowsBackend {
  wasm: { HEAPU8: Uint8Array; _malloc(bytes: number): number };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
}

function gatherRowsWasm(
  args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap },
): tf.TensorInfo {
  const table = args.inputs["table"]!;
  const ids = (args.attrs as unknown as { indices: number[] }).indices;
  const backend = args.backend as WasmRowsBackend;
  const [rows, width] = table.shape as [number, number];
  for (const id of ids) {
    if (!(Number.isInteger(id) && id >= 0 && id < rows)) {
      throw new RangeError(`Cannot gather row ${id}: the table has ${rows} rows`);
    }
  }
  const bytes = ids.length * width * 4;
  if (bytes === 0) return backend.makeOutput([ids.length, width], "float32");
  // `>>> 0`: addresses past 2 GiB come back negative.
  const out = backend.wasm._malloc(bytes) >>> 0;
  if (out === 0) {
    throw new RangeError(`Cannot gather ${ids.length} rows in wasm memory: ${bytes} bytes refused`);
  }
  // Read after the allocation, which may have grown (and replaced) the heap's buffer.
  const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
  const from = (backend.dataIdMap.get(table.dataId)!.memoryOffset >>> 0) / 4;
  for (let i = 0; i < ids.length; i++) {
    const start = from + ids[i]! * width;
    heap.copyWithin(out / 4 + i * width, start, start + width);
  }
  return backend.makeOutput([ids.length, width], "float32", out);
}

if (tf.getKernel(GATHER_ROWS_KERNEL, "wasm") === undefined) {
  tf.registerKernel({
    kernelName: GATHER_ROWS_KERNEL,
    backendName: "wasm",
    kernelFunc: gatherRowsWasm as unknown as tf.KernelFunc,
  });
}
