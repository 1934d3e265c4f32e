/**
 * A float32 tensor written piece by piece straight into the storage it will keep, so that a
 * loader never holds a second full copy of a weight: on wasm the values go into tfjs's heap (a
 * temporary copy there would stay as resident memory, since the heap never shrinks); elsewhere
 * into one array that becomes the tensor's data (the cpu backend keeps it as is).
 * @module
 */
import { tf } from "./tf.ts";

/** A tensor being written. */
export interface TensorFill {
  /** The tensor's shape. */
  readonly shape: readonly number[];
  /**
   * The tensor's values, row-major, to write into. On wasm this is a view of memory that can
   * move: take it again after any `await`, and write before the next one.
   */
  view(): Float32Array;
  /** Hands over the tensor (the caller owns it); the fill cannot be used afterwards. */
  finish(): tf.Tensor;
  /** Frees the storage of a fill that will not be finished (does nothing after `finish`). */
  dispose(): void;
}

/** Makes a fill of `shape` on the active backend. */
export type TensorFillFactory = (shape: readonly number[]) => TensorFill;

const factories = new Map<string, TensorFillFactory>();

/**
 * Makes `factory` the way fills are made on `backendName` (a backend whose tensors live in a
 * memory of their own).
 * @param backendName e.g. "wasm"
 * @param factory makes a fill of a shape
 */
export function registerTensorFill(backendName: string, factory: TensorFillFactory): void {
  factories.set(backendName, factory);
}

/**
 * A float32 tensor of `shape` to be written in place, on the active backend.
 * @param shape the tensor's shape
 * @returns the fill (its values start undefined: write every one)
 * @throws RangeError when the storage cannot be allocated, naming the bytes
 */
export function tensorFill(shape: readonly number[]): TensorFill {
  const factory = factories.get(tf.getBackend()) ?? arrayFill;
  return factory(shape);
}

/** The default: one array, handed to the backend as the tensor's values. */
function arrayFill(shape: readonly number[]): TensorFill {
  const size = shape.reduce((a, b) => a * b, 1);
  let values: Float32Array | undefined;
  try {
    values = new Float32Array(size);
  } catch (error) {
    throw new RangeError(
      `Cannot allocate a [${shape}] float32 tensor (${size * 4} bytes): ` +
        (error as Error).message,
      { cause: error },
    );
  }
  return {
    shape,
    view(): Float32Array {
      if (values === undefined) throw new Error("TensorFill: used after finish() or dispose()");
      return values;
    },
    finish(): tf.Tensor {
      const data = this.view();
      values = undefined;
      return tf.tensor(data, [...shape], "float32");
    },
    dispose(): void {
      values = undefined;
    },
  };
}
