/**
 * `DPREncoder`: BERT without pooler, whose "pooler output" is the [CLS] hidden state, projected
 * by `encode_proj` when `projectionDim > 0` (transformers' `DPREncoder`). The base of
 * `DPRQuestionEncoder` and `DPRContextEncoder`.
 * @module
 */
import {
  type AttentionImplementation,
  checkAttentionImplementation,
} from "../backend/ops/attention_implementation.ts";
import { tf, type tfl } from "../backend/tf.ts";
import type { RawTensor, StateDict } from "../io/state_dict.ts";
import type { ForwardContext } from "../layers/bert_base_layer.ts";
import { BertEmbeddings } from "../layers/bert_embeddings.ts";
import { BertEncoder, type PausingOptions } from "../layers/bert_encoder.ts";
import { DPRPooler } from "../layers/dpr_pooler.ts";
import { disposeWeights, keepPlain } from "../layers/held_weight.ts";
import { DPRConfig } from "./config.ts";
import {
  bertBindings,
  exportBindings,
  loadBindings,
  type LoadStateDictOptions,
  poolerBindings,
  type WeightBinding,
} from "./hf_weight_map.ts";
import { exportHeldBindings, type WeightDtype } from "./hf_weight_map.ts";
import { type DPRInputs, type InputDefaults, prepareInputs } from "./inputs.ts";
import { encoderLayersModel } from "./layers_model.ts";
import type { DPRModelOptions } from "./model_options.ts";
import { saveSafetensors, type SaveSafetensorsOptions } from "../io/save_safetensors.ts";
import type { EncodedTensor } from "../io/safetensors_write.ts";
import { turnIfDue } from "../backend/next_turn.ts";

export type { DPRModelOptions } from "./model_options.ts";

/** Options of `forward`. */
export interface DPRForwardOptions {
  /** Also return every hidden state (embedding output first). Default false. */
  outputHiddenStates?: boolean;
  /** Also return every layer's attention probabilities. Default false. */
  outputAttentions?: boolean;
  /** Apply dropout (training mode). Default false. */
  training?: boolean;
  /** Seed of the dropout masks, for reproducible training passes. Default: fresh randomness. */
  seed?: number;
}

/** Output of an encoder's `forward`; the caller owns (and disposes) the tensors. */
export interface DPREncoderOutput {
  /** [batch, hidden] or [batch, projectionDim]. */
  poolerOutput: tf.Tensor2D;
  /** numHiddenLayers + 1 tensors [batch, seq, hidden], when asked. */
  hiddenStates?: tf.Tensor3D[];
  /** numHiddenLayers tensors [batch, heads, seq, seq], when asked. */
  attentions?: tf.Tensor4D[];
}

/** The BERT stack's raw result, shared by the encoders and the reader. */
export interface BertRunOutput {
  /** [B*T, H], or [B, H] (the [CLS] rows) when run with `firstTokenOnly`. */
  lastHidden: tf.Tensor2D;
  /** [B, T, H] each, when asked. */
  hiddenStates?: tf.Tensor3D[];
  /** [B, N, T, T] each, when asked. */
  attentions?: tf.Tensor4D[];
}

/**
 * Copies the optional `hiddenStates` and `attentions` of a BERT run (those that were asked for)
 * onto a model's output.
 * @internal shared with the reader.
 * @param out the model's output, changed in place
 * @param bert the BERT run's result
 * @returns `out`
 */
export function withBertExtras<T extends Omit<BertRunOutput, "lastHidden">>(
  out: T,
  bert: BertRunOutput,
): T {
  if (bert.hiddenStates !== undefined) out.hiddenStates = bert.hiddenStates;
  if (bert.attentions !== undefined) out.attentions = bert.attentions;
  return out;
}

/** What a model needs to know about the checkpoint it loads. */
export interface DPRArchitecture {
  /** Class name in `config.json`'s `architectures`. */
  name: string;
  /** State-dict prefix of the BERT model, e.g. `question_encoder.bert_model.`. */
  bertPrefix: string;
  /** State-dict prefix of `encode_proj`, e.g. `question_encoder.`. */
  projPrefix: string;
}

/**
 * A DPR encoder: BERT (`embeddings`, `encoder`) plus the [CLS] pooler with optional projection.
 *
 * @example
 * ```ts
 * import { DPRConfig } from "@dpr/dpr";
 * import { DPREncoder } from "@dpr/dpr";
 * const config = new DPRConfig({
 *   vocabSize: 50, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16,
 *   maxPositionEmbeddings: 16,
 * });
 * const model = new DPREncoder(config, { seed: 1 });
 * const { poolerOutput } = model.forward({ inputIds: [[1, 5, 7, 0]] });
 * console.log(poolerOutput.shape); // [1, 8]
 * poolerOutput.dispose();
 * model.dispose();
 * ```
 */
