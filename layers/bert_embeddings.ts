/**
 * `BertEmbeddings`: word + absolute position + token type embeddings, LayerNorm, dropout
 * (transformers' `BertEmbeddings` with `position_embedding_type="absolute"`).
 * @module
 */
import { layerNormFused } from "../backend/ops/fused_ops.ts";
import { tf, type tfl } from "../backend/tf.ts";
import {
  BertBaseLayer,
  type BertBaseLayerArgs,
  dropout,
  evalContext,
  firstInputShape,
  type ForwardContext,
  gatherRows,
} from "./bert_base_layer.ts";
import { gatherQuantizedRows, heldQuantized } from "./held_weight.ts";

/** Sizes of {@linkcode BertEmbeddings}. */
export interface BertEmbeddingsArgs extends BertBaseLayerArgs {
  /** Rows of `word_embeddings`. */
  vocabSize: number;
  /** Embedding width. */
  hiddenSize: number;
  /** Rows of `position_embeddings` (longest sequence). */
  maxPositionEmbeddings: number;
  /** Rows of `token_type_embeddings`. */
  typeVocabSize: number;
  /** LayerNorm epsilon. */
  layerNormEps: number;
  /** Dropout rate after the LayerNorm. */
  hiddenDropoutProb: number;
}

/** Inputs of {@linkcode BertEmbeddings.forward}: exactly one of `inputIds` / `inputsEmbeds`. */
export interface BertEmbeddingsInputs {
  /** int32 token ids [B, T]. */
  inputIds?: tf.Tensor2D;
  /**
   * The same ids as numbers, row-major, when the caller has them: a quantized word table reads
   * its rows by them (no read back from the device).
   */
  inputIdValues?: ArrayLike<number>;
  /** float32 embeddings [B, T, H], used instead of looking up `inputIds`. */
  inputsEmbeds?: tf.Tensor3D;
  /** int32 token types [B, T]. */
  tokenTypeIds: tf.Tensor2D;
}

/**
 * The embedding block. Weights use transformers' local names (`word_embeddings.weight`, ...).
 * Call it with `[inputIds, tokenTypeIds]` (int32 [B, T]) to get [B, T, H].
 */
export class BertEmbeddings extends BertBaseLayer {
  /** The class name tfjs serialization registers. @nocollapse */
  static className = "BertEmbeddings";
  /** Constructor arguments, for `getConfig`. */
  readonly args: BertEmbeddingsArgs;
  /** [vocabSize, H] */
  wordEmbeddings!: tfl.LayerVariable;
  /** [maxPositionEmbeddings, H] */
  positionEmbeddings!: tfl.LayerVariable;
  /** [typeVocabSize, H] */
  tokenTypeEmbeddings!: tfl.LayerVariable;
  /** LayerNorm gain [H] */
  layerNormWeight!: tfl.LayerVariable;
  /** LayerNorm bias [H] */
  layerNormBias!: tfl.LayerVariable;

  /**
   * Builds the layer; weights are created by `build`.
   * @param args sizes and rates
   */
  constructor(args: BertEmbeddingsArgs) {
    super(args);
    this.args = { ...args };
  }

  /** Creates the weights; sizes come from the constructor arguments. */
  override build(_inputShape: tfl.Shape | tfl.Shape[]): void {
    const { vocabSize, hiddenSize, maxPositionEmbeddings, typeVocabSize } = this.args;
    this.wordEmbeddings = this.addParam(
      "word_embeddings.weight",
      [vocabSize, hiddenSize],
      "normal",
    );
    this.positionEmbeddings = this.addParam(
      "position_embeddings.weight",
      [maxPositionEmbeddings, hiddenSize],
      "normal",
    );
    this.tokenTypeEmbeddings = this.addParam(
      "token_type_embeddings.weight",
      [typeVocabSize, hiddenSize],
      "normal",
    );
    this.layerNormWeight = this.addParam("LayerNorm.weight", [hiddenSize], "ones");
    this.layerNormBias = this.addParam("LayerNorm.bias", [hiddenSize], "zeros");
    this.built = true;
  }

  /**
   * The embedding output as a 2-D tensor [B*T, H] (rows in batch-major order).
   * Inputs must already be validated (ids inside the tables, T <= maxPositionEmbeddings).
   */
  forward(inputs: BertEmbeddingsInputs, ctx: ForwardContext): tf.Tensor2D {
    return tf.tidy(() => {
      const H = this.args.hiddenSize;
      const [B, T] = inputs.tokenTypeIds.shape;
      // Legend: B batch, T sequence, H hidden.
      // A quantized table (int8 per row, or float16) dequantizes only the rows it gathers.
      const quantized = heldQuantized(this.wordEmbeddings)?.weight;
      const words = inputs.inputsEmbeds !== undefined
        ? tf.reshape(inputs.inputsEmbeds, [B * T, H]) // [B*T, H]
        : quantized !== undefined
        ? gatherQuantizedRows(quantized, inputs.inputIdValues ?? inputs.inputIds!.dataSync()) // [B*T, H]
        : gatherRows(
          this.wordEmbeddings.read() as tf.Tensor2D,
          tf.reshape(inputs.inputIds!, [B * T]) as tf.Tensor1D,
        ); // [B*T, H]
      const types = gatherRows(
        this.tokenTypeEmbeddings.read() as tf.Tensor2D,
        tf.reshape(inputs.tokenTypeIds, [B * T]) as tf.Tensor1D,
      ); // [B*T, H]
      // The first T rows, gathered: a slice copies the whole table out of wasm memory per call.
      const positions = gatherRows(
        this.positionEmbeddings.read() as tf.Tensor2D,
        Array.from({ length: T }, (_, t) => t),
      ); // [T, H]
      // Broadcast positions over the batch: [B, T, H] + [T, H].
      const summed = tf.reshape(tf.add(tf.reshape(tf.add(words, types), [B, T, H]), positions), [
        B * T,
        H,
      ]);
      const normed = layerNormFused(
        summed,
        this.layerNormWeight.read(),
        this.layerNormBias.read(),
        this.args.layerNormEps,
      );
      return dropout(normed, this.args.hiddenDropoutProb, ctx) as tf.Tensor2D;
    });
  }

  /** Runs the layer on concrete tensors (what `apply` and a LayersModel call). */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    return tf.tidy(() => {
      const [ids, types] = inputs as tf.Tensor[];
      const inputIds = tf.cast(ids!, "int32") as tf.Tensor2D;
      const tokenTypeIds = types === undefined ? tf.zerosLike(inputIds) : tf.cast(types, "int32");
      const ctx = { ...evalContext(), training: kwargs["training"] === true };
      const [B, T] = inputIds.shape;
      const out = this.forward({ inputIds, tokenTypeIds: tokenTypeIds as tf.Tensor2D }, ctx);
      return tf.reshape(out, [B, T, this.args.hiddenSize]);
    });
  }

  /** The output shape for an input shape (used on symbolic tensors). */
  override computeOutputShape(inputShape: tfl.Shape | tfl.Shape[]): tfl.Shape {
    const first = firstInputShape(inputShape);
    return [first[0] ?? null, first[1] ?? null, this.args.hiddenSize];
  }
}

tf.serialization.registerClass(BertEmbeddings);
