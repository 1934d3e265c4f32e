/**
 * The explicit map between transformers' PyTorch state-dict names / layouts and this port's
 * weights: a rename table, the list of transposed (Linear) weights, the fused query/key/value
 * split, and the keys a checkpoint may carry that the model ignores.
 * @module
 */
import { isIgnoredKey } from "../io/checkpoint_keys.ts";
import { tf, type tfl } from "../backend/tf.ts";
import type { RawTensor, StateDict } from "../io/state_dict.ts";
import { pytorchNamedSource } from "../io/layers_source.ts";
import type { TensorSource } from "../io/tensor_source.ts";
import { type LayersStep, planLayersLoad, readLayersQuantized } from "./layers_checkpoint.ts";
import {
  emptyQuantized,
  type QuantizedWeight,
  quantizeRows,
  quantizeRowsInto,
} from "../backend/quantized/quantized_weight.ts";
import { holdQuantized, plainWeight } from "../layers/held_weight.ts";
import { landPieces, streamPieces } from "./weight_landing.ts";
import type { EncodedTensor } from "../io/safetensors_write.ts";
import {
  checkStored,
  exportHeld,
  isStoredQuantized,
  loadStored,
  scaleKeys,
  storedDtype,
} from "./quantized_checkpoint.ts";
import type { BertEmbeddings } from "../layers/bert_embeddings.ts";
import type { BertEncoder } from "../layers/bert_encoder.ts";
import type { DPRPooler } from "../layers/dpr_pooler.ts";
import type { DPRSpanHead } from "../layers/dpr_span_head.ts";
import {
  checkDtype,
  CHUNK_ELEMENTS,
  groupBindings,
  WEIGHT_DTYPES,
  type WeightBinding,
  type WeightDtype,
} from "./weight_binding.ts";

export { checkDtype, WEIGHT_DTYPES, type WeightBinding, type WeightDtype };

/** Local (within a BERT layer) name suffixes of PyTorch Linear weights: stored transposed. */
export const TRANSPOSED_SUFFIXES: readonly string[] = [
  "query.weight",
  "key.weight",
  "value.weight",
  "dense.weight",
  "encode_proj.weight",
  "qa_outputs.weight",
  "qa_classifier.weight",
];

function bind(
  key: string,
  variable: tfl.LayerVariable,
  part?: { index: number; count: number },
): WeightBinding {
  const transpose = TRANSPOSED_SUFFIXES.some((suffix) => key.endsWith(suffix));
  return part === undefined ? { key, variable, transpose } : { key, variable, transpose, part };
}

/**
 * Bindings of a BERT (embeddings + encoder) under `prefix` (e.g. `ctx_encoder.bert_model.`).
 * Each line is one row of the rename table: PyTorch name → our object path.
 */
export function bertBindings(
  prefix: string,
  embeddings: BertEmbeddings,
  encoder: BertEncoder,
): WeightBinding[] {
  const p = `${prefix}embeddings.`;
  const out: WeightBinding[] = [
    bind(`${p}word_embeddings.weight`, embeddings.wordEmbeddings),
    bind(`${p}position_embeddings.weight`, embeddings.positionEmbeddings),
    bind(`${p}token_type_embeddings.weight`, embeddings.tokenTypeEmbeddings),
    bind(`${p}LayerNorm.weight`, embeddings.layerNormWeight),
    bind(`${p}LayerNorm.bias`, embeddings.layerNormBias),
  ];
  encoder.layer.forEach((block, i) => {
    const l = `${prefix}encoder.layer.${i}.`;
    const self = block.attention.self;
    const attnOut = block.attention.outputLayer;
    ["query", "key", "value"].forEach((name, index) => {
      // query/key/value live side by side in one fused [H, 3H] kernel and [3H] bias.
      const part = { index, count: 3 };
      out.push(bind(`${l}attention.self.${name}.weight`, self.qkvKernel, part));
      out.push(bind(`${l}attention.self.${name}.bias`, self.qkvBias, part));
    });
    out.push(
      bind(`${l}attention.output.dense.weight`, attnOut.denseKernel),
      bind(`${l}attention.output.dense.bias`, attnOut.denseBias),
      bind(`${l}attention.output.LayerNorm.weight`, attnOut.layerNormWeight),
      bind(`${l}attention.output.LayerNorm.bias`, attnOut.layerNormBias),
      bind(`${l}intermediate.dense.weight`, block.intermediate.denseKernel),
      bind(`${l}intermediate.dense.bias`, block.intermediate.denseBias),
      bind(`${l}output.dense.weight`, block.outputLayer.denseKernel),
      bind(`${l}output.dense.bias`, block.outputLayer.denseBias),
      bind(`${l}output.LayerNorm.weight`, block.outputLayer.layerNormWeight),
      bind(`${l}output.LayerNorm.bias`, block.outputLayer.layerNormBias),
    );
  });
  return out;
}

