/**
 * `BertOutput`: the feed-forward output block of a BERT layer.
 * @module
 */
import { tf } from "../backend/tf.ts";
import { BertSelfOutput } from "./bert_self_output.ts";

/**
 * Linear [I, H] + dropout + LayerNorm(x + residual): the same computation and weight names as
 * {@linkcode BertSelfOutput}, with `inputSize` the intermediate width.
 */
export class BertOutput extends BertSelfOutput {
  /** The class name tfjs serialization registers. @nocollapse */
  static override className = "BertOutput";
}

tf.serialization.registerClass(BertOutput);
