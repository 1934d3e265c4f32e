/**
 * The narrow contract the pipeline needs of a DPR encoder (tokenizer plus model), and batched
 * embedding with length bucketing on top of it.
 *
 * Bucketing: inputs are sorted by token length (stably), cut into batches, each batch is padded
 * only to its own longest input (with an attention mask), and the vectors are put back in input
 * order. Sorting keeps similar lengths together so little compute is spent on padding.
 * @module
 */

/** Token ids of one encoder input, special tokens included, already truncated. */
export interface EncodedInput {
  /** Token ids. */
  inputIds: number[];
  /** Token type (segment) ids, same length. */
  tokenTypeIds: number[];
}

/** A batch padded to one length: every row has the same number of columns. */
export interface PaddedBatch {
  /** Token ids, [batch][length]. */
  inputIds: number[][];
  /** 1 for real tokens, 0 for padding, [batch][length]. */
  attentionMask: number[][];
  /** Token type ids, [batch][length]. */
  tokenTypeIds: number[][];
}

/** A text encoder as the pipeline sees it: DPR's question or context encoder with its tokenizer. */
export interface DenseEncoder {
  /** Length of the output vectors. */
  readonly dim: number;
  /** The padding token id. */
  readonly padTokenId: number;
  /**
   * Tokenizes one input (or a pair, e.g. title and text) with special tokens, truncated to the
   * model's maximum length.
   */
  tokenize(text: string, pair?: string): EncodedInput;
  /** The longest input in tokens (special tokens included); longer ones are truncated. */
  readonly maxLength?: number;
  /** The number of tokens of one input, special tokens included, before truncation. */
  countTokens?(text: string): number;
  /** Runs the model on a padded batch; one pooled vector per row. */
  embed(batch: PaddedBatch): Promise<Float32Array[]>;
  /** Frees the model's weights, when it holds any. */
  dispose?(): void;
}

/**
 * Pads encoded inputs to the longest one.
 * @param inputs the inputs (at least one)
 * @param padTokenId the id used for padding
 * @returns the padded batch
 */
export function padBatch(inputs: readonly EncodedInput[], padTokenId: number): PaddedBatch {
  const length = Math.max(0, ...inputs.map((x) => x.inputIds.length));
  const pad = (row: readonly number[], value: number): number[] => {
    const out = row.slice();
    while (out.length < length) out.push(value);
    return out;
  };
  return {
    inputIds: inputs.map((x) => pad(x.inputIds, padTokenId)),
    attentionMask: inputs.map((x) => pad(x.inputIds.map(() => 1), 0)),
    tokenTypeIds: inputs.map((x) => pad(x.tokenTypeIds, 0)),
  };
}

/**
 * Embeds already-tokenized inputs in length-bucketed batches, returning vectors in input order.
 * @param encoder the encoder
 * @param inputs the tokenized inputs
 * @param batchSize the largest batch (default 32)
 * @returns one vector per input
 */
export async function embedEncoded(
  encoder: DenseEncoder,
  inputs: readonly EncodedInput[],
  batchSize = 32,
): Promise<Float32Array[]> {
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new RangeError(
      `Cannot embed: batchSize must be a positive integer: received ${batchSize}`,
    );
  }
  // Stable sort of positions by length: ties keep input order, so results are deterministic.
  const order = inputs.map((_, i) => i).sort((a, b) =>
    inputs[a]!.inputIds.length - inputs[b]!.inputIds.length || a - b
  );
  const out = new Array<Float32Array>(inputs.length);
  for (let start = 0; start < order.length; start += batchSize) {
    const positions = order.slice(start, start + batchSize);
    const vectors = await encoder.embed(
      padBatch(positions.map((p) => inputs[p]!), encoder.padTokenId),
    );
    if (vectors.length !== positions.length) {
      throw new RangeError(
        `Encoder returned ${vectors.length} vectors for a batch of ${positions.length}`,
      );
    }
    positions.forEach((p, i) => out[p] = vectors[i]!);
  }
  return out;
}

/** How passages' token type ids are set. */
export type PassageTokenTypes = "zeros" | "pair";

/**
 * Tokenizes a passage the way DPR's context encoder expects: `[CLS] title [SEP] text [SEP]`
 * (just `[CLS] text [SEP]` when the title is empty). With `tokenTypes` "zeros" (the default) every
 * token type id is 0, as the original DPR and pyserini encode passages; "pair" keeps the
 * tokenizer's ids (1 for the text), as a plain Hugging Face tokenizer call gives
 * (transformers issue 26817).
 * @param encoder the context encoder
 * @param title the passage title
 * @param text the passage text
 * @param tokenTypes "zeros" (default) or "pair"
 * @returns the encoded input
 */
export function tokenizePassage(
  encoder: DenseEncoder,
  title: string,
  text: string,
  tokenTypes: PassageTokenTypes = "zeros",
): EncodedInput {
  const encoded = title === "" ? encoder.tokenize(text) : encoder.tokenize(title, text);
  if (tokenTypes === "zeros") {
    return { inputIds: encoded.inputIds, tokenTypeIds: encoded.inputIds.map(() => 0) };
  }
  if (tokenTypes !== "pair") {
    throw new RangeError(
      `Cannot tokenize passage: tokenTypes must be "zeros" or "pair": received ${tokenTypes}`,
    );
  }
  return encoded;
}
