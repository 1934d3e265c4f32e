/**
 * `DPRConfig`: the hyper-parameters of a DPR model, field for field transformers' `DPRConfig`,
 * read from and written to a Hugging Face `config.json`.
 * @module
 */
import { ACTIVATIONS } from "../layers/activations.ts";

/** The constructor fields of {@linkcode DPRConfig}; every one is optional. */
export interface DPRConfigInit {
  /** Token vocabulary size (`vocab_size`). Default 30522. */
  vocabSize?: number;
  /** Hidden width (`hidden_size`). Default 768. */
  hiddenSize?: number;
  /** Transformer layers (`num_hidden_layers`). Default 12. */
  numHiddenLayers?: number;
  /** Attention heads per layer (`num_attention_heads`); must divide `hiddenSize`. Default 12. */
  numAttentionHeads?: number;
  /** Feed-forward width (`intermediate_size`). Default 3072. */
  intermediateSize?: number;
  /** Feed-forward activation (`hidden_act`). Default `"gelu"` (the exact erf form). */
  hiddenAct?: string;
  /** Dropout after embeddings and each sub-block (`hidden_dropout_prob`). Default 0.1. */
  hiddenDropoutProb?: number;
  /** Dropout on attention probabilities (`attention_probs_dropout_prob`). Default 0.1. */
  attentionProbsDropoutProb?: number;
  /** Longest sequence (`max_position_embeddings`). Default 512. */
  maxPositionEmbeddings?: number;
  /** Number of token types (`type_vocab_size`). Default 2. */
  typeVocabSize?: number;
  /** Standard deviation of the random initialisation (`initializer_range`). Default 0.02. */
  initializerRange?: number;
  /** LayerNorm epsilon (`layer_norm_eps`). Default 1e-12. */
  layerNormEps?: number;
  /** Padding token id (`pad_token_id`). Default 0. */
  padTokenId?: number;
  /** Width of `encode_proj` after the [CLS] state; 0 means none (`projection_dim`). Default 0. */
  projectionDim?: number;
  /** Position embedding kind (`position_embedding_type`); only `"absolute"`. Default `"absolute"`. */
  positionEmbeddingType?: string;
  /** Other `config.json` keys (`architectures`, `model_type`, ...), kept as they are. */
  extra?: Record<string, unknown>;
}

/** The position embedding types this port implements. */
const POSITION_EMBEDDING_TYPES = ["absolute"];

/** camelCase property ↔ `config.json` key, for the fields DPRConfig knows. */
const FIELDS = [
  ["vocabSize", "vocab_size"],
  ["hiddenSize", "hidden_size"],
  ["numHiddenLayers", "num_hidden_layers"],
  ["numAttentionHeads", "num_attention_heads"],
  ["intermediateSize", "intermediate_size"],
  ["hiddenAct", "hidden_act"],
  ["hiddenDropoutProb", "hidden_dropout_prob"],
  ["attentionProbsDropoutProb", "attention_probs_dropout_prob"],
  ["maxPositionEmbeddings", "max_position_embeddings"],
  ["typeVocabSize", "type_vocab_size"],
  ["initializerRange", "initializer_range"],
  ["layerNormEps", "layer_norm_eps"],
  ["padTokenId", "pad_token_id"],
  ["projectionDim", "projection_dim"],
  ["positionEmbeddingType", "position_embedding_type"],
] as const;

type FieldName = typeof FIELDS[number][0];

/** The `config.json` keys that decide the shapes (so the size) of the weights. */
export const WEIGHT_SIZE_KEYS: readonly string[] = [
  "vocab_size",
  "hidden_size",
  "num_hidden_layers",
  "intermediate_size",
  "max_position_embeddings",
  "type_vocab_size",
  "projection_dim",
];

/**
 * The configuration of a DPR encoder or reader (a BERT without pooler, plus an optional
 * projection). Validated on construction.
 *
 * @example
 * ```ts
 * import { DPRConfig } from "@dpr/dpr";
 * const config = new DPRConfig({ hiddenSize: 32, numAttentionHeads: 4 });
 * console.log(config.toJSON().hidden_size); // 32
 * ```
 */
