/**
 * `BertSelfAttention`: multi-head scaled dot-product self-attention with an additive mask
 * (transformers' eager `BertSelfAttention`, absolute positions, no cache).
 * @module
 */
import { tf, type tfl } from "../backend/tf.ts";
import {
  ATTENTION_KERNEL,
  fusedAttention,
  hasFusedKernel,
  MASKED_SOFTMAX_KERNEL,
  maskedSoftmax,
} from "../backend/ops/fused_ops.ts";
import { resolveAttentionImplementation } from "../backend/ops/attention_implementation.ts";
import {
  BertBaseLayer,
  type BertBaseLayerArgs,
  dropout,
  evalContext,
  type ForwardContext,
  gatherRows,
  linear,
} from "./bert_base_layer.ts";
import { readDense } from "./held_weight.ts";

/** Sizes of {@linkcode BertSelfAttention}. */
export interface BertSelfAttentionArgs extends BertBaseLayerArgs {
  /** Hidden width H. */
  hiddenSize: number;
  /** Heads; must divide `hiddenSize`. */
  numAttentionHeads: number;
  /** Dropout rate on the attention probabilities. */
  attentionProbsDropoutProb: number;
}

/** Result of {@linkcode BertSelfAttention.forward}. */
export interface SelfAttentionOutput {
  /** Context vectors [B*T, H]. */
  context: tf.Tensor2D;
  /** Attention probabilities [B, heads, T, T] (after dropout, as transformers returns them). */
  probs?: tf.Tensor4D;
}

/**
 * The largest-magnitude negative float32, `torch.finfo(torch.float32).min`: transformers turns
 * a 0/1 attention mask into the additive bias `(1 - mask) * min`.
 */
export const FLOAT32_MIN: number = -3.4028234663852886e38;

/**
 * The additive attention bias [B, 1, 1, T] of a 0/1 mask [B, T], computed as transformers'
 * `get_extended_attention_mask` does: `(1 - mask) * finfo(float32).min`.
 */
export function attentionMaskBias(mask: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [B, T] = mask.shape;
    const bias = tf.mul(tf.sub(1, tf.cast(mask, "float32")), FLOAT32_MIN);
    return tf.reshape(bias, [B, 1, 1, T]);
  });
}

/** An eager forward pass over flattened hidden states [B*T, H], returning [B*T, H]. */
export type SequenceForward = (
  hidden: tf.Tensor2D,
  maskBias: tf.Tensor4D | null,
  batch: number,
  seq: number,
  ctx: ForwardContext,
) => tf.Tensor2D;

/**
 * The `call()` the attention blocks share: takes `[hidden [B, T, H], mask [B, T]]`, flattens
 * hidden to [B*T, H], turns the mask (when given) into its additive bias, runs `forward` in an
 * eval context (training when `kwargs.training` is true) and reshapes its result to [B, T, H].
 * @param inputs `[hidden, mask]` or `[hidden]`
 * @param kwargs tfjs's call arguments
 * @param forward the layer's eager forward pass
 * @returns [B, T, H]
 */
export function callOnSequence(
  inputs: tf.Tensor | tf.Tensor[],
  kwargs: Record<string, unknown>,
  forward: SequenceForward,
): tf.Tensor {
  return tf.tidy(() => {
    const [hidden, mask] = inputs as tf.Tensor[];
    const [B, T, H] = hidden!.shape as [number, number, number];
    const bias = mask === undefined ? null : attentionMaskBias(mask as tf.Tensor2D);
    const ctx = { ...evalContext(), training: kwargs["training"] === true };
    return tf.reshape(forward(tf.reshape(hidden!, [B * T, H]), bias, B, T, ctx), [B, T, H]);
  });
}

export {
  type AttentionImplementation,
  setAttentionImplementation,
} from "../backend/ops/attention_implementation.ts";

