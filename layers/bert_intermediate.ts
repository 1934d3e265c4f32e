/**
 * `BertIntermediate`: the feed-forward expansion, Linear [H, I] then the activation.
 * @module
 */
import { tf, type tfl } from "../backend/tf.ts";
import { getActivation } from "./activations.ts";
import { linearGeluErf } from "../backend/ops/fused_ops.ts";
import {
  BertBaseLayer,
  type BertBaseLayerArgs,
  firstInputShape,
  linear,
} from "./bert_base_layer.ts";
import { isFloatKernel, readDense } from "./held_weight.ts";

/** Sizes of {@linkcode BertIntermediate}. */
export interface BertIntermediateArgs extends BertBaseLayerArgs {
  /** Hidden width H. */
  hiddenSize: number;
  /** Intermediate width I. */
  intermediateSize: number;
  /** Activation name (`hidden_act`), e.g. `"gelu"`. */
  hiddenAct: string;
}

/**
 * Linear [H, I] + activation. Weights: `dense.kernel` [H, I] (transpose of transformers'
 * `dense.weight`), `dense.bias` [I]. Call it with [B, T, H] to get [B, T, I].
 */
export class BertIntermediate extends BertBaseLayer {
  /** The class name tfjs serialization registers. @nocollapse */
  static className = "BertIntermediate";
  /** Constructor arguments, for `getConfig`. */
  readonly args: BertIntermediateArgs;
  /** [H, I] */
  denseKernel!: tfl.LayerVariable;
  /** [I] */
  denseBias!: tfl.LayerVariable;
  private readonly activation: (x: tf.Tensor) => tf.Tensor;

  /**
   * Creates the object; see the arguments.
   * @param args sizes and activation
   * @throws RangeError when the activation is not supported
   */
  constructor(args: BertIntermediateArgs) {
    super(args);
    this.args = { ...args };
    this.activation = getActivation(args.hiddenAct);
  }

  /** Creates the weights; sizes come from the constructor arguments. */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const { hiddenSize, intermediateSize } = this.args;
    this.denseKernel = this.addParam("dense.kernel", [hiddenSize, intermediateSize], "normal");
    this.denseBias = this.addParam("dense.bias", [intermediateSize], "zeros");
    this.built = true;
  }

  /**
   * The eager computation the model runs (also used by `call`).
   * @param x [N, H]
   * @returns [N, I]
   */
  forward(x: tf.Tensor2D): tf.Tensor2D {
    return tf.tidy(() => {
      const kernel = readDense(this.denseKernel, x.shape[0]), bias = this.denseBias.read();
      // Exact GELU: one kernel with the activation in place where the backend has it.
      if (this.args.hiddenAct === "gelu" && isFloatKernel(kernel)) {
        return linearGeluErf(x, kernel, bias);
      }
      return this.activation(linear(x, kernel, bias)) as tf.Tensor2D;
    });
  }

  /** Runs the layer on concrete tensors (what `apply` and a LayersModel call). */
  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs)!;
      const [B, T, H] = x.shape as [number, number, number];
      const out = this.forward(tf.reshape(x, [B * T, H]));
      return tf.reshape(out, [B, T, this.args.intermediateSize]);
    });
  }

  /** The output shape for an input shape (used on symbolic tensors). */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const first = firstInputShape(inputShape);
    return [first[0] ?? null, first[1] ?? null, this.args.intermediateSize];
  }
}

tf.serialization.registerClass(BertIntermediate);
