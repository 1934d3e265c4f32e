/**
 * `DPRReader`: DPR's extractive reader, a BERT encoder with span (`qa_outputs`) and passage
 * relevance (`qa_classifier`) heads (transformers' `DPRReader` / `DPRSpanPredictor`).
 * @module
 */
import { ARCHITECTURE_PREFIXES } from "../io/checkpoint_keys.ts";
import { tf, type tfl } from "../backend/tf.ts";
import type { RawTensor, StateDict } from "../io/state_dict.ts";
import { DPRSpanHead } from "../layers/dpr_span_head.ts";
import { disposeWeights, keepPlain } from "../layers/held_weight.ts";
import type { PausingOptions } from "../layers/bert_encoder.ts";
import type { DPRConfig } from "./config.ts";
import {
  DPREncoder,
  type DPRForwardOptions,
  type DPRModelOptions,
  withBertExtras,
} from "./dpr_encoder.ts";
import { turnIfDue } from "../backend/next_turn.ts";
import {
  exportBindings,
  loadBindings,
  type LoadStateDictOptions,
  spanHeadBindings,
  type WeightBinding,
} from "./hf_weight_map.ts";
import { exportHeldBindings, type WeightDtype } from "./hf_weight_map.ts";
import type { DPRInputs } from "./inputs.ts";
import { readerLayersModel } from "./layers_model.ts";
import {
  type FromPretrainedOptions,
  loadPretrained,
  type PretrainedSource,
} from "./from_pretrained.ts";
import { saveSafetensors, type SaveSafetensorsOptions } from "../io/save_safetensors.ts";
import type { EncodedTensor } from "../io/safetensors_write.ts";

/** Output of {@linkcode DPRReader.forward}; the caller owns (and disposes) the tensors. */
export interface DPRReaderOutput {
  /** [n_passages, seq] */
  startLogits: tf.Tensor2D;
  /** [n_passages, seq] */
  endLogits: tf.Tensor2D;
  /** [n_passages] */
  relevanceLogits: tf.Tensor1D;
  /** numHiddenLayers + 1 tensors [n_passages, seq, hidden], when asked. */
  hiddenStates?: tf.Tensor3D[];
  /** numHiddenLayers tensors [n_passages, heads, seq, seq], when asked. */
  attentions?: tf.Tensor4D[];
}

/** Inputs of the reader: no token types (transformers' DPRReader takes none). */
export type DPRReaderInputs = Omit<DPRInputs, "tokenTypeIds">;

/**
 * The reader. Without `attentionMask` it attends everywhere, padding included (as transformers).
 * Checkpoint names start with `span_predictor.`.
 *
 * @example
 * ```ts
 * import { tf } from "@dpr/dpr";
 * import { DPRConfig } from "@dpr/dpr";
 * import { DPRReader } from "@dpr/dpr";
 * const config = new DPRConfig({
 *   vocabSize: 50, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16,
 * });
 * const reader = new DPRReader(config, { seed: 1 });
 * const out = reader.forward({ inputIds: [[1, 5, 7], [1, 6, 0]] });
 * console.log(out.relevanceLogits.shape); // [2]
 * tf.dispose([out.startLogits, out.endLogits, out.relevanceLogits]);
 * reader.dispose();
 * ```
 */
export class DPRReader {
  /** The validated configuration. */
  readonly config: DPRConfig;
  /** `span_predictor.encoder` */
  readonly encoder: DPREncoder;
  /** `span_predictor.qa_outputs` and `span_predictor.qa_classifier` */
  readonly spanHead: DPRSpanHead;
  private disposed = false;

  /**
   * Creates the object; see the arguments.
   * @param config the model configuration
   * @param options seed of the random initialisation
   * @throws RangeError when `projectionDim` is neither 0 nor `hiddenSize` (transformers sizes the
   *   heads by `projectionDim` but applies them to hidden states, so no other value can run)
   */
  constructor(config: DPRConfig, options: DPRModelOptions = {}) {
    this.encoder = new DPREncoder(config, options, {
      name: "DPRReader",
      bertPrefix: `${ARCHITECTURE_PREFIXES.DPRReader}encoder.bert_model.`,
      projPrefix: `${ARCHITECTURE_PREFIXES.DPRReader}encoder.`,
    });
    this.config = config;
    if (config.projectionDim !== 0 && config.projectionDim !== config.hiddenSize) {
      this.encoder.dispose();
      throw new RangeError(
        `Cannot build DPRReader: projectionDim must be 0 or hiddenSize ${config.hiddenSize} (the span heads read hidden states): received ${config.projectionDim}`,
      );
    }
    this.spanHead = new DPRSpanHead({
      name: "span_head",
      initializerRange: config.initializerRange,
      seed: options.seed ?? 0,
      zeroInit: options.zeroInit ?? false,
      placeholders: options.placeholders ?? false,
      hiddenSize: config.hiddenSize,
    });
    this.spanHead.build([null, null, config.hiddenSize]);
  }

