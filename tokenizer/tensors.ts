/**
 * Turns a padded batch encoding into int32 tfjs tensors (`returnTensors: "tf"`).
 * @module
 */
import { tf } from "../backend/tf.ts";
import type { BatchEncoding } from "./encoding.ts";

/** An encoding as int32 tensors of shape `[batch, length]` (offsets `[batch, length, 2]`). */
export interface TokenizerTensors {
  /** Token ids. */
  inputIds: tf.Tensor2D;
  /** Token types. */
  tokenTypeIds?: tf.Tensor2D;
  /** Attention mask. */
  attentionMask?: tf.Tensor2D;
  /** Special tokens mask. */
  specialTokensMask?: tf.Tensor2D;
  /** Offsets. */
  offsetMapping?: tf.Tensor3D;
}

/** The rows `toTensors` reads: a batch encoding. */
export type EncodingRows = BatchEncoding;

function matrix(rows: number[][], owner: string): tf.Tensor2D {
  const width = rows[0]?.length ?? 0;
  for (const row of rows) {
    if (row.length !== width) {
      throw new RangeError(
        `Cannot make tensors in ${owner}: rows have different lengths (${width} and ` +
          `${row.length}); pass padding: true or "max_length"`,
      );
    }
  }
  return tf.tensor2d(rows.flat(), [rows.length, width], "int32");
}

/**
 * @param rows the padded rows
 * @param owner the tokenizer's name, for errors
 * @returns one int32 tensor per key
 * @throws {RangeError} when rows differ in length
 */
export function toTensors(rows: EncodingRows, owner: string): TokenizerTensors {
  const out: TokenizerTensors = { inputIds: matrix(rows.inputIds, owner) };
  if (rows.tokenTypeIds) out.tokenTypeIds = matrix(rows.tokenTypeIds, owner);
  if (rows.attentionMask) out.attentionMask = matrix(rows.attentionMask, owner);
  if (rows.specialTokensMask) out.specialTokensMask = matrix(rows.specialTokensMask, owner);
  if (rows.offsetMapping) {
    const width = rows.inputIds[0]?.length ?? 0;
    out.offsetMapping = tf.tensor3d(
      rows.offsetMapping.flat(2),
      [rows.offsetMapping.length, width, 2],
      "int32",
    );
  }
  return out;
}
