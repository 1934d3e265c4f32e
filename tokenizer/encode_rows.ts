/**
 * The stages `encode` runs after tokenizing, in order: resolve the options (strategies, lengths,
 * which keys to return), truncate each row (`truncation.ts`), add the special tokens
 * (`post_processor.ts`), pad (`padding.ts`), and hand back the asked-for keys, as lists or
 * tensors (`tensors.ts`).
 * @module
 */
import type { BatchEncoding, EncodeOptions, Encoding, TensorEncodeOptions } from "./encoding.ts";
import { paddedLength, type PaddingStrategy, paddingStrategy, padRows } from "./padding.ts";
import type { BertPostProcessor, Row } from "./post_processor.ts";
import { type TokenizerTensors, toTensors } from "./tensors.ts";
import {
  type TokenSequence,
  truncatePair,
  type TruncationStrategy,
  truncationStrategy,
} from "./truncation.ts";

/** A tokenized row: its first and optional second sequence. */
export interface TokenizedRow {
  /** The first sequence. */
  a: TokenSequence;
  /** The second sequence, or `null`. */
  b: TokenSequence | null;
}

/** What the stages need of the tokenizer. */
export interface RowEncoder {
  /** The tokenizer's class name, for errors. */
  name: string;
  /** Its post-processor. */
  post: BertPostProcessor;
  /** The id padding gets. */
  padTokenId: number;
  /** The length used when `maxLength` is needed and not given. */
  modelMaxLength: number;
  /** The model's inputs (which keys are returned by default). */
  modelInputNames: readonly string[];
}

/** The encode options, resolved and checked. */
export interface EncodeSettings {
  /** Add `[CLS]` / `[SEP]`. */
  addSpecial: boolean;
  /** How to truncate. */
  truncation: TruncationStrategy;
  /** How to pad. */
  padding: PaddingStrategy;
  /** The length to truncate or pad to. */
  maxLength: number | undefined;
  /** Round padded lengths up to a multiple of this. */
  multiple: number | undefined;
  /** Return `tokenTypeIds`. */
  returnTypes: boolean;
  /** Return `attentionMask`. */
  returnMask: boolean;
  /** Return `specialTokensMask`. */
  returnSpecial: boolean;
  /** Return `offsetMapping`. */
  returnOffsets: boolean;
}

/**
 * Resolves the encode options as Hugging Face does: truncation implied by `maxLength` without
 * padding, `modelMaxLength` where a length is needed and not given.
 * @param options the encode options
 * @param encoder the tokenizer's side
 * @returns the settings
 * @throws RangeError for lengths that are not positive integers or do not fit together
 */
export function resolveEncodeSettings(
  options: EncodeOptions | TensorEncodeOptions,
  encoder: RowEncoder,
): EncodeSettings {
  const name = encoder.name;
  const addSpecial = options.addSpecialTokens ?? true;
  const pad = paddingStrategy(options.padding ?? false);
  let truncation = options.truncation === undefined
    ? (options.maxLength !== undefined && pad === "do_not_pad"
      ? "longest_first"
      : "do_not_truncate")
    : truncationStrategy(options.truncation);
  let maxLength = options.maxLength;
  let padding = pad;
  if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) {
    throw new RangeError(
      `Cannot encode with ${name}: maxLength must be a non-negative integer: received ${maxLength}`,
    );
  }
  const multiple = options.padToMultipleOf;
  if (multiple !== undefined && (!Number.isInteger(multiple) || multiple <= 0)) {
    throw new RangeError(
      `Cannot encode with ${name}: padToMultipleOf must be a positive integer: received ${multiple}`,
    );
  }
  if (maxLength === undefined) {
    const limit = Number.isFinite(encoder.modelMaxLength) ? encoder.modelMaxLength : undefined;
    if (padding === "max_length") {
      if (limit === undefined) padding = "do_not_pad";
      else maxLength = limit;
    }
    if (truncation !== "do_not_truncate") {
      if (limit === undefined) truncation = "do_not_truncate";
      else maxLength = limit;
    }
  }
  if (
    truncation !== "do_not_truncate" && padding !== "do_not_pad" && multiple !== undefined &&
    maxLength !== undefined && maxLength % multiple !== 0
  ) {
    throw new RangeError(
      `Cannot encode with ${name}: truncation and padding are both on, so maxLength ` +
        `(${maxLength}) must be a multiple of padToMultipleOf (${multiple})`,
    );
  }
  const returnTypes = options.returnTokenTypeIds ??
    encoder.modelInputNames.includes("token_type_ids");
  if (options.returnTokenTypeIds === true && !addSpecial) {
    throw new TypeError(
      `Cannot encode with ${name}: returnTokenTypeIds needs addSpecialTokens (token types ` +
        `are undefined without them)`,
    );
  }
  const returnMask = options.returnAttentionMask ??
    encoder.modelInputNames.includes("attention_mask");
  return {
    addSpecial,
    truncation,
    padding,
    maxLength,
    multiple,
    returnTypes,
    returnMask,
    returnSpecial: options.returnSpecialTokensMask ?? false,
    returnOffsets: options.returnOffsetsMapping ?? false,
  };
}

