/**
 * The wasm backend's {@linkcode TensorFill}: the tensor is allocated in tfjs's heap first and its
 * values written there directly, so loading a weight adds exactly its bytes to the heap (which
 * never shrinks: a temporary copy there, or a transposed one, would stay as resident memory).
 * @module
 */
import { tf } from "../tf.ts";
import { registerTensorFill, type TensorFill } from "../tensor_fill.ts";

/** What a fill needs of tfjs's wasm backend. */
interface WasmHeap {
  wasm: { HEAPU8: Uint8Array; _malloc(bytes: number): number; _free(address: number): void };
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number): tf.TensorInfo;
}

function heapFill(shape: readonly number[]): TensorFill {
  const backend = tf.backend() as unknown as WasmHeap;
  const size = shape.reduce((a, b) => a * b, 1);
  const bytes = size * 4;
  // `>>> 0`: addresses past 2 GiB come back negative.
  const address = bytes === 0 ? 0 : backend.wasm._malloc(bytes) >>> 0;
  if (bytes > 0 && address === 0) {
    throw new RangeError(
      `Cannot allocate a [${shape}] float32 tensor in wasm memory: ${bytes} bytes refused`,
    );
  }
  let open = true;
  return {
    shape,
    view(): Float32Array {
      if (!open) throw new Error("TensorFill: used after finish() or dispose()");
      return new Float32Array(backend.wasm.HEAPU8.buffer, address, size);
    },
    finish(): tf.Tensor {
      if (!open) throw new Error("TensorFill: used after finish() or dispose()");
      open = false;
      if (bytes === 0) return tf.zeros([...shape]);
      const info = backend.makeOutput([...shape], "float32", address);
      return tf.engine().makeTensorFromTensorInfo(info, backend as unknown as tf.KernelBackend);
    },
    dispose(): void {
      if (open && bytes > 0) backend.wasm._free(address);
      open = false;
    },
  };
}

registerTensorFill("wasm", heapFill);