export class DPRConfig {
  /** Token vocabulary size. */
  readonly vocabSize: number;
  /** Hidden width. */
  readonly hiddenSize: number;
  /** Number of transformer layers. */
  readonly numHiddenLayers: number;
  /** Attention heads per layer. */
  readonly numAttentionHeads: number;
  /** Feed-forward width. */
  readonly intermediateSize: number;
  /** Feed-forward activation name. */
  readonly hiddenAct: string;
  /** Hidden dropout rate. */
  readonly hiddenDropoutProb: number;
  /** Attention-probability dropout rate. */
  readonly attentionProbsDropoutProb: number;
  /** Longest sequence the position embeddings cover. */
  readonly maxPositionEmbeddings: number;
  /** Number of token types. */
  readonly typeVocabSize: number;
  /** Standard deviation of the random initialisation. */
  readonly initializerRange: number;
  /** LayerNorm epsilon. */
  readonly layerNormEps: number;
  /** Padding token id. */
  readonly padTokenId: number;
  /** Width of `encode_proj`, or 0 for none. */
  readonly projectionDim: number;
  /** Position embedding kind. */
  readonly positionEmbeddingType: string;
  /** Unknown `config.json` keys, kept for `toJSON`. */
  readonly extra: Readonly<Record<string, unknown>>;

  /**
   * Creates the object; see the arguments.
   * @param init fields to override; the rest take transformers' defaults
   * @throws TypeError / RangeError naming the field and the value when the config is invalid
   */
  constructor(init: DPRConfigInit = {}) {
    this.vocabSize = init.vocabSize ?? 30522;
    this.hiddenSize = init.hiddenSize ?? 768;
    this.numHiddenLayers = init.numHiddenLayers ?? 12;
    this.numAttentionHeads = init.numAttentionHeads ?? 12;
    this.intermediateSize = init.intermediateSize ?? 3072;
    this.hiddenAct = init.hiddenAct ?? "gelu";
    this.hiddenDropoutProb = init.hiddenDropoutProb ?? 0.1;
    this.attentionProbsDropoutProb = init.attentionProbsDropoutProb ?? 0.1;
    this.maxPositionEmbeddings = init.maxPositionEmbeddings ?? 512;
    this.typeVocabSize = init.typeVocabSize ?? 2;
    this.initializerRange = init.initializerRange ?? 0.02;
    this.layerNormEps = init.layerNormEps ?? 1e-12;
    this.padTokenId = init.padTokenId ?? 0;
    this.projectionDim = init.projectionDim ?? 0;
    this.positionEmbeddingType = init.positionEmbeddingType ?? "absolute";
    this.extra = Object.freeze({ ...(init.extra ?? {}) });
    this.validate();
  }

  /** Width of one attention head. */
  get headSize(): number {
    return this.hiddenSize / this.numAttentionHeads;
  }

  /**
   * How many float32 values the weights of a BERT with these sizes hold (embeddings and every
   * layer, with the projection; the reader's span heads add a few more).
   */
  get weightElements(): number {
    const h = this.hiddenSize, i = this.intermediateSize, p = this.projectionDim;
    const embeddings = (this.vocabSize + this.maxPositionEmbeddings + this.typeVocabSize + 2) * h;
    // qkv, attention output, its LayerNorm, intermediate, output, its LayerNorm.
    const layer = 3 * h * h + 3 * h + h * h + h + 2 * h + h * i + i + i * h + h + 2 * h;
    return embeddings + this.numHiddenLayers * layer + h * p + p;
  }

  /** The `architectures` entry of `config.json`, or an empty list when absent. */
  get architectures(): string[] {
    const value = this.extra["architectures"];
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
  }