/**
 * One row through truncation and the post-processor.
 * @param row the tokenized row
 * @param settings the resolved options
 * @param encoder the tokenizer's side
 * @returns the row with special tokens, before padding
 * @throws RangeError when `maxLength` leaves no room for the special tokens
 */
export function finishRow(row: TokenizedRow, settings: EncodeSettings, encoder: RowEncoder): Row {
  const pair = row.b !== null;
  const special = settings.addSpecial ? encoder.post.numSpecialTokensToAdd(pair) : 0;
  const { truncation, maxLength } = settings;
  if (truncation !== "do_not_truncate" && maxLength !== undefined && maxLength < special) {
    throw new RangeError(
      `Cannot encode with ${encoder.name}: maxLength must leave room for the ${special} special ` +
        `tokens of ${pair ? "a pair" : "one sequence"}: received ${maxLength}`,
    );
  }
  const [a, b] = truncatePair(row.a, row.b, special, maxLength, truncation);
  return encoder.post.row(a, b, settings.addSpecial, settings.returnOffsets);
}

/**
 * Truncates, adds special tokens and pads tokenized rows, and returns the asked-for keys.
 * @param rows each row's first and optional second sequence
 * @param options the encode options
 * @param batched whether to return rows (else the first row alone)
 * @param encoder the tokenizer's side
 * @returns the encoding: lists per row, one row's lists, or tensors
 */
export function encodeRows(
  rows: readonly TokenizedRow[],
  options: EncodeOptions | TensorEncodeOptions,
  batched: boolean,
  encoder: RowEncoder,
): Encoding | BatchEncoding | TokenizerTensors {
  const settings = resolveEncodeSettings(options, encoder);
  const prepared = rows.map((row) => finishRow(row, settings, encoder));
  const target = paddedLength(
    prepared.map((row) => row.ids.length),
    settings.padding,
    settings.maxLength,
    settings.multiple,
  );
  const padded = padRows(prepared, target, encoder.padTokenId);
  const result: BatchEncoding = { inputIds: padded.inputIds };
  if (settings.returnTypes) result.tokenTypeIds = padded.tokenTypeIds;
  if (settings.returnMask) result.attentionMask = padded.attentionMask;
  if (settings.returnSpecial) result.specialTokensMask = padded.specialTokensMask;
  if (settings.returnOffsets) result.offsetMapping = padded.offsetMapping;
  if ("returnTensors" in options && options.returnTensors !== undefined) {
    if (options.returnTensors !== "tf") {
      throw new TypeError(
        `Cannot encode with ${encoder.name}: returnTensors must be "tf": received ${
          JSON.stringify(options.returnTensors)
        }`,
      );
    }
    return toTensors(result, encoder.name);
  }
  if (batched) return result;
  const single: Encoding = { inputIds: padded.inputIds[0]! };
  if (settings.returnTypes) single.tokenTypeIds = padded.tokenTypeIds[0]!;
  if (settings.returnMask) single.attentionMask = padded.attentionMask[0]!;
  if (settings.returnSpecial) single.specialTokensMask = padded.specialTokensMask[0]!;
  if (settings.returnOffsets) single.offsetMapping = padded.offsetMapping[0]!;
  return single;
}