/** Bindings of `encode_proj` under `prefix` (e.g. `ctx_encoder.`); none without projection. */
export function poolerBindings(prefix: string, pooler: DPRPooler): WeightBinding[] {
  if (pooler.projKernel === null || pooler.projBias === null) return [];
  return [
    bind(`${prefix}encode_proj.weight`, pooler.projKernel),
    bind(`${prefix}encode_proj.bias`, pooler.projBias),
  ];
}

/** Bindings of the reader heads under `prefix` (`span_predictor.`). */
export function spanHeadBindings(prefix: string, head: DPRSpanHead): WeightBinding[] {
  return [
    bind(`${prefix}qa_outputs.weight`, head.qaOutputsKernel),
    bind(`${prefix}qa_outputs.bias`, head.qaOutputsBias),
    bind(`${prefix}qa_classifier.weight`, head.qaClassifierKernel),
    bind(`${prefix}qa_classifier.bias`, head.qaClassifierBias),
  ];
}

/** The PyTorch shape a binding expects, derived from our weight's shape. */
export function expectedShape(binding: WeightBinding): number[] {
  const shape = [...binding.variable.shape] as number[];
  const count = binding.part?.count ?? 1;
  shape[shape.length - 1] = shape[shape.length - 1]! / count;
  return binding.transpose ? [...shape].reverse() : shape;
}

/** Options of {@linkcode loadBindings}. */
export interface LoadStateDictOptions {
  /** Reject keys that are neither bound nor known-ignorable. Default true. */
  strict?: boolean;
  /**
   * How to hold the weights. `"float32"` (default) as they are; `"int8"`: every dense layer's
   * matrix as int8 with one symmetric scale per output channel and the word-embedding table as
   * int8 with one scale per row; `"float16"`: the same matrices as float16. LayerNorm, biases
   * and the other (small) tensors stay float32 either way.
   */
  dtype?: WeightDtype;
}

/**
 * Whether a binding's weight is held quantized when a dtype asks for it: the dense layers'
 * matrices (the transposed ones) and the word-embedding table.
 */
export function isQuantizable(binding: WeightBinding): boolean {
  return isQuantizableKey(binding.key);
}

/**
 * {@linkcode isQuantizable} by checkpoint name alone: a dense layer's weight (the transposed
 * ones) or the word-embedding table.
 * @param key a PyTorch state-dict name
 */
export function isQuantizableKey(key: string): boolean {
  return TRANSPOSED_SUFFIXES.some((suffix) => key.endsWith(suffix)) ||
    key.endsWith("embeddings.word_embeddings.weight");
}

/**
 * Checks a checkpoint's names and shapes against `bindings`: every bound key present with the
 * expected shape (and, where known, as many values), and with `strict` no unknown key.
 * @throws TypeError listing every missing, unexpected and wrongly shaped key
 */
function checkBindings(
  owner: string,
  bindings: WeightBinding[],
  shapes: ReadonlyMap<string, readonly number[]>,
  sizes: ReadonlyMap<string, number> | undefined,
  strict: boolean,
): void {
  const byKey = new Map(bindings.map((b) => [b.key, b]));
  const missing: string[] = [];
  const unexpected: string[] = [];
  const wrongShape: string[] = [];
  for (const binding of bindings) {
    const shape = shapes.get(binding.key);
    if (shape === undefined) {
      missing.push(binding.key);
      continue;
    }
    const want = expectedShape(binding);
    const size = shape.reduce((a, b) => a * b, 1);
    const length = sizes?.get(binding.key) ?? size;
    if (!sameShape(shape, want) || length !== size) {
      wrongShape.push(
        `${binding.key} (expected [${want}], received [${shape}] with ${length} values)`,
      );
    }
  }
  for (const key of shapes.keys()) {
    if (byKey.has(key) || isIgnoredKey(key)) continue;
    unexpected.push(key);
  }
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`missing keys: ${missing.join(", ")}`);
  if (strict && unexpected.length > 0) problems.push(`unexpected keys: ${unexpected.join(", ")}`);
  if (wrongShape.length > 0) problems.push(`wrong shapes: ${wrongShape.join(", ")}`);
  if (problems.length > 0) {
    throw new TypeError(`Cannot load weights into ${owner}: ${problems.join("; ")}`);
  }
}

/**
 * The quantized form of a variable from its checkpoint pieces, in PyTorch's layout (a dense
 * matrix [out, in], fused slices stacked as rows; an embedding table [entries, width]).
 */
