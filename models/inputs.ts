/**
 * Checks and normalises the inputs of a DPR forward pass before any kernel runs: tfjs would
 * otherwise gather zeros for out-of-range ids or broadcast mismatched shapes silently.
 * @module
 */
import { tf } from "../backend/tf.ts";
import type { DPRConfig } from "./config.ts";

/** A [batch, seq] integer input: a tfjs tensor or nested number arrays. */
export type IntMatrixInput = tf.Tensor | number[][];
/** A [batch, seq, hidden] float input: a tfjs tensor or nested number arrays. */
export type EmbedsInput = tf.Tensor | number[][][];

/** Inputs of a DPR forward pass: exactly one of `inputIds` / `inputsEmbeds`. */
export interface DPRInputs {
  /** Token ids [batch, seq]. */
  inputIds?: IntMatrixInput;
  /** 1 where a token may be attended to, 0 for padding [batch, seq]. */
  attentionMask?: IntMatrixInput;
  /** Segment ids [batch, seq] (encoders only). */
  tokenTypeIds?: IntMatrixInput;
  /** Input embeddings [batch, seq, hidden], used instead of looking up `inputIds`. */
  inputsEmbeds?: EmbedsInput;
}

/** Validated inputs, as flat typed arrays (or the caller's embeddings tensor). */
export interface PreparedInputs {
  /** Batch size. */
  batch: number;
  /** Sequence length. */
  seq: number;
  /** Token ids, row-major, when given. */
  inputIds?: Int32Array;
  /** Embeddings, when given as arrays. */
  inputsEmbeds?: Float32Array;
  /** Embeddings, when given as a tensor (not copied). */
  inputsEmbedsTensor?: tf.Tensor3D;
  /** Token types, row-major. */
  tokenTypeIds: Int32Array;
  /** The additive attention bias per position (0 or float32 min), or null when all attend. */
  maskBias: Float32Array | null;
}

/** How a model fills in what the caller left out. */
export interface InputDefaults {
  /** `"padding"`: mask = inputIds != padTokenId (encoders); `"ones"`: attend everywhere (reader). */
  mask: "padding" | "ones";
  /** Whether `tokenTypeIds` may be given (the reader takes none). */
  tokenTypes: boolean;
}

const FLOAT32_MIN = -3.4028234663852886e38;

function shapeOf(value: unknown, depth: number, owner: string, name: string): number[] {
  const shape: number[] = [];
  let level: unknown = value;
  for (let d = 0; d < depth; d++) {
    if (!Array.isArray(level)) {
      throw new TypeError(
        `Cannot run ${owner}: ${name} must be a ${depth}-D array or tensor: nesting stops at depth ${d}`,
      );
    }
    shape.push(level.length);
    level = level[0];
  }
  return shape;
}

function flatten(
  value: unknown,
  shape: number[],
  owner: string,
  name: string,
): Float64Array {
  const out = new Float64Array(shape.reduce((a, b) => a * b, 1));
  let offset = 0;
  const walk = (node: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof node !== "number") {
        throw new TypeError(
          `Cannot run ${owner}: ${name}${path} must be a number: received ${typeof node}`,
        );
      }
      out[offset++] = node;
      return;
    }
    if (!Array.isArray(node) || node.length !== shape[depth]) {
      throw new TypeError(
        `Cannot run ${owner}: ${name} must be rectangular with shape [${shape}]: ${name}${path} has ${
          Array.isArray(node) ? `length ${node.length}` : `type ${typeof node}`
        }`,
      );
    }
    node.forEach((child, i) => walk(child, depth + 1, `${path}[${i}]`));
  };
  walk(value, 0, "");
  return out;
}

function readMatrix(
  value: IntMatrixInput,
  owner: string,
  name: string,
): { shape: number[]; data: ArrayLike<number> } {
  if (value instanceof tf.Tensor) {
    if (value.rank !== 2) {
      throw new TypeError(
        `Cannot run ${owner}: ${name} must be 2-D [batch, seq]: received shape [${value.shape}]`,
      );
    }
    if (value.dtype === "string" || value.dtype === "complex64") {
      throw new TypeError(
        `Cannot run ${owner}: ${name} must be numeric: received dtype ${value.dtype}`,
      );
    }
    return { shape: value.shape, data: value.dataSync() as ArrayLike<number> };
  }
  const shape = shapeOf(value, 2, owner, name);
  return { shape, data: flatten(value, shape, owner, name) };
}

function checkIntegers(
  data: ArrayLike<number>,
  owner: string,
  name: string,
  low: number,
  high: number,
  rule: string,
): Int32Array {
  const out = new Int32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!Number.isInteger(v)) {
      throw new TypeError(`Cannot run ${owner}: ${name} must hold integers: received ${v}`);
    }
    if (v < low || v >= high) {
      throw new RangeError(`Cannot run ${owner}: ${name} ${rule}: received ${v}`);
    }
    out[i] = v;
  }
  return out;
}

function sameShapeOrThrow(
  owner: string,
  name: string,
  shape: number[],
  expected: number[],
  reference: string,
): void {
  if (shape.length !== expected.length || shape.some((d, i) => d !== expected[i])) {
    throw new TypeError(
      `Cannot run ${owner}: ${name} must have the shape of ${reference} [${expected}]: received [${shape}]`,
    );
  }
}