  /**
   * Loads a transformers `DPRReader` folder (`config.json` + `model.safetensors` or
   * `pytorch_model.bin`).
   * @param source a local folder path or a FileSource
   * @param options load options
   * @returns the reader with the checkpoint's weights
   * @throws TypeError when the folder holds another architecture or mismatched weights
   */
  static async fromPretrained(
    source: PretrainedSource,
    options: FromPretrainedOptions = {},
  ): Promise<DPRReader> {
    return await loadPretrained(source, "DPRReader", DPRReader, options);
  }

  /** Every weight, once. */
  get weights(): tfl.LayerVariable[] {
    return [...this.encoder.weights, ...this.spanHead.weights];
  }

  /** Every trainable weight. */
  get trainableWeights(): tfl.LayerVariable[] {
    return [...this.encoder.trainableWeights, ...this.spanHead.trainableWeights];
  }

  /**
   * The forward pass, as transformers' `DPRReader.forward` with `return_dict=True`.
   * @param inputs exactly one of `inputIds` / `inputsEmbeds` [n_passages, seq], optional mask
   * @param options extra outputs and training mode
   * @returns tensors the caller owns
   * @throws TypeError / RangeError for bad inputs, before any kernel runs
   */
  forward(inputs: DPRReaderInputs, options: DPRForwardOptions = {}): DPRReaderOutput {
    const { prepared, run } = this.encoder.runBert(
      inputs,
      options,
      { mask: "ones", tokenTypes: false },
      "DPRReader",
    );
    return tf.tidy(() => {
      const bert = run();
      const heads = this.spanHead.forward(bert.lastHidden, prepared.batch, prepared.seq);
      const out: DPRReaderOutput = { ...heads };
      return withBertExtras(out, bert) as unknown as tf.TensorContainer;
    }) as unknown as DPRReaderOutput;
  }

  /**
   * The logits of {@linkcode DPRReader.forward}, the same values, computed with a pause before
   * each layer (by default a turn of the event loop), so a server stays responsive while it reads.
   * @param inputs `inputIds` [n_passages, seq], optional `attentionMask` (default all ones)
   * @param pause awaited before each layer's attention and feed-forward part (and between the
   *   steps of a part a large batch splits); default: a turn of the event loop when 10 ms have
   *   passed since the last one (`turnIfDue`)
   * @param options the largest step between pauses (`stepMultiplyAdds`, default 2^29)
   * @returns start, end and relevance logits, which the caller owns
   * @throws TypeError / RangeError for bad inputs, before any kernel runs
   */
  async forwardAsync(
    inputs: DPRReaderInputs,
    pause: () => Promise<void> = turnIfDue,
    options: PausingOptions = {},
  ): Promise<DPRReaderOutput> {
    const { last, batch, seq } = await this.encoder.runBertPausing(
      inputs,
      { mask: "ones", tokenTypes: false },
      "DPRReader",
      false,
      pause,
      options,
    );
    try {
      return tf.tidy(() => {
        const heads = this.spanHead.forward(last, batch, seq);
        return { ...heads } as unknown as tf.TensorContainer;
      }) as unknown as DPRReaderOutput;
    } finally {
      last.dispose();
    }
  }

  /** The rename table of this model's weights (PyTorch names, `span_predictor.` prefix). */
  weightBindings(): WeightBinding[] {
    return [
      ...this.encoder.weightBindings(),
      ...spanHeadBindings("span_predictor.", this.spanHead),
    ];
  }

  /**
   * Loads a transformers `DPRReader` state dict (PyTorch names and layout).
   * @throws TypeError listing every missing, unexpected and wrongly shaped key; nothing is
   *   written then
   */
  loadStateDict(stateDict: StateDict, options: LoadStateDictOptions = {}): void {
    loadBindings("DPRReader", this.weightBindings(), stateDict, options);
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
    const architecture = { name: "DPRReader" };
    await saveSafetensors(
      {
        stateDict: () => this.stateDict(),
        heldStateDict: () => this.heldStateDict(),
        config: this.config,
        architecture,
      },
      dir,
      options,
    );
  }

  /**
   * The weights as this model holds them, for `saveSafetensors(model, path, { keepDtype: true })`:
   * int8 matrices with their `<name>_scale` tensors, float16 ones as float16, the rest float32.
   */
  heldStateDict(): { tensors: Map<string, RawTensor | EncodedTensor>; dtype: WeightDtype } {
    return exportHeldBindings(this.weightBindings());
  }

  /** The weights as a transformers state dict (PyTorch names and layout). */
  stateDict(): StateDict {
    return exportBindings(this.weightBindings());
  }

  /**
   * A functional `tf.LayersModel` over the same layers and weights (inputs `input_ids`,
   * `attention_mask`, int32 [n, seq]; outputs start, end and relevance logits), for saving as
   * tfjs layers-model artifacts. Disposing it disposes these weights too. tfjs reads the
   * variables' tensors itself, so from now on no backend keeps these weights packed.
   */
  toLayersModel(): tfl.LayersModel {
    for (const weight of this.weights) keepPlain(weight);
    return readerLayersModel(this);
  }

  /** Frees every weight. The reader cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.encoder.dispose();
    disposeWeights(this.spanHead.weights);
    this.disposed = true;
  }

  /** Frees the weights at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