function quantizedValue(
  group: WeightBinding[],
  pieces: Float32Array[],
  dtype: "int8" | "float16",
): QuantizedWeight {
  const shapes = group.map((b) => expectedShape(b));
  const cols = shapes[0]![1]!;
  const rows = shapes.reduce((sum, shape) => sum + shape[0]!, 0);
  let values = pieces[0]!;
  if (pieces.length > 1) {
    values = new Float32Array(rows * cols);
    let offset = 0;
    for (const piece of pieces) {
      values.set(piece, offset);
      offset += piece.length;
    }
  }
  return quantizeRows(values, [rows, cols], dtype, { forKernels: true });
}

/**
 * Writes one variable's final value (or quantized form) from its checkpoint pieces.
 * @throws Error naming the weight and the bytes it needed when anything fails
 */
function writeGroup(
  owner: string,
  variable: tfl.LayerVariable,
  group: WeightBinding[],
  pieces: Float32Array[],
  dtype: WeightDtype,
): void {
  try {
    if (dtype !== "float32" && isQuantizable(group[0]!)) {
      holdQuantized(variable, quantizedValue(group, pieces, dtype), group[0]!.transpose);
      return;
    }
    landPieces(variable, group, pieces, expectedShape);
  } catch (error) {
    throw loadError(owner, group, dtype, error);
  }
}

/** Why a variable could not be loaded: its keys, the dtype and the float32 bytes asked for. */
function loadError(
  owner: string,
  group: WeightBinding[],
  dtype: WeightDtype,
  error: unknown,
): RangeError {
  const values = group[0]!.variable.shape.reduce((a: number, b) => a * (b ?? 1), 1);
  return new RangeError(
    `Cannot load ${group.map((b) => b.key).join(", ")} into ${owner} as ${dtype} ` +
      `(${values * 4} bytes of float32 asked for): ${(error as Error).message}`,
    { cause: error },
  );
}

/**
 * Checks `stateDict` against `bindings` completely, then writes every weight. Nothing is
 * written when anything is missing, unexpected (with `strict`) or wrongly shaped.
 * @param owner the model name for error messages
 * @throws TypeError listing every missing, unexpected and wrongly shaped key
 */
export function loadBindings(
  owner: string,
  bindings: WeightBinding[],
  stateDict: StateDict,
  options: LoadStateDictOptions = {},
): void {
  const dtype = checkDtype(owner, options.dtype);
  const shapes = new Map([...stateDict].map(([key, t]) => [key, t.shape] as const));
  const sizes = new Map([...stateDict].map(([key, t]) => [key, t.data.length] as const));
  checkBindings(owner, bindings, shapes, sizes, options.strict ?? true);
  for (const [variable, group] of groupBindings(bindings)) {
    writeGroup(owner, variable, group, group.map((b) => stateDict.get(b.key)!.data), dtype);
  }
}

/**
 * Quantizes a variable's checkpoint tensors as they are read, a block of rows at a time into one
 * reused buffer (each row's scale depends on that row alone), so neither the float32 matrix nor
 * garbage of its size ever exists.
 */
