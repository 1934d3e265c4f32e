/**
 * `BertAttention`: self-attention followed by its output block (transformers' `BertAttention`).
 * @module
 */
import { tf, type tfl } from "../backend/tf.ts";
import {
  type BertBaseLayerArgs,
  BertCompositeLayer,
  type ForwardContext,
  gatherRows,
} from "./bert_base_layer.ts";
import { BertSelfAttention, callOnSequence } from "./bert_self_attention.ts";
import { BertSelfOutput } from "./bert_self_output.ts";

/** Sizes of {@linkcode BertAttention}. */
export interface BertAttentionArgs extends BertBaseLayerArgs {
  /** Hidden width H. */
  hiddenSize: number;
  /** Heads; must divide `hiddenSize`. */
  numAttentionHeads: number;
  /** Dropout on attention probabilities. */
  attentionProbsDropoutProb: number;
  /** Dropout in the output block. */
  hiddenDropoutProb: number;
  /** LayerNorm epsilon. */
  layerNormEps: number;
}

/** Result of {@linkcode BertAttention.forward}. */
export interface AttentionOutput {
  /** [B*T, H] */
  hidden: tf.Tensor2D;
  /** [B, heads, T, T] when requested. */
  probs?: tf.Tensor4D;
}

/**
 * Unpacks what a block's forward pass returns from its `tidy`: `[hidden]`, or `[hidden, probs]`
 * when attention probabilities were asked for.
 * @param result the tensors kept by the tidy
 * @returns them as an {@linkcode AttentionOutput}
 */
export function attentionOutput(result: tf.Tensor[]): AttentionOutput {
  const out: AttentionOutput = { hidden: result[0] as tf.Tensor2D };
  if (result[1] !== undefined) out.probs = result[1] as tf.Tensor4D;
  return out;
}

/**
 * Sublayers `self` ({@linkcode BertSelfAttention}, named `<name>.self`) and `output`
 * ({@linkcode BertSelfOutput}, `<name>.output`). Call it with `[hidden [B, T, H], mask [B, T]]`.
 */
export class BertAttention extends BertCompositeLayer {
  /** The class name tfjs serialization registers. @nocollapse */
  static className = "BertAttention";
  /** Constructor arguments, for `getConfig`. */
  readonly args: BertAttentionArgs;
  /** `attention.self` */
  readonly self: BertSelfAttention;
  /** transformers' `attention.output` (renamed: tfjs layers already have an `output` property) */
  readonly outputLayer: BertSelfOutput;

  /**
   * Builds the layer; weights are created by `build`.
   * @param args sizes and rates
   */
  constructor(args: BertAttentionArgs) {
    super(args);
    this.args = { ...args };
    const shared = this.sharedArgs();
    this.self = new BertSelfAttention({
      ...shared,
      name: `${this.name}.self`,
      hiddenSize: args.hiddenSize,
      numAttentionHeads: args.numAttentionHeads,
      attentionProbsDropoutProb: args.attentionProbsDropoutProb,
    });
    this.outputLayer = new BertSelfOutput({
      ...shared,
      name: `${this.name}.output`,
      inputSize: args.hiddenSize,
      hiddenSize: args.hiddenSize,
      layerNormEps: args.layerNormEps,
      hiddenDropoutProb: args.hiddenDropoutProb,
    });
  }

  /** The sublayers, in weight order. */
  protected sublayers(): tfl.layers.Layer[] {
    return [this.self, this.outputLayer];
  }

  /** Self-attention then the output block; arguments as {@linkcode BertSelfAttention.forward}. */
  forward(
    hidden: tf.Tensor2D,
    maskBias: tf.Tensor4D | null,
    batch: number,
    seq: number,
    ctx: ForwardContext,
    outputAttentions = false,
  ): AttentionOutput {
    const result = tf.tidy(() => {
      const { context, probs } = this.self.forward(
        hidden,
        maskBias,
        batch,
        seq,
        ctx,
        outputAttentions,
      );
      const out = this.outputLayer.forward(context, hidden, ctx);
      return probs === undefined ? [out] : [out, probs];
    }) as tf.Tensor[];
    return attentionOutput(result);
  }

  /**
   * The block's output at the first position only (see
   * {@linkcode BertSelfAttention.forwardFirstToken}).
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
      const context = this.self.forwardFirstToken(hidden, maskBias, batch, seq, ctx); // [B, H]
      const firstRows = Array.from({ length: batch }, (_, b) => b * seq);
      const residual = gatherRows(hidden, firstRows); // [B, H]
      return this.outputLayer.forward(context, residual, ctx);
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

tf.serialization.registerClass(BertAttention);