/**
 * Self-attention. Query, key and value are one fused Linear: kernel `qkv.kernel` [H, 3H] (the
 * transposes of transformers' `query.weight`, `key.weight`, `value.weight` side by side) and bias
 * `qkv.bias` [3H]; the checkpoint mapping splits and joins them at the load/save boundary.
 * Call it with `[hidden [B, T, H], attentionMask [B, T]]` to get [B, T, H].
 */
export class BertSelfAttention extends BertBaseLayer {
  /** The class name tfjs serialization registers. @nocollapse */
  static className = "BertSelfAttention";
  /** Constructor arguments, for `getConfig`. */
  readonly args: BertSelfAttentionArgs;
  /** Fused [query | key | value] kernel [H, 3H], stored [in, out]. */
  qkvKernel!: tfl.LayerVariable;
  /** Fused bias [3H]. */
  qkvBias!: tfl.LayerVariable;

  /**
   * Creates the object; see the arguments.
   * @param args sizes and rates
   * @throws RangeError when heads do not divide the hidden size
   */
  constructor(args: BertSelfAttentionArgs) {
    super(args);
    if (args.hiddenSize % args.numAttentionHeads !== 0) {
      throw new RangeError(
        `Cannot build BertSelfAttention: hiddenSize must be divisible by numAttentionHeads: received ${args.hiddenSize} and ${args.numAttentionHeads}`,
      );
    }
    this.args = { ...args };
  }