  /**
   * Reads a Hugging Face `config.json` object (snake_case keys). Keys DPRConfig does not know are
   * kept in `extra` and written back by `toJSON`.
   * @param json the parsed `config.json`
   * @returns the validated config
   * @throws TypeError when `json` is not an object or a field has the wrong type
   */
  static fromJSON(json: unknown): DPRConfig {
    if (typeof json !== "object" || json === null || Array.isArray(json)) {
      throw new TypeError(
        `Cannot read DPRConfig: config.json must be a JSON object: received ${describe(json)}`,
      );
    }
    const source = json as Record<string, unknown>;
    const init: Record<string, unknown> = {};
    const known = new Set<string>();
    for (const [camel, snake] of FIELDS) {
      known.add(snake);
      const value = source[snake];
      if (value === undefined || value === null) continue;
      init[camel] = value;
    }
    const extra: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(source)) {
      if (!known.has(key)) extra[key] = value;
    }
    return new DPRConfig({ ...(init as DPRConfigInit), extra });
  }

  /** The config as a Hugging Face `config.json` object (snake_case keys plus `extra`). */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.extra };
    for (const [camel, snake] of FIELDS) out[snake] = this[camel as FieldName];
    return out;
  }

  /** Throws on the first invalid field. */
  private validate(): void {
    const ints: [FieldName, number][] = [
      ["vocabSize", 1],
      ["hiddenSize", 1],
      ["numHiddenLayers", 0],
      ["numAttentionHeads", 1],
      ["intermediateSize", 1],
      ["maxPositionEmbeddings", 1],
      ["typeVocabSize", 1],
      ["padTokenId", 0],
      ["projectionDim", 0],
    ];
    for (const [field, min] of ints) {
      const value = this[field];
      if (typeof value !== "number") {
        throw new TypeError(
          `Invalid DPRConfig: ${field} must be a number: received ${describe(value)}`,
        );
      }
      if (!Number.isInteger(value) || value < min) {
        throw new RangeError(
          `Invalid DPRConfig: ${field} must be an integer >= ${min}: received ${value}`,
        );
      }
    }
    for (const field of ["hiddenDropoutProb", "attentionProbsDropoutProb"] as const) {
      const value = this[field];
      if (typeof value !== "number" || !(value >= 0 && value < 1)) {
        throw new RangeError(
          `Invalid DPRConfig: ${field} must be a number in [0, 1): received ${describe(value)}`,
        );
      }
    }
    for (const field of ["initializerRange", "layerNormEps"] as const) {
      const value = this[field];
      if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
        throw new RangeError(
          `Invalid DPRConfig: ${field} must be a finite number >= 0: received ${describe(value)}`,
        );
      }
    }
    if (this.hiddenSize % this.numAttentionHeads !== 0) {
      throw new RangeError(
        `Invalid DPRConfig: hiddenSize must be divisible by numAttentionHeads: received ${this.hiddenSize} and ${this.numAttentionHeads}`,
      );
    }
    // tfjs keeps each weight in one typed array, and V8 caps those at 2^31 - 1 elements on
    // 64-bit hosts: refuse sizes no backend could allocate before anything is allocated.
    const largest: [string, number][] = [
      ["vocabSize x hiddenSize", this.vocabSize * this.hiddenSize],
      ["maxPositionEmbeddings x hiddenSize", this.maxPositionEmbeddings * this.hiddenSize],
      ["typeVocabSize x hiddenSize", this.typeVocabSize * this.hiddenSize],
      ["hiddenSize x 3 hiddenSize", 3 * this.hiddenSize * this.hiddenSize],
      ["hiddenSize x intermediateSize", this.hiddenSize * this.intermediateSize],
      ["hiddenSize x projectionDim", this.hiddenSize * this.projectionDim],
    ];
    for (const [what, elements] of largest) {
      if (elements > MAX_WEIGHT_ELEMENTS) {
        throw new WeightSizeError(
          `Invalid DPRConfig: a weight of ${what} would hold ${elements} values, more than ` +
            `the ${MAX_WEIGHT_ELEMENTS} one array can`,
        );
      }
    }
    if (this.padTokenId >= this.vocabSize) {
      throw new RangeError(
        `Invalid DPRConfig: padTokenId must be below vocabSize ${this.vocabSize}: received ${this.padTokenId}`,
      );
    }
    if (typeof this.hiddenAct !== "string" || !Object.hasOwn(ACTIVATIONS, this.hiddenAct)) {
      throw new RangeError(
        `Invalid DPRConfig: unsupported activation: hiddenAct must be one of ${
          Object.keys(ACTIVATIONS).join(", ")
        }: received ${describe(this.hiddenAct)}`,
      );
    }
    if (!POSITION_EMBEDDING_TYPES.includes(this.positionEmbeddingType)) {
      throw new RangeError(
        `Invalid DPRConfig: unsupported position embedding type: positionEmbeddingType must be ${
          POSITION_EMBEDDING_TYPES.map((t) => JSON.stringify(t)).join(" or ")
        }: received ${describe(this.positionEmbeddingType)}`,
      );
    }
  }
}

/**
 * A config whose weights no backend could allocate: one of them would hold more values than a
 * typed array can.
 */
export class WeightSizeError extends RangeError {}

/** The most elements one weight may hold (V8's typed-array limit). */
const MAX_WEIGHT_ELEMENTS = 2 ** 31 - 1;

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  if (Array.isArray(value)) return "an array";
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
