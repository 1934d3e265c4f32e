/**
 * `DPRSpanHead`: the heads of transformers' `DPRSpanPredictor`: `qa_outputs` (start / end logits
 * per token) and `qa_classifier` (a relevance logit from the [CLS] state).
 * @module
 */
import { tf, type tfl } from "../backend/tf.ts";
import {
  BertBaseLayer,
  type BertBaseLayerArgs,
  firstInputShape,
  linear,
} from "./bert_base_layer.ts";
import { readDense } from "./held_weight.ts";

/** Sizes of {@linkcode DPRSpanHead}. */
export interface DPRSpanHeadArgs extends BertBaseLayerArgs {
  /** Hidden width H. */
  hiddenSize: number;
}

/** Result of {@linkcode DPRSpanHead.forward}. */
export interface SpanHeadOutput {
  /** [B, T] */
  startLogits: tf.Tensor2D;
  /** [B, T] */
  endLogits: tf.Tensor2D;
  /** [B] */
  relevanceLogits: tf.Tensor1D;
}

/**
 * Takes hidden states [B, T, H]; returns `[startLogits [B, T], endLogits [B, T],
 * relevanceLogits [B]]`. Weights: `qa_outputs.kernel` [H, 2], `qa_outputs.bias` [2],
 * `qa_classifier.kernel` [H, 1], `qa_classifier.bias` [1] (kernels are the transposes of
 * transformers' `.weight`s).
 */
export class DPRSpanHead extends BertBaseLayer {
  /** The class name tfjs serialization registers. @nocollapse */
  static className = "DPRSpanHead";
  /** Constructor arguments, for `getConfig`. */
  readonly args: DPRSpanHeadArgs;
  /** [H, 2] */
  qaOutputsKernel!: tfl.LayerVariable;
  /** [2] */
  qaOutputsBias!: tfl.LayerVariable;
  /** [H, 1] */
  qaClassifierKernel!: tfl.LayerVariable;
  /** [1] */
  qaClassifierBias!: tfl.LayerVariable;

  /**
   * Builds the layer; weights are created by `build`.
   * @param args sizes
   */
  constructor(args: DPRSpanHeadArgs) {
    super(args);
    this.args = { ...args };
  }

  /** Creates the weights; sizes come from the constructor arguments. */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const H = this.args.hiddenSize;
    this.qaOutputsKernel = this.addParam("qa_outputs.kernel", [H, 2], "normal");
    this.qaOutputsBias = this.addParam("qa_outputs.bias", [2], "zeros");
    this.qaClassifierKernel = this.addParam("qa_classifier.kernel", [H, 1], "normal");
    this.qaClassifierBias = this.addParam("qa_classifier.bias", [1], "zeros");
    this.built = true;
  }

  /**
   * The three logits from the last hidden states.
   * @param hidden last hidden states [B*T, H]
   */
  forward(hidden: tf.Tensor2D, batch: number, seq: number): SpanHeadOutput {
    const [startLogits, endLogits, relevanceLogits] = tf.tidy(() => {
      const H = this.args.hiddenSize;
      const logits = linear(
        hidden,
        readDense(this.qaOutputsKernel, hidden.shape[0]),
        this.qaOutputsBias.read(),
      ); // [B*T, 2]
      const [start, end] = tf.split(logits, 2, 1); // [B*T, 1] each
      const cls = tf.slice(tf.reshape(hidden, [batch, seq * H]), [0, 0], [batch, H]) as tf.Tensor2D; // [B, H]
      const relevance = linear(
        cls,
        readDense(this.qaClassifierKernel, cls.shape[0]),
        this.qaClassifierBias.read(),
      ); // [B, 1]
      return [
        tf.reshape(start!, [batch, seq]),
        tf.reshape(end!, [batch, seq]),
        tf.reshape(relevance, [batch]),
      ];
    });
    return {
      startLogits: startLogits as tf.Tensor2D,
      endLogits: endLogits as tf.Tensor2D,
      relevanceLogits: relevanceLogits as tf.Tensor1D,
    };
  }

  /** Runs the layer on concrete tensors (what `apply` and a LayersModel call). */
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Record<string, unknown>): tf.Tensor[] {
    return tf.tidy(() => {
      const hidden = (Array.isArray(inputs) ? inputs[0] : inputs)!;
      const [B, T, H] = hidden.shape as [number, number, number];
      const out = this.forward(tf.reshape(hidden, [B * T, H]), B, T);
      return [out.startLogits, out.endLogits, out.relevanceLogits];
    });
  }

  /** The output shape for an input shape (used on symbolic tensors). */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape[] {
    const first = firstInputShape(inputShape);
    const B = first[0] ?? null;
    const T = first[1] ?? null;
    return [[B, T], [B, T], [B]];
  }
}

tf.serialization.registerClass(DPRSpanHead);
