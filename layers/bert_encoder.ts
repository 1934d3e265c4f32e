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

/** How {@linkcode BertEncoder.forwardPausing} cuts a pass into steps. */
export interface PausingOptions {
  /**
   * The most multiply-adds one step runs between two pauses. A layer's attention part over it
   * runs a group of whole sequences per step, its feed-forward part a group of rows, so a large
   * batch never holds the event loop for long (one sequence's attention is the smallest step).
   * Default 2^29, about 35 ms of one wasm thread on this repository's machine: a BERT-base
   * feed-forward step is then 113 rows, an attention step one to four 128-256-token sequences.
   */
  stepMultiplyAdds?: number;
}

/** The default of {@linkcode PausingOptions.stepMultiplyAdds}. */
export const STEP_MULTIPLY_ADDS = 2 ** 29;

function stepBudget(options: PausingOptions): number {
  const budget = options.stepMultiplyAdds ?? STEP_MULTIPLY_ADDS;
  if (!(budget > 0)) {
    throw new RangeError(
      `Cannot run a pausing pass: stepMultiplyAdds must be positive: received ${budget}`,
    );
  }
  return budget;
}

/**
 * Runs `step` over `0..total` in groups of at most `per`, awaiting `pause` between groups, and
 * joins the results along the first axis (a single group is returned as it is).
 */
async function inSteps(
  total: number,
  per: number,
  pause: () => Promise<void>,
  step: (start: number, end: number) => tf.Tensor2D,
): Promise<tf.Tensor2D> {
  if (per >= total) return step(0, total);
  const parts: tf.Tensor2D[] = [];
  try {
    for (let start = 0; start < total; start += per) {
      if (start > 0) await pause();
      parts.push(step(start, Math.min(total, start + per)));
    }
    return tf.concat(parts, 0);
  } finally {
    tf.dispose(parts);
  }
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
   * @param pause awaited before each step (twice per layer, more for a large batch)
   * @param options the largest step (see {@linkcode PausingOptions})
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
    options: PausingOptions = {},
  ): Promise<tf.Tensor2D> {
    const budget = stepBudget(options);
    const { hiddenSize: h, intermediateSize: inner } = this.args;
    // Multiply-adds of one sequence's attention part (projections, scores, context) and of one
    // row's feed-forward part: a part over the budget runs a group of sequences / rows a step.
    const perSequence = seq * (4 * h * h + 2 * seq * h);
    const perRow = 2 * h * inner;
    const sequencesPerStep = Math.max(1, Math.floor(budget / perSequence));
    const rowsPerStep = Math.max(1, Math.floor(budget / perRow));
    let current = hidden;
    let attended: tf.Tensor2D | undefined;
    try {
      for (const [i, block] of this.layer.entries()) {
        // Two parts per layer (attention, then feed-forward), a pause before each step.
        await pause();
        const firstOnly = firstTokenOnly && i === this.layer.length - 1;
        const source = current;
        attended = await inSteps(
          batch,
          sequencesPerStep,
          pause,
          (b0, b1) =>
            b0 === 0 && b1 === batch
              ? block.attend(source, maskBias, batch, seq, ctx, firstOnly)
              : tf.tidy(() =>
                block.attend(
                  tf.slice(source, [b0 * seq, 0], [(b1 - b0) * seq, h]),
                  maskBias === null
                    ? null
                    : tf.slice(maskBias, [b0, 0, 0, 0], [b1 - b0, -1, -1, -1]),
                  b1 - b0,
                  seq,
                  ctx,
                  firstOnly,
                )
              ),
        );
        if (current !== hidden) current.dispose();
        current = hidden;
        await pause();
        const input = attended;
        const rows = input.shape[0];
        current = await inSteps(
          rows,
          rowsPerStep,
          pause,
          (r0, r1) =>
            r0 === 0 && r1 === rows
              ? block.feedForward(input, ctx)
              : tf.tidy(() => block.feedForward(tf.slice(input, [r0, 0], [r1 - r0, h]), ctx)),
        );
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
