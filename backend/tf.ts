/**
 * The one place the project imports TensorFlow.js from, so every module shares one engine.
 *
 * `tf` is tfjs-core with the cpu backend registered; `tfl` is tfjs-layers.
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";

export { tf, tfl };
