/**
 * `BertEncoder`: the stack of transformer blocks (transformers' `BertEncoder`).
 * @module
 */
import { tf, type tfl } from "../backend/tf.ts";
import { BertCompositeLayer, type ForwardContext, gatherRows } from "./bert_base_layer.ts";
import { BertLayer, type BertLayerArgs } from "./bert_layer.ts";
import { callOnSequence } from "./bert_self_attention.ts";

/** Sizes of {@linkcode BertEncoder}. */
export interface BertEncoderArgs extends BertLayerArgs {
  /** Number of blocks. */
  numHiddenLayers: number;
}

/** Options of {@linkcode BertEncoder.forward}. */
export interface BertEncoderOptions {
  /** Also return every hidden state. Default false. */
  outputHiddenStates?: boolean;
  /** Also return every block's attention probabilities. Default false. */
  outputAttentions?: boolean;
  /**
   * Compute the last block at the first position only (`lastHidden` is then [B, H]); ignored
   * when hidden states or attentions are requested. Default false.
   */
  firstTokenOnly?: boolean;
}

/** Result of {@linkcode BertEncoder.forward}. */
export interface BertEncoderOutput {
  /** Output of the last block [B*T, H] ([B, H] with `firstTokenOnly`). */
  lastHidden: tf.Tensor2D;
  /** When asked: the input, then each block's output, each [B*T, H]. */
  hiddenStates?: tf.Tensor2D[];
  /** When asked: each block's attention probabilities [B, heads, T, T]. */
  attentions?: tf.Tensor4D[];
}

/**
 * `numHiddenLayers` {@linkcode BertLayer}s named `<name>.layer.<i>`.
 * Call it with `[hidden [B, T, H], mask [B, T]]` to get [B, T, H].
 */
export class BertEncoder extends BertCompositeLayer {
  /** The class name tfjs serialization registers. @nocollapse */
  static className = "BertEncoder";
  /** Constructor arguments, for `getConfig`. */
  readonly args: BertEncoderArgs;
  /** `layer[i]` */
  readonly layer: BertLayer[];

  /**
   * Builds the layer; weights are created by `build`.
   * @param args sizes, activation and rates
   */
  constructor(args: BertEncoderArgs) {
    super(args);
    this.args = { ...args };
    const { numHiddenLayers: _n, name: _name, trainable: _t, ...layerArgs } = args;
    this.layer = [];
    for (let i = 0; i < args.numHiddenLayers; i++) {
      this.layer.push(
        new BertLayer({
          ...layerArgs,
          ...this.sharedArgs(),
          name: `${this.name}.layer.${i}`,
        }),
      );
    }
  }

  /** The sublayers, in weight order. */
  protected sublayers(): tfl.layers.Layer[] {
    return this.layer;
  }

  /**
   * The eager computation the model runs (also used by `call`).
   * @param hidden the embedding output [B*T, H]
   * @param maskBias [B, 1, 1, T] or null
   */
  forward(
    hidden: tf.Tensor2D,
    maskBias: tf.Tensor4D | null,
    batch: number,
    seq: number,
    ctx: ForwardContext,
    options: BertEncoderOptions = {},
  ): BertEncoderOutput {
    const keepStates = options.outputHiddenStates === true;
    const keepAttentions = options.outputAttentions === true;
    const firstOnly = options.firstTokenOnly === true && !keepStates && !keepAttentions;
    const states: tf.Tensor2D[] = keepStates ? [tf.clone(hidden)] : [];
    const attentions: tf.Tensor4D[] = [];
    let current = hidden;
    for (const [i, block] of this.layer.entries()) {
      const last = i === this.layer.length - 1;
      const out = firstOnly && last
        ? { hidden: block.forwardFirstToken(current, maskBias, batch, seq, ctx) }
        : block.forward(current, maskBias, batch, seq, ctx, keepAttentions);
      // Free each intermediate state as soon as the next exists, unless the caller keeps them.
      if (current !== hidden && !keepStates) current.dispose();
      current = out.hidden;
      if (keepStates) states.push(current);
      if (out.probs !== undefined) attentions.push(out.probs);
    }
    let lastHidden = current === hidden
      ? tf.clone(hidden)
      : keepStates
      ? tf.clone(current)
      : current;
    if (firstOnly && this.layer.length === 0) {
      // No blocks: the first rows of the embedding output.
      lastHidden.dispose();
      lastHidden = gatherRows(hidden, Array.from({ length: batch }, (_, b) => b * seq));
    }
    const result: BertEncoderOutput = { lastHidden };
    if (keepStates) result.hiddenStates = states;
    if (keepAttentions) result.attentions = attentions;
    return result;
  }

  /**
   * {@linkcode BertEncoder.forward} for inference, awaiting `pause` before each layer's attention
   * and before its feed-forward part, so that a program serving requests keeps its event loop
   * turning (one BERT-base layer is tens of milliseconds, a whole pass hundreds). Each step runs
   * in its own `tidy`; only the running state lives across a pause, and it is freed on the way.
   * @param hidden the embedding output [B*T, H] (the caller keeps and frees it)
   * @param maskBias [B, 1, 1, T] or null (the caller's)
   * @param batch B
   * @param seq T
   * @param ctx the forward context
   * @param firstTokenOnly run the last layer's feed-forward part on the [CLS] rows alone
   * @param pause awaited before each step (twice per layer)
   * @returns the last hidden state: [B*T, H], or [B, H] with `firstTokenOnly`
   */
  async forwardPausing(
    hidden: tf.Tensor2D,
    maskBias: tf.Tensor4D | null,
    batch: number,
    seq: number,
    ctx: ForwardContext,
    firstTokenOnly: boolean,
    pause: () => Promise<void>,
  ): Promise<tf.Tensor2D> {
    let current = hidden;
    let attended: tf.Tensor2D | undefined;
    try {
      for (const [i, block] of this.layer.entries()) {
        // Two steps per layer (attention, then feed-forward), a pause before each.
        await pause();
        const last = i === this.layer.length - 1;
        attended = block.attend(current, maskBias, batch, seq, ctx, firstTokenOnly && last);
        if (current !== hidden) current.dispose();
        current = hidden;
        await pause();
        current = block.feedForward(attended, ctx);
        attended.dispose();
        attended = undefined;
      }
    } catch (error) {
      attended?.dispose();
      if (current !== hidden) current.dispose();
      throw error;
    }
    if (current !== hidden) return current;
    return firstTokenOnly
      ? gatherRows(hidden, Array.from({ length: batch }, (_, b) => b * seq))
      : tf.clone(hidden);
  }

  /** Runs the layer on concrete tensors (what `apply` and a LayersModel call). */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return callOnSequence(
      inputs,
      kwargs,
      (hidden, bias, B, T, ctx) => this.forward(hidden, bias, B, T, ctx).lastHidden,
    );
  }
}

tf.serialization.registerClass(BertEncoder);
