/**
 * TensorFlow.js as this package runs it: `tf` is tfjs-core with the cpu backend registered (the
 * backends `setBackend` starts come on top), `tfl` is tfjs-layers, with this package's BERT and
 * DPR layers registered once a model module is imported. Use them for tensors you pass to or get
 * from the models, and to load converted folders as plain tfjs models.
 *
 * ```ts ignore
 * import { DPRContextEncoder, convertedFolderHandler } from "@dpr/dpr";
 * import { tf, tfl } from "@dpr/dpr/tf";
 * const model = await tfl.loadLayersModel(convertedFolderHandler("ctx-tfjs"));
 * const ids = tf.tensor2d([[101, 7592, 102]], undefined, "int32");
 * ```
 * @module
 */
export { tf, tfl } from "./backend/tf.ts";
