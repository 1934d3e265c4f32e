/**
 * `DPRPooler`: DPR's "pooler output", the [CLS] (first) hidden state, then `encode_proj` when the
 * config asks for a projection (transformers' `DPREncoder`, which has no BERT pooler).
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

/** Sizes of {@linkcode DPRPooler}. */
export interface DPRPoolerArgs extends BertBaseLayerArgs {
  /** Hidden width H. */
  hiddenSize: number;
  /** Width of `encode_proj`; 0 means no projection. */
  projectionDim: number;
}

/**
 * Takes the hidden states [B, T, H] and returns [B, H] (or [B, projectionDim]). Weights, only
 * with a projection: `encode_proj.kernel` [H, P] (transpose of `encode_proj.weight`),
 * `encode_proj.bias` [P].
 */
export class DPRPooler extends BertBaseLayer {
  /** The class name tfjs serialization registers. @nocollapse */
  static className = "DPRPooler";
  /** Constructor arguments, for `getConfig`. */
  readonly args: DPRPoolerArgs;
  /** [H, P], or null without projection. */
  projKernel: tfl.LayerVariable | null = null;
  /** [P], or null without projection. */
  projBias: tfl.LayerVariable | null = null;

  /**
   * Builds the layer; weights are created by `build`.
   * @param args sizes
   */
  constructor(args: DPRPoolerArgs) {
    super(args);
    this.args = { ...args };
  }

  /** Width of the output. */
  get outputSize(): number {
    return this.args.projectionDim > 0 ? this.args.projectionDim : this.args.hiddenSize;
  }

  /** Creates the weights; sizes come from the constructor arguments. */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const { hiddenSize, projectionDim } = this.args;
    if (projectionDim > 0) {
      this.projKernel = this.addParam("encode_proj.kernel", [hiddenSize, projectionDim], "normal");
      this.projBias = this.addParam("encode_proj.bias", [projectionDim], "zeros");
    }
    this.built = true;
  }

  /**
   * The eager computation the model runs (also used by `call`).
   * @param hidden last hidden states [B*T, H]
   * @returns [B, H] or [B, P]
   */
  forward(hidden: tf.Tensor2D, batch: number, seq: number): tf.Tensor2D {
    return tf.tidy(() => {
      const H = this.args.hiddenSize;
      // Row b*T of [B*T, H] is the [CLS] state of sequence b: view as [B, T*H], keep first H.
      const cls = tf.slice(tf.reshape(hidden, [batch, seq * H]), [0, 0], [batch, H]) as tf.Tensor2D; // [B, H]
      if (this.projKernel === null || this.projBias === null) return cls;
      return linear(cls, readDense(this.projKernel, cls.shape[0]), this.projBias.read()); // [B, P]
    });
  }

  /**
   * The pooler output from the [CLS] states themselves.
   * @param cls [B, H]
   * @returns [B, H] (a copy) or [B, P]
   */
  project(cls: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      if (this.projKernel === null || this.projBias === null) return tf.clone(cls);
      return linear(cls, readDense(this.projKernel, cls.shape[0]), this.projBias.read()); // [B, P]
    });
  }

  /** Runs the layer on concrete tensors (what `apply` and a LayersModel call). */
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const hidden = (Array.isArray(inputs) ? inputs[0] : inputs)!;
      const [B, T, H] = hidden.shape as [number, number, number];
      return this.forward(tf.reshape(hidden, [B * T, H]), B, T);
    });
  }

  /** The output shape for an input shape (used on symbolic tensors). */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const first = firstInputShape(inputShape);
    return [first[0] ?? null, this.outputSize];
  }
}

tf.serialization.registerClass(DPRPooler);