async function streamQuantized(
  owner: string,
  variable: tfl.LayerVariable,
  group: WeightBinding[],
  tensors: TensorSource,
  dtype: "int8" | "float16",
): Promise<void> {
  const shapes = group.map((b) => expectedShape(b));
  const cols = shapes[0]![1]!;
  const rows = shapes.reduce((sum, shape) => sum + shape[0]!, 0);
  try {
    const weight = emptyQuantized([rows, cols], dtype, { forKernels: true });
    const step = Math.max(1, Math.floor(CHUNK_ELEMENTS / cols));
    let offset = 0;
    for (const [i, binding] of group.entries()) {
      const pieceRows = shapes[i]![0]!;
      for (let start = 0; start < pieceRows; start += step) {
        const end = Math.min(pieceRows, start + step);
        const values = await tensors.readRows!(binding.key, start, end);
        quantizeRowsInto(weight, values, offset + start);
      }
      offset += pieceRows;
    }
    holdQuantized(variable, weight, group[0]!.transpose);
  } catch (error) {
    throw new RangeError(
      `Cannot load ${group.map((b) => b.key).join(", ")} into ${owner} as ${dtype} ` +
        `(${rows * cols} values asked for): ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * {@linkcode loadBindings} from a checkpoint read one tensor at a time: after the names and
 * shapes are checked, each variable's tensors are read, written to their final storage (or
 * quantized) and dropped before the next, so memory peaks near the final size plus the largest
 * tensor.
 * @param owner the model name for error messages
 * @param bindings the model's rename table (its variables may be placeholders)
 * @param tensors the checkpoint
 * @param options strictness and dtype
 * @throws TypeError listing every missing, unexpected and wrongly shaped key (nothing written);
 *   RangeError naming the weight when reading or storing one fails
 */
export async function loadBindingsFrom(
  owner: string,
  bindings: WeightBinding[],
  tensors: TensorSource,
  options: LoadStateDictOptions = {},
): Promise<void> {
  if (tensors.layersBindings !== undefined) {
    // A converted layers-model folder: straight into the layers where its layout is the model's.
    const plan = planLayersLoad(bindings, tensors);
    if (plan !== null) {
      return await loadLayersPlan(owner, plan, tensors, checkDtype(owner, options.dtype));
    }
    tensors = pytorchNamedSource(tensors);
  }
  // A file saved quantized loads quantized unless told otherwise.
  const dtype = checkDtype(owner, options.dtype ?? storedDtype(tensors));
  const scales = scaleKeys(tensors);
  const shapes = new Map([...tensors.shapes].filter(([key]) => !scales.has(key)));
  checkBindings(owner, bindings, shapes, undefined, options.strict ?? true);
  checkStored(owner, bindings, tensors, isQuantizable, expectedShape);
  for (const [variable, group] of groupBindings(bindings)) {
    const binding = group[0]!;
    if (isStoredQuantized(group, tensors, dtype)) {
      const plain = await loadStored(variable, group, tensors, dtype, expectedShape);
      if (plain !== undefined) writeGroup(owner, variable, group, plain, "float32");
      continue;
    }
    if (dtype !== "float32" && isQuantizable(binding) && tensors.readRows !== undefined) {
      await streamQuantized(owner, variable, group, tensors, dtype);
      continue;
    }
    if (dtype !== "float32" && isQuantizable(binding)) {
      const pieces: Float32Array[] = [];
      for (const b of group) pieces.push(await tensors.read(b.key));
      writeGroup(owner, variable, group, pieces, dtype);
      continue;
    }
    try {
      await streamPieces(variable, group, tensors, expectedShape);
    } catch (error) {
      throw loadError(owner, group, dtype, error);
    }
  }
}

/**
 * Writes each variable from the stored layers weight that holds it (see `layers_checkpoint.ts`):
 * float32 as it is, or quantized when `dtype` asks and the weight may be.
 */
async function loadLayersPlan(
  owner: string,
  plan: LayersStep[],
  tensors: TensorSource,
  dtype: WeightDtype,
): Promise<void> {
  const scratch = { values: new Float32Array(0) };
  for (const step of plan) {
    const { variable, group } = step;
    if (dtype !== "float32" && isQuantizable(group[0]!)) {
      try {
        holdQuantized(
          variable,
          await readLayersQuantized(step, tensors, dtype, scratch),
          group[0]!.transpose,
        );
      } catch (error) {
        throw loadError(owner, group, dtype, error);
      }
      continue;
    }
    // Already the variable's layout: one binding of the whole stored weight, nothing to
    // rearrange; it lands a block of rows at a time.
    const whole: WeightBinding = { key: step.weight, variable, transpose: false };
    try {
      await streamPieces(variable, [whole], tensors, () => [...variable.shape] as number[]);
    } catch (error) {
      throw loadError(owner, group, "float32", error);
    }
  }
}

/** Our weights as a PyTorch state dict (names and layouts of `bindings`), float32. */
export function exportBindings(bindings: WeightBinding[]): StateDict {
  const out: StateDict = new Map();
  for (const binding of bindings) out.set(binding.key, exportPlain(binding));
  return out;
}

/**
 * Our weights as they are held, for saving: quantized ones as int8 (with `<key>_scale`) or
 * float16 tensors, the others float32 (see `quantized_checkpoint.ts`).
 * @returns the tensors and the dtype to record in the file's metadata
 */
export function exportHeldBindings(
  bindings: WeightBinding[],
): { tensors: Map<string, RawTensor | EncodedTensor>; dtype: WeightDtype } {
  return exportHeld(bindings, expectedShape, exportPlain);
}

/** One binding's tensor in PyTorch's name and layout, float32. */
function exportPlain(binding: WeightBinding): RawTensor {
  const tensor = tf.tidy(() => {
    let t: tf.Tensor = plainWeight(binding.variable);
    if (binding.part !== undefined) {
      const axis = t.rank - 1;
      const size = t.shape[axis]! / binding.part.count;
      const begin = t.shape.map((_, i) => (i === axis ? binding.part!.index * size : 0));
      const sizes = t.shape.map((d, i) => (i === axis ? size : d));
      t = tf.slice(t, begin, sizes);
    }
    return binding.transpose ? tf.transpose(t) : tf.clone(t);
  });
  const raw: RawTensor = {
    shape: [...tensor.shape],
    data: new Float32Array(tensor.dataSync() as Float32Array),
  };
  tensor.dispose();
  return raw;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