export class DPREncoder {
  /** The validated configuration. */
  readonly config: DPRConfig;
  /** `bert_model.embeddings` */
  readonly embeddings: BertEmbeddings;
  /** `bert_model.encoder` */
  readonly encoder: BertEncoder;
  /** [CLS] selection and `encode_proj`. */
  readonly pooler: DPRPooler;
  /** Checkpoint naming for this model. */
  readonly architecture: DPRArchitecture;
  /** How attention is computed (the `attention` option); `undefined`: the process default. */
  readonly attention: AttentionImplementation | undefined;
  private disposed = false;

  /**
   * Creates the object; see the arguments.
   * @param config the model configuration
   * @param options seed of the random initialisation
   * @param architecture checkpoint naming (subclasses set it; default: bare `DPREncoder`)
   */
  constructor(
    config: DPRConfig,
    options: DPRModelOptions = {},
    architecture: DPRArchitecture = {
      name: "DPREncoder",
      bertPrefix: "bert_model.",
      projPrefix: "",
    },
  ) {
    if (!(config instanceof DPRConfig)) {
      throw new TypeError(
        `Cannot build ${architecture.name}: config must be a DPRConfig: received ${typeof config}`,
      );
    }
    this.config = config;
    this.architecture = architecture;
    this.attention = options.attention === undefined ? undefined : checkAttentionImplementation(
      options.attention,
      `Cannot build ${architecture.name}`,
      "attention",
    );
    const shared = {
      initializerRange: config.initializerRange,
      seed: options.seed ?? 0,
      zeroInit: options.zeroInit ?? false,
      placeholders: options.placeholders ?? false,
    };
    this.embeddings = new BertEmbeddings({
      ...shared,
      name: "embeddings",
      vocabSize: config.vocabSize,
      hiddenSize: config.hiddenSize,
      maxPositionEmbeddings: config.maxPositionEmbeddings,
      typeVocabSize: config.typeVocabSize,
      layerNormEps: config.layerNormEps,
      hiddenDropoutProb: config.hiddenDropoutProb,
    });
    this.encoder = new BertEncoder({
      ...shared,
      name: "encoder",
      numHiddenLayers: config.numHiddenLayers,
      hiddenSize: config.hiddenSize,
      numAttentionHeads: config.numAttentionHeads,
      intermediateSize: config.intermediateSize,
      hiddenAct: config.hiddenAct,
      hiddenDropoutProb: config.hiddenDropoutProb,
      attentionProbsDropoutProb: config.attentionProbsDropoutProb,
      layerNormEps: config.layerNormEps,
    });
    this.pooler = new DPRPooler({
      ...shared,
      name: "pooler",
      hiddenSize: config.hiddenSize,
      projectionDim: config.projectionDim,
    });
    const shape = [null, null, config.hiddenSize];
    this.embeddings.build([null, null]);
    this.encoder.build(shape);
    this.pooler.build(shape);
  }

  /** Every weight, once. */
  get weights(): tfl.LayerVariable[] {
    return [...this.embeddings.weights, ...this.encoder.weights, ...this.pooler.weights];
  }

  /** Every trainable weight. */
  get trainableWeights(): tfl.LayerVariable[] {
    return [
      ...this.embeddings.trainableWeights,
      ...this.encoder.trainableWeights,
      ...this.pooler.trainableWeights,
    ];
  }

  /** Defaults of the encoders: mask padding, zero token types. */
  protected inputDefaults(): InputDefaults {
    return { mask: "padding", tokenTypes: true };
  }