/**
 * Validates `inputs` for a model with `config` and fills in the defaults.
 * @param owner the model name for error messages
 * @throws TypeError for missing, conflicting or mis-shaped inputs; RangeError for ids, token
 *   types or lengths out of range
 */
export function prepareInputs(
  config: DPRConfig,
  inputs: DPRInputs,
  owner: string,
  defaults: InputDefaults,
): PreparedInputs {
  if (typeof inputs !== "object" || inputs === null) {
    throw new TypeError(`Cannot run ${owner}: inputs must be an object: received ${inputs}`);
  }
  const hasIds = inputs.inputIds !== undefined && inputs.inputIds !== null;
  const hasEmbeds = inputs.inputsEmbeds !== undefined && inputs.inputsEmbeds !== null;
  if (hasIds === hasEmbeds) {
    throw new TypeError(
      `Cannot run ${owner}: give exactly one of inputIds and inputsEmbeds: received ${
        hasIds ? "both" : "neither"
      }`,
    );
  }
  if (!defaults.tokenTypes && inputs.tokenTypeIds !== undefined) {
    throw new TypeError(`Cannot run ${owner}: it takes no tokenTypeIds (they are always 0)`);
  }
  const H = config.hiddenSize;
  let batch: number;
  let seq: number;
  const prepared: Partial<PreparedInputs> = {};
  let idsForMask: Int32Array | undefined;
  if (hasIds) {
    const { shape, data } = readMatrix(inputs.inputIds!, owner, "inputIds");
    [batch, seq] = shape as [number, number];
    prepared.inputIds = checkIntegers(
      data,
      owner,
      "inputIds",
      0,
      config.vocabSize,
      `must be token ids in [0, ${config.vocabSize}) (vocabSize)`,
    );
    idsForMask = prepared.inputIds;
  } else {
    const value = inputs.inputsEmbeds!;
    if (value instanceof tf.Tensor) {
      if (value.rank !== 3 || value.shape[2] !== H) {
        throw new TypeError(
          `Cannot run ${owner}: inputsEmbeds must be [batch, seq, ${H}] (hiddenSize ${H}): received shape [${value.shape}]`,
        );
      }
      if (value.dtype !== "float32") {
        throw new TypeError(
          `Cannot run ${owner}: inputsEmbeds must be float32: received dtype ${value.dtype}`,
        );
      }
      [batch, seq] = value.shape as [number, number];
      prepared.inputsEmbedsTensor = value as tf.Tensor3D;
    } else {
      const shape = shapeOf(value, 3, owner, "inputsEmbeds");
      if (shape[2] !== H) {
        throw new TypeError(
          `Cannot run ${owner}: inputsEmbeds must be [batch, seq, ${H}] (hiddenSize ${H}): received shape [${shape}]`,
        );
      }
      [batch, seq] = shape as [number, number];
      prepared.inputsEmbeds = Float32Array.from(flatten(value, shape, owner, "inputsEmbeds"));
    }
  }
  if (batch < 1 || seq < 1) {
    throw new RangeError(
      `Cannot run ${owner}: batch and sequence length must be at least 1: received [${batch}, ${seq}]`,
    );
  }
  if (seq > config.maxPositionEmbeddings) {
    throw new RangeError(
      `Cannot run ${owner}: sequence length must be at most maxPositionEmbeddings ${config.maxPositionEmbeddings}: received ${seq}`,
    );
  }
  const reference = hasIds ? "inputIds" : "inputsEmbeds' first two axes";
  if (inputs.tokenTypeIds !== undefined) {
    const { shape, data } = readMatrix(inputs.tokenTypeIds, owner, "tokenTypeIds");
    sameShapeOrThrow(owner, "tokenTypeIds", shape, [batch, seq], reference);
    prepared.tokenTypeIds = checkIntegers(
      data,
      owner,
      "tokenTypeIds",
      0,
      config.typeVocabSize,
      `must be in [0, ${config.typeVocabSize}) (typeVocabSize)`,
    );
  } else {
    prepared.tokenTypeIds = new Int32Array(batch * seq);
  }
  let mask: ArrayLike<number> | null = null;
  if (inputs.attentionMask !== undefined) {
    const { shape, data } = readMatrix(inputs.attentionMask, owner, "attentionMask");
    sameShapeOrThrow(owner, "attentionMask", shape, [batch, seq], reference);
    for (let i = 0; i < data.length; i++) {
      if (data[i] !== 0 && data[i] !== 1) {
        throw new RangeError(
          `Cannot run ${owner}: attentionMask must hold only 0 and 1: received ${data[i]}`,
        );
      }
    }
    mask = data;
  } else if (defaults.mask === "padding" && idsForMask !== undefined) {
    const pad = config.padTokenId;
    mask = Array.from(idsForMask, (id) => (id === pad ? 0 : 1));
  }
  let maskBias: Float32Array | null = null;
  if (mask !== null && Array.prototype.some.call(mask, (m: number) => m === 0)) {
    maskBias = new Float32Array(mask.length);
    // transformers: (1 - mask) * finfo(float32).min
    for (let i = 0; i < mask.length; i++) maskBias[i] = mask[i] === 0 ? FLOAT32_MIN : 0;
  }
  return { ...prepared, batch, seq, tokenTypeIds: prepared.tokenTypeIds, maskBias };
}
