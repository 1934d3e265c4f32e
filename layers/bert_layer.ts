/**
 * `BertLayer`: one transformer block, attention then feed-forward (transformers' `BertLayer`).
 * @module
 */
import { tf, type tfl } from "../backend/tf.ts";
import {
  type BertBaseLayerArgs,
  BertCompositeLayer,
  type ForwardContext,
} from "./bert_base_layer.ts";
import { type AttentionOutput, attentionOutput, BertAttention } from "./bert_attention.ts";
import { BertIntermediate } from "./bert_intermediate.ts";
import { BertOutput } from "./bert_output.ts";
import { callOnSequence } from "./bert_self_attention.ts";

/** Sizes of {@linkcode BertLayer} (and of every layer of a {@linkcode BertEncoder}). */
export interface BertLayerArgs extends BertBaseLayerArgs {
  /** Hidden width H. */
  hiddenSize: number;
  /** Heads; must divide `hiddenSize`. */
  numAttentionHeads: number;
  /** Feed-forward width I. */
  intermediateSize: number;
  /** Feed-forward activation name. */
  hiddenAct: string;
  /** Dropout rate of the hidden states. */
  hiddenDropoutProb: number;
  /** Dropout rate of the attention probabilities. */
  attentionProbsDropoutProb: number;
  /** LayerNorm epsilon. */
  layerNormEps: number;
}

/**
 * Sublayers `attention` (`<name>.attention`), `intermediate` (`<name>.intermediate`) and
 * `output` (`<name>.output`). Call it with `[hidden [B, T, H], mask [B, T]]`.
 */
export class BertLayer extends BertCompositeLayer {
  /** The class name tfjs serialization registers. @nocollapse */
  static className = "BertLayer";
  /** Constructor arguments, for `getConfig`. */
  readonly args: BertLayerArgs;
  /** `attention` */
  readonly attention: BertAttention;
  /** `intermediate` */
  readonly intermediate: BertIntermediate;
  /** transformers' `output` (renamed: tfjs layers already have an `output` property) */
  readonly outputLayer: BertOutput;

  /**
   * Builds the layer; weights are created by `build`.
   * @param args sizes, activation and rates
   */
  constructor(args: BertLayerArgs) {
    super(args);
    this.args = { ...args };
    const shared = this.sharedArgs();
    this.attention = new BertAttention({
      ...shared,
      name: `${this.name}.attention`,
      hiddenSize: args.hiddenSize,
      numAttentionHeads: args.numAttentionHeads,
      attentionProbsDropoutProb: args.attentionProbsDropoutProb,
      hiddenDropoutProb: args.hiddenDropoutProb,
      layerNormEps: args.layerNormEps,
    });
    this.intermediate = new BertIntermediate({
      ...shared,
      name: `${this.name}.intermediate`,
      hiddenSize: args.hiddenSize,
      intermediateSize: args.intermediateSize,
      hiddenAct: args.hiddenAct,
    });
    this.outputLayer = new BertOutput({
      ...shared,
      name: `${this.name}.output`,
      inputSize: args.intermediateSize,
      hiddenSize: args.hiddenSize,
      layerNormEps: args.layerNormEps,
      hiddenDropoutProb: args.hiddenDropoutProb,
    });
  }

  /** The sublayers, in weight order. */
  protected sublayers(): tfl.layers.Layer[] {
    return [this.attention, this.intermediate, this.outputLayer];
  }

  /**
   * The eager computation the model runs (also used by `call`).
   * @param hidden [B*T, H]
   * @param maskBias [B, 1, 1, T] or null
   * @returns the block output [B*T, H] and, when asked, the attention probabilities
   */
  forward(
    hidden: tf.Tensor2D,
    maskBias: tf.Tensor4D | null,
    batch: number,
    seq: number,
    ctx: ForwardContext,
    outputAttentions = false,
  ): AttentionOutput {
    const result = tf.tidy(() => {
      const attn = this.attention.forward(hidden, maskBias, batch, seq, ctx, outputAttentions);
      const expanded = this.intermediate.forward(attn.hidden); // [B*T, I]
      const out = this.outputLayer.forward(expanded, attn.hidden, ctx); // [B*T, H]
      return attn.probs === undefined ? [out] : [out, attn.probs];
    }) as tf.Tensor[];
    return attentionOutput(result);
  }

  /**
   * The block's output at the first position only: attention reads every position, the rest
   * runs on the [CLS] rows alone.
   * @param hidden [B*T, H]
   * @returns [B, H]
   */
  forwardFirstToken(
    hidden: tf.Tensor2D,
    maskBias: tf.Tensor4D | null,
    batch: number,
    seq: number,
    ctx: ForwardContext,
  ): tf.Tensor2D {
    return tf.tidy(() => {
      const attended = this.attention.forwardFirstToken(hidden, maskBias, batch, seq, ctx); // [B, H]
      const expanded = this.intermediate.forward(attended); // [B, I]
      return this.outputLayer.forward(expanded, attended, ctx); // [B, H]
    });
  }

  /**
   * The block's first half alone: attention with its residual and LayerNorm, at every position
   * or (`firstTokenOnly`) at the [CLS] rows. With {@linkcode BertLayer.feedForward} it computes
   * what `forward` / `forwardFirstToken` do, in two steps a caller may pause between.
   * @param hidden [B*T, H]
   * @returns [B*T, H], or [B, H] with `firstTokenOnly`
   */
  attend(
    hidden: tf.Tensor2D,
    maskBias: tf.Tensor4D | null,
    batch: number,
    seq: number,
    ctx: ForwardContext,
    firstTokenOnly: boolean,
  ): tf.Tensor2D {
    return tf.tidy(() =>
      firstTokenOnly
        ? this.attention.forwardFirstToken(hidden, maskBias, batch, seq, ctx)
        : this.attention.forward(hidden, maskBias, batch, seq, ctx, false).hidden
    );
  }

  /**
   * The block's second half: the feed-forward part with its residual and LayerNorm.
   * @param attended what {@linkcode BertLayer.attend} returned, [rows, H]
   * @returns [rows, H]
   */
  feedForward(attended: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    return tf.tidy(() => {
      const expanded = this.intermediate.forward(attended); // [rows, I]
      return this.outputLayer.forward(expanded, attended, ctx); // [rows, H]
    });
  }

  /** Runs the layer on concrete tensors (what `apply` and a LayersModel call). */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return callOnSequence(
      inputs,
      kwargs,
      (hidden, bias, B, T, ctx) => this.forward(hidden, bias, B, T, ctx).hidden,
    );
  }
}

tf.serialization.registerClass(BertLayer);
