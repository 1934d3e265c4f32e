/**
 * A `pytorch_model.bin` as a {@linkcode TensorSource}: the small pickle is parsed and every
 * tensor's storage located (and checked to lie whole inside the file) when it is opened; each
 * tensor's bytes are read when asked for, by range, so the file is never held whole.
 * @module
 */
import type { ByteReader } from "./byte_reader.ts";
import type { NonFiniteOption } from "./finite_weights.ts";
import { findStateDict, openPytorchCheckpoint, tensorRefs } from "./pytorch_pickle.ts";
import { type RangedTensor, rangedTensorSource } from "./ranged_source.ts";
import type { TensorSource } from "./tensor_source.ts";
import { decodeWindow, tensorWindow } from "./torch_storage.ts";

/**
 * Opens a `pytorch_model.bin` (zip or legacy format) held by a reader; closing the source closes
 * the reader (also when opening fails).
 * @param reader the file (its description names it in errors)
 * @param nonFinite `allowNonFinite: true` lets NaN and infinities through (refused by default)
 * @returns the tensors, in the state dict's order
 * @throws RangeError naming the tensor whose storage is missing, cut, or past the end of the file
 */
export async function pytorchSource(
  reader: ByteReader,
  nonFinite: NonFiniteOption = {},
): Promise<TensorSource> {
  try {
    const checkpoint = await openPytorchCheckpoint(reader, reader.description);
    const root = findStateDict(checkpoint.root, reader.description);
    const tensors: RangedTensor[] = [];
    for (const [name, ref] of tensorRefs(root, reader.description)) {
      const location = await checkpoint.locate(ref, name);
      const window = tensorWindow(ref, name, checkpoint.where, location.bytes);
      const whole = window.begin === 0 && window.end === location.bytes;
      const base = { name, shape: [...ref.shape], dtype: ref.storage.dtype, reader };
      if (window.contiguous && (whole || location.crc32 === undefined)) {
        tensors.push({
          ...base,
          begin: location.start + window.begin,
          byteLength: window.end - window.begin,
          ...(whole && location.crc32 !== undefined ? { crc32: location.crc32 } : {}),
        });
        continue;
      }
      // A strided view, or part of a storage whose checksum covers it all: read the storage.
      tensors.push({
        ...base,
        begin: location.start,
        byteLength: location.bytes,
        ...(location.crc32 !== undefined ? { crc32: location.crc32 } : {}),
        decode: (bytes) => decodeWindow(ref, name, bytes.subarray(window.begin, window.end)).data,
        wholeOnly: true,
      });
    }
    return rangedTensorSource(reader.description, tensors, {
      allowNonFinite: nonFinite.allowNonFinite,
      close: () => reader.close(),
    });
  } catch (error) {
    reader.close();
    throw error;
  }
}
