/**
 * `BertSelfOutput`: Linear, dropout, then LayerNorm of the sum with the residual (transformers'
 * `BertSelfOutput`; `BertOutput` is the same block with the intermediate width as input).
 * @module
 */
import { layerNormFused } from "../backend/ops/fused_ops.ts";
import { tf, type tfl } from "../backend/tf.ts";
import { linearLayerNorm } from "../backend/ops/fused_ops.ts";
import {
  BertBaseLayer,
  type BertBaseLayerArgs,
  dropout,
  evalContext,
  firstInputShape,
  type ForwardContext,
  linear,
} from "./bert_base_layer.ts";
import { isFloatKernel, readDense } from "./held_weight.ts";

/** Sizes of {@linkcode BertSelfOutput}. */
export interface BertSelfOutputArgs extends BertBaseLayerArgs {
  /** Input width of `dense` (H for BertSelfOutput). */
  inputSize: number;
  /** Hidden width H (output of `dense`). */
  hiddenSize: number;
  /** LayerNorm epsilon. */
  layerNormEps: number;
  /** Dropout rate before the residual sum. */
  hiddenDropoutProb: number;
}

/**
 * Linear [in, H] + dropout + LayerNorm(x + residual). Weights: `dense.kernel` (stored [in, out],
 * the transpose of transformers' `dense.weight`), `dense.bias`, `LayerNorm.weight`,
 * `LayerNorm.bias`. Call it with `[x [B, T, in], residual [B, T, H]]`.
 */
export class BertSelfOutput extends BertBaseLayer {
  /** The class name tfjs serialization registers. @nocollapse */
  static className = "BertSelfOutput";
  /** Constructor arguments, for `getConfig`. */
  readonly args: BertSelfOutputArgs;
  /** [in, H] */
  denseKernel!: tfl.LayerVariable;
  /** [H] */
  denseBias!: tfl.LayerVariable;
  /** [H] */
  layerNormWeight!: tfl.LayerVariable;
  /** [H] */
  layerNormBias!: tfl.LayerVariable;

  /**
   * Builds the layer; weights are created by `build`.
   * @param args sizes and rates
   */
  constructor(args: BertSelfOutputArgs) {
    super(args);
    this.args = { ...args };
  }

  /** Creates the weights; sizes come from the constructor arguments. */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const { inputSize, hiddenSize } = this.args;
    this.denseKernel = this.addParam("dense.kernel", [inputSize, hiddenSize], "normal");
    this.denseBias = this.addParam("dense.bias", [hiddenSize], "zeros");
    this.layerNormWeight = this.addParam("LayerNorm.weight", [hiddenSize], "ones");
    this.layerNormBias = this.addParam("LayerNorm.bias", [hiddenSize], "zeros");
    this.built = true;
  }

  /**
   * The eager computation the model runs (also used by `call`).
   * @param x [N, in]
   * @param residual [N, H]
   * @returns [N, H]
   */
  forward(x: tf.Tensor2D, residual: tf.Tensor2D, ctx: ForwardContext): tf.Tensor2D {
    return tf.tidy(() => {
      const kernel = readDense(this.denseKernel, x.shape[0]);
      if ((!ctx.training || this.args.hiddenDropoutProb === 0) && isFloatKernel(kernel)) {
        // No dropout: one kernel (LayerNorm in place on the GEMM output) where the backend has it.
        return linearLayerNorm(
          x,
          kernel,
          this.denseBias.read(),
          this.layerNormWeight.read(),
          this.layerNormBias.read(),
          this.args.layerNormEps,
          residual,
        );
      }
      const projected = linear(x, kernel, this.denseBias.read()); // [N, H]
      return layerNormFused(
        dropout(projected, this.args.hiddenDropoutProb, ctx),
        this.layerNormWeight.read(),
        this.layerNormBias.read(),
        this.args.layerNormEps,
        residual,
      ) as tf.Tensor2D;
    });
  }

  /** Runs the layer on concrete tensors (what `apply` and a LayersModel call). */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const [x, residual] = inputs as tf.Tensor[];
      const [B, T, I] = x!.shape as [number, number, number];
      const H = this.args.hiddenSize;
      const ctx = { ...evalContext(), training: kwargs["training"] === true };
      const out = this.forward(
        tf.reshape(x!, [B * T, I]),
        tf.reshape(residual!, [B * T, H]),
        ctx,
      );
      return tf.reshape(out, [B, T, H]);
    });
  }

  /** The output shape for an input shape (used on symbolic tensors). */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const first = firstInputShape(inputShape);
    return [first[0] ?? null, first[1] ?? null, this.args.hiddenSize];
  }
}

tf.serialization.registerClass(BertSelfOutput);
