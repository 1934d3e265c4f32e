/**
 * Whether tfjs's gradient tape is recording: the named ops' own kernels have no gradients, so
 * under a tape they run their composite forms.
 * @module
 */
import { tf } from "../tf.ts";

/**
 * Whether a gradient tape is recording now.
 * @returns true inside `tf.grad`, `tf.variableGrads` and the like
 */
export function recordingGradients(): boolean {
  return (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
}