  /**
   * Runs embeddings and encoder. Validates everything before any kernel runs.
   * @internal shared with the reader; call `forward` instead.
   */
  runBert(
    inputs: DPRInputs,
    options: DPRForwardOptions,
    defaults: InputDefaults,
    owner: string,
    firstTokenOnly = false,
  ): {
    prepared: { batch: number; seq: number };
    run: () => BertRunOutput;
    embed: () => { embedded: tf.Tensor2D; maskBias: tf.Tensor4D | null };
    ctx: ForwardContext;
  } {
    this.assertLive(owner);
    const prepared = prepareInputs(this.config, inputs, owner, defaults);
    const { batch: B, seq: T } = prepared;
    const H = this.config.hiddenSize;
    const ctx: ForwardContext = { training: options.training === true, counter: 0 };
    if (this.attention !== undefined) ctx.attention = this.attention;
    if (options.seed !== undefined) ctx.seed = options.seed;
    // The embedding output [B*T, H] and the mask bias [B, 1, 1, T]; in the caller's tidy.
    const embed = (): { embedded: tf.Tensor2D; maskBias: tf.Tensor4D | null } => {
      const tokenTypeIds = tf.tensor2d(prepared.tokenTypeIds, [B, T], "int32");
      const embedded = prepared.inputIds !== undefined
        ? this.embeddings.forward(
          {
            inputIds: tf.tensor2d(prepared.inputIds, [B, T], "int32"),
            inputIdValues: prepared.inputIds,
            tokenTypeIds,
          },
          ctx,
        )
        : this.embeddings.forward({
          inputsEmbeds: prepared.inputsEmbedsTensor ??
            tf.tensor3d(prepared.inputsEmbeds!, [B, T, H], "float32"),
          tokenTypeIds,
        }, ctx); // [B*T, H]
      const maskBias = prepared.maskBias === null
        ? null
        : tf.tensor4d(prepared.maskBias, [B, 1, 1, T], "float32");
      return { embedded, maskBias };
    };
    // Called inside the caller's tidy.
    const run = (): BertRunOutput => {
      const { embedded, maskBias } = embed();
      const enc = this.encoder.forward(embedded, maskBias, B, T, ctx, {
        outputHiddenStates: options.outputHiddenStates === true,
        outputAttentions: options.outputAttentions === true,
        firstTokenOnly,
      });
      const out: BertRunOutput = { lastHidden: enc.lastHidden };
      if (enc.hiddenStates !== undefined) {
        out.hiddenStates = enc.hiddenStates.map((h) => tf.reshape(h, [B, T, H]) as tf.Tensor3D);
      }
      if (enc.attentions !== undefined) out.attentions = enc.attentions;
      return out;
    };
    return { prepared, run, embed, ctx };
  }

  /**
   * The forward pass, as transformers' `forward` with `return_dict=True`.
   * @param inputs exactly one of `inputIds` / `inputsEmbeds`, optional mask and token types
   * @param options extra outputs and training mode
   * @returns tensors the caller owns
   * @throws TypeError / RangeError for bad inputs, before any kernel runs
   */
  forward(inputs: DPRInputs, options: DPRForwardOptions = {}): DPREncoderOutput {
    // The pooler reads only [CLS]: unless every state is asked for, the last layer runs its
    // feed-forward part on the [CLS] rows alone (same values, about 7% less work for BERT-base).
    const firstTokenOnly = options.outputHiddenStates !== true &&
      options.outputAttentions !== true;
    const { prepared, run } = this.runBert(
      inputs,
      options,
      this.inputDefaults(),
      this.architecture.name,
      firstTokenOnly,
    );
    return tf.tidy(() => {
      const bert = run();
      const out: DPREncoderOutput = {
        poolerOutput: firstTokenOnly
          ? this.pooler.project(bert.lastHidden)
          : this.pooler.forward(bert.lastHidden, prepared.batch, prepared.seq),
      };
      return withBertExtras(out, bert) as unknown as tf.TensorContainer;
    }) as unknown as DPREncoderOutput;
  }

  /**
   * The pooled output of {@linkcode DPREncoder.forward}, the same values, computed with a pause
   * before each layer (by default a turn of the event loop): a server stays responsive while it
   * encodes (one BERT-base layer takes tens of milliseconds, a whole pass hundreds).
   * @param inputs exactly one of `inputIds` / `inputsEmbeds`, optional mask and token types
   * @param pause awaited before each layer's attention and feed-forward part (and between the
   *   steps of a part a large batch splits); default: a turn of the event loop when 10 ms have
   *   passed since the last one (`turnIfDue`)
   * @param options the largest step between pauses (`stepMultiplyAdds`, default 2^29)
   * @returns `poolerOutput`, which the caller owns
   * @throws TypeError / RangeError for bad inputs, before any kernel runs
   */
  async forwardAsync(
    inputs: DPRInputs,
    pause: () => Promise<void> = turnIfDue,
    options: PausingOptions = {},
  ): Promise<{ poolerOutput: tf.Tensor2D }> {
    const { last: cls } = await this.runBertPausing(
      inputs,
      this.inputDefaults(),
      this.architecture.name,
      true,
      pause,
      options,
    );
    try {
      return { poolerOutput: tf.tidy(() => this.pooler.project(cls)) };
    } finally {
      cls.dispose();
    }
  }

