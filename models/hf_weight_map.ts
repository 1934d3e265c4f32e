/**
 * The explicit map between transformers' PyTorch state-dict names / layouts and this port's
 * weights: a rename table, the list of transposed (Linear) weights, the fused query/key/value
 * split, and the keys a checkpoint may carry that the model ignores.
 * @module
 */
import { isIgnoredKey } from "../io/checkpoint_keys.ts";
import { tf, type tfl } from "../backend/tf.ts";
import type { RawTensor, StateDict } from "../io/state_dict.ts";
import type { BertEmbeddings } from "../layers/bert_embeddings.ts";
import type { BertEncoder } from "../layers/bert_encoder.ts";
import type { DPRPooler } from "../layers/dpr_pooler.ts";
import type { DPRSpanHead } from "../layers/dpr_span_head.ts";

/** One checkpoint tensor bound to (a slice of) one of our weights. */
export interface WeightBinding {
  /** Full PyTorch name, e.g. `question_encoder.bert_model.embeddings.word_embeddings.weight`. */
  key: string;
  /** Our weight. */
  variable: tfl.LayerVariable;
  /**
   * PyTorch Linear weights are [out, in]; ours are stored [in, out] so every matmul is a plain
   * 2-D `x @ W` with no `transposeB`.
   */
  transpose: boolean;
  /** For fused weights: this tensor is slice `index` of `count` equal slices of the last axis. */
  part?: { index: number; count: number };
}

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
  const strict = options.strict ?? true;
  const byKey = new Map(bindings.map((b) => [b.key, b]));
  const missing: string[] = [];
  const unexpected: string[] = [];
  const wrongShape: string[] = [];
  for (const binding of bindings) {
    const tensor = stateDict.get(binding.key);
    if (tensor === undefined) {
      missing.push(binding.key);
      continue;
    }
    const want = expectedShape(binding);
    const size = tensor.shape.reduce((a, b) => a * b, 1);
    if (!sameShape(tensor.shape, want) || tensor.data.length !== size) {
      wrongShape.push(
        `${binding.key} (expected [${want}], received [${tensor.shape}] with ${tensor.data.length} values)`,
      );
    }
  }
  for (const key of stateDict.keys()) {
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
  // Group the bindings of each variable (fused weights have several), build every new value
  // first, then write them all.
  const groups = new Map<tfl.LayerVariable, WeightBinding[]>();
  for (const binding of bindings) {
    const group = groups.get(binding.variable) ?? [];
    group.push(binding);
    groups.set(binding.variable, group);
  }
  const values: [tfl.LayerVariable, tf.Tensor][] = [];
  try {
    for (const [variable, group] of groups) {
      group.sort((a, b) => (a.part?.index ?? 0) - (b.part?.index ?? 0));
      values.push([
        variable,
        tf.tidy(() => {
          const pieces = group.map((b) => {
            const raw = stateDict.get(b.key)!;
            const t = tf.tensor(raw.data, raw.shape, "float32");
            return b.transpose ? tf.transpose(t) : t;
          });
          return pieces.length === 1 ? pieces[0]! : tf.concat(pieces, pieces[0]!.rank - 1);
        }),
      ]);
    }
    for (const [variable, value] of values) variable.write(value);
  } finally {
    for (const [, value] of values) value.dispose();
  }
}

/** Our weights as a PyTorch state dict (names and layouts of `bindings`). */
export function exportBindings(bindings: WeightBinding[]): StateDict {
  const out: StateDict = new Map();
  for (const binding of bindings) {
    const tensor = tf.tidy(() => {
      let t: tf.Tensor = binding.variable.read();
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
    out.set(binding.key, raw);
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