  /** Creates the weights; sizes come from the constructor arguments. */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const H = this.args.hiddenSize;
    this.qkvKernel = this.addParam("qkv.kernel", [H, 3 * H], "normal");
    this.qkvBias = this.addParam("qkv.bias", [3 * H], "zeros");
    this.built = true;
  }

  /**
   * The eager computation the model runs (also used by `call`).
   * @param hidden [B*T, H]
   * @param maskBias additive bias [B, 1, 1, T], or null for none
   * @param batch B
   * @param seq T
   */
  forward(
    hidden: tf.Tensor2D,
    maskBias: tf.Tensor4D | null,
    batch: number,
    seq: number,
    ctx: ForwardContext,
    outputAttentions = false,
  ): SelfAttentionOutput {
    const result = tf.tidy(() => {
      const qkv = linear(hidden, readDense(this.qkvKernel, hidden.shape[0]), this.qkvBias.read()); // [B*T, 3H]
      if (!outputAttentions && this.fusedAttentionUsable(ctx)) {
        const heads = this.args.numAttentionHeads;
        return [fusedAttention(qkv, maskBias, { batch, seq, heads })];
      }
      return resolveAttentionImplementation(ctx.attention) === "per-head"
        ? this.attendPerHead(qkv, maskBias, batch, seq, ctx, outputAttentions)
        : this.attendBatched(qkv, maskBias, batch, seq, ctx, outputAttentions);
    }) as tf.Tensor[];
    const out: SelfAttentionOutput = { context: result[0] as tf.Tensor2D };
    if (result[1] !== undefined) out.probs = result[1] as tf.Tensor4D;
    return out;
  }

  /**
   * Attention output at the first position ([CLS]) only: keys and values over the whole
   * sequence, one query per sequence. What a DPR encoder's last layer needs, as its pooler reads
   * only the [CLS] state.
   * @param hidden [B*T, H]
   * @param maskBias additive bias [B, 1, 1, T], or null for none
   * @param batch B
   * @param seq T
   * @returns the context vectors of position 0 [B, H]
   */
  forwardFirstToken(
    hidden: tf.Tensor2D,
    maskBias: tf.Tensor4D | null,
    batch: number,
    seq: number,
    ctx: ForwardContext,
  ): tf.Tensor2D {
    return tf.tidy(() => {
      // Legend: B batch, T sequence, N heads, D head size, H = N * D.
      const H = this.args.hiddenSize;
      const N = this.args.numAttentionHeads;
      const D = H / N;
      const T = seq;
      const qkv = linear(hidden, readDense(this.qkvKernel, hidden.shape[0]), this.qkvBias.read()); // [B*T, 3H]
      if (this.fusedAttentionUsable(ctx)) {
        return fusedAttention(qkv, maskBias, { batch, seq: T, heads: N, firstOnly: true });
      }
      const firstRows = Array.from({ length: batch }, (_, b) => b * T);
      const query = tf.slice(gatherRows(qkv, firstRows), [0, 0], [batch, H]); // [B, H]
      // [B, H] is [B, N, D] head-major already: one query row per head.
      const qh = tf.reshape(tf.mul(query, 1 / Math.sqrt(D)), [batch, N, 1, D]); // [B, N, 1, D]
      const parts = tf.reshape(qkv, [batch, T, 3 * N, D]);
      const kh = tf.slice(tf.transpose(parts, [0, 2, 3, 1]), [0, N, 0, 0], [batch, N, D, T]); // [B, N, D, T]
      const vh = tf.slice(tf.transpose(parts, [0, 2, 1, 3]), [0, 2 * N, 0, 0], [batch, N, T, D]); // [B, N, T, D]
      let scores = tf.matMul(qh, kh) as tf.Tensor4D; // [B, N, 1, T]
      if (maskBias !== null) scores = tf.add(scores, maskBias); // + [B, 1, 1, T]
      const probs = dropout(tf.softmax(scores), this.args.attentionProbsDropoutProb, ctx);
      return tf.reshape(tf.matMul(probs, vh), [batch, H]); // [B, N, 1, D] -> [B, H]
    });
  }

  /**
   * Whether the whole attention can run as the backend's one fused kernel: registered for the
   * active backend, no gradient recording, and no dropout on the probabilities.
   */
  private fusedAttentionUsable(ctx: ForwardContext): boolean {
    if (ctx.training && this.args.attentionProbsDropoutProb > 0) return false;
    return hasFusedKernel(ATTENTION_KERNEL);
  }

  /** Attention with 4-D batched matmuls over [B, N, ...]: few kernels; for GPU backends. */
  private attendBatched(
    qkv: tf.Tensor2D,
    maskBias: tf.Tensor4D | null,
    batch: number,
    seq: number,
    ctx: ForwardContext,
    outputAttentions: boolean,
  ): tf.Tensor[] {
    // Legend: B batch, T sequence, N heads, D head size, H = N * D.
    const H = this.args.hiddenSize;
    const N = this.args.numAttentionHeads;
    const D = H / N;
    const [q, k, v] = tf.split(qkv, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]; // [B*T, H]
    const qh = tf.transpose(tf.reshape(q, [batch, seq, N, D]), [0, 2, 1, 3]); // [B, N, T, D]
    // Keys go straight to [B, N, D, T], scaled by 1/sqrt(D) (fewer multiplies than scaling the
    // [T, T] scores as transformers does; the difference is float rounding), so the score
    // matmul needs no transposeB.
    // Where a fused scale + mask + softmax kernel exists, the scale goes there instead.
    const fused = hasFusedKernel(MASKED_SOFTMAX_KERNEL);
    const keys = tf.transpose(tf.reshape(k, [batch, seq, N, D]), [0, 2, 3, 1]);
    const kh = fused ? keys : tf.mul(keys, 1 / Math.sqrt(D)); // [B, N, D, T]
    const vh = tf.transpose(tf.reshape(v, [batch, seq, N, D]), [0, 2, 1, 3]); // [B, N, T, D]
    let scores = tf.matMul(qh, kh) as tf.Tensor4D; // [B, N, T, T]
    let probs: tf.Tensor4D;
    if (fused) {
      probs = maskedSoftmax(scores, 1 / Math.sqrt(D), maskBias) as tf.Tensor4D;
    } else {
      if (maskBias !== null) scores = tf.add(scores, maskBias); // + [B, 1, 1, T]
      probs = tf.softmax(scores);
    }
    probs = dropout(probs, this.args.attentionProbsDropoutProb, ctx);
    const contextHeads = tf.matMul(probs, vh); // [B, N, T, D]
    const context = tf.reshape(tf.transpose(contextHeads, [0, 2, 1, 3]), [batch * seq, H]); // [B*T, H]
    return outputAttentions ? [context, probs] : [context];
  }

  /**
   * Attention as one pair of plain 2-D matmuls per (sequence, head). The wasm backend runs 2-D
   * matmuls on XNNPACK but batched or transposed ones on a naive loop about ten times slower per
   * flop, so this wins there despite the extra kernel calls. Heads are picked with
   * {@linkcode gatherRows}, not `slice`: wasm's Slice copies its whole input on every call.
   */
  private attendPerHead(
    qkv: tf.Tensor2D,
    maskBias: tf.Tensor4D | null,
    batch: number,
    seq: number,
    ctx: ForwardContext,
    outputAttentions: boolean,
  ): tf.Tensor[] {
    // Legend: B batch, T sequence, N heads, D head size, H = N * D; row j of the 3N "parts" is
    // query head j, key head j - N or value head j - 2N.
    const H = this.args.hiddenSize;
    const N = this.args.numAttentionHeads;
    const D = H / N;
    const T = seq;
    const scale = 1 / Math.sqrt(D);
    // Two transposes of the whole projection instead of split + three transposes (wasm's split
    // slices copy their whole input): one with [T, D] blocks for queries and values, one with
    // [D, T] blocks for keys.
    const parts = tf.reshape(qkv, [batch, T, 3 * N, D]);
    const rows: tf.Tensor2D = tf.reshape(tf.transpose(parts, [0, 2, 1, 3]), [batch * 3 * N, T * D]); // [T, D] each
    // Keys scaled by 1/sqrt(D) in one multiply (this also scales the unused query/value blocks
    // of this copy, which is cheaper on wasm than one small kernel call per head).
    const rowsT: tf.Tensor2D = tf.reshape(tf.mul(tf.transpose(parts, [0, 2, 3, 1]), scale), [
      batch * 3 * N,
      D * T,
    ]); // [D, T] each
    const biases: tf.Tensor2D | null = maskBias === null ? null : tf.reshape(maskBias, [batch, T]);
    const contexts: tf.Tensor2D[] = [];
    const allProbs: tf.Tensor2D[] = [];
    for (let b = 0; b < batch; b++) {
      const bias = biases === null ? null : gatherRows(biases, [b]); // [1, T]
      for (let h = 0; h < N; h++) {
        const [context, probs] = tf.tidy(() => {
          const base = b * 3 * N + h;
          const query = tf.reshape(gatherRows(rows, [base]), [T, D]);
          const keyT = tf.reshape(gatherRows(rowsT, [base + N]), [D, T]);
          const value = tf.reshape(gatherRows(rows, [base + 2 * N]), [T, D]);
          let scores: tf.Tensor2D = tf.matMul(query, keyT); // [T, T]
          if (bias !== null) scores = tf.add(scores, bias); // + [1, T]
          const p = dropout(tf.softmax(scores), this.args.attentionProbsDropoutProb, ctx);
          const c = tf.matMul(p, value); // [T, D]
          return outputAttentions ? [c, p] : [c];
        });
        contexts.push(context as tf.Tensor2D);
        if (probs !== undefined) allProbs.push(probs as tf.Tensor2D);
      }
    }
    const heads = tf.reshape(tf.stack(contexts), [batch, N, T, D]); // [B, N, T, D]
    const context = tf.reshape(tf.transpose(heads, [0, 2, 1, 3]), [batch * T, H]); // [B*T, H]
    if (!outputAttentions) return [context];
    return [context, tf.reshape(tf.stack(allProbs), [batch, N, T, T])]; // [B, N, T, T]
  }

  /** Runs the layer on concrete tensors (what `apply` and a LayersModel call). */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return callOnSequence(
      inputs,
      kwargs,
      (hidden, bias, B, T, ctx) => this.forward(hidden, bias, B, T, ctx).context,
    );
  }
}

tf.serialization.registerClass(BertSelfAttention);