  /**
   * Embeddings and encoder with a pause before each layer; no extra outputs.
   * @internal shared with the reader; call `forwardAsync` instead.
   * @returns the last hidden state [B*T, H], or the [CLS] rows [B, H] with `firstTokenOnly`,
   *   which the caller owns, with B and T
   */
  async runBertPausing(
    inputs: DPRInputs,
    defaults: InputDefaults,
    owner: string,
    firstTokenOnly: boolean,
    pause: () => Promise<void>,
    options: PausingOptions = {},
  ): Promise<{ last: tf.Tensor2D; batch: number; seq: number }> {
    const { embed, ctx, prepared } = this.runBert(inputs, {}, defaults, owner, firstTokenOnly);
    const { embedded, maskBias } = tf.tidy((): tf.TensorContainerObject => {
      const parts = embed();
      return parts.maskBias === null
        ? { embedded: parts.embedded }
        : { embedded: parts.embedded, maskBias: parts.maskBias };
    }) as { embedded: tf.Tensor2D; maskBias?: tf.Tensor4D };
    try {
      const last = await this.encoder.forwardPausing(
        embedded,
        maskBias ?? null,
        prepared.batch,
        prepared.seq,
        ctx,
        firstTokenOnly,
        pause,
        options,
      );
      if (this.disposed) {
        last.dispose();
        this.assertLive(owner); // disposed during a pause: throws
      }
      return { last, batch: prepared.batch, seq: prepared.seq };
    } finally {
      embedded.dispose();
      maskBias?.dispose();
    }
  }

  /** The rename table of this model's weights (PyTorch names, with the model's prefix). */
  weightBindings(): WeightBinding[] {
    return [
      ...bertBindings(this.architecture.bertPrefix, this.embeddings, this.encoder),
      ...poolerBindings(this.architecture.projPrefix, this.pooler),
    ];
  }

  /**
   * Loads a transformers state dict (PyTorch names with this model's prefix, PyTorch layout).
   * `position_ids` buffers and BERT pooler weights are skipped.
   * @throws TypeError listing every missing, unexpected and wrongly shaped key; nothing is
   *   written then
   */
  loadStateDict(stateDict: StateDict, options: LoadStateDictOptions = {}): void {
    this.assertLive(this.architecture.name);
    loadBindings(this.architecture.name, this.weightBindings(), stateDict, options);
  }

  /**
   * Writes `model.safetensors` (PyTorch names and layout) and `config.json` (with
   * `architectures`) into `dir`, as transformers' `save_pretrained` does: transformers'
   * `from_pretrained` and this class's `fromPretrained` load the same weights from it. Save the
   * tokenizer into the same folder with its own `savePretrained`.
   *
   * @param dir the folder (created when missing); each file is written atomically
   * @returns once the files are written
   */
  async savePretrained(dir: string, options: SaveSafetensorsOptions = {}): Promise<void> {
    await saveSafetensors(this, dir, options);
  }

  /**
   * The weights as this model holds them, for `saveSafetensors(model, path, { keepDtype: true })`:
   * int8 matrices with their `<name>_scale` tensors, float16 ones as float16, the rest float32.
   */
  heldStateDict(): { tensors: Map<string, RawTensor | EncodedTensor>; dtype: WeightDtype } {
    this.assertLive(this.architecture.name);
    return exportHeldBindings(this.weightBindings());
  }

  /** The weights as a transformers state dict (PyTorch names and layout). */
  stateDict(): StateDict {
    this.assertLive(this.architecture.name);
    return exportBindings(this.weightBindings());
  }

  /**
   * A functional `tf.LayersModel` over the same layers and weights (inputs `input_ids`,
   * `attention_mask`, `token_type_ids`, int32 [batch, seq]; output the pooler output), for
   * saving as tfjs layers-model artifacts. Disposing it disposes these weights too. tfjs reads
   * the variables' tensors itself, so from now on no backend keeps these weights packed.
   */
  toLayersModel(): tfl.LayersModel {
    this.assertLive(this.architecture.name);
    for (const weight of this.weights) keepPlain(weight);
    return encoderLayersModel(this);
  }

  /** Frees every weight. The model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    disposeWeights(this.weights);
    this.disposed = true;
  }

  /** Frees the weights at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** @internal */
  protected assertLive(owner: string): void {
    if (this.disposed) throw new Error(`Cannot use ${owner}: it was disposed`);
  }
}
