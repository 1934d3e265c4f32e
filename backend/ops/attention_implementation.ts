/**
 * How self-attention lays out its products: `"batched"` (4-D matmuls; best where batched matmuls
 * are native, e.g. GPUs) or `"per-head"` (2-D matmuls per sequence and head). `"auto"` takes the
 * one the active backend registered as its preference ({@link preferAttentionImplementation}; the
 * wasm backend prefers per-head), else batched. Results agree to float rounding.
 * @module
 */
import { tf } from "../tf.ts";

/** How attention is computed; see the module doc. */
export type AttentionImplementation = "auto" | "batched" | "per-head";

const IMPLEMENTATIONS: readonly AttentionImplementation[] = ["auto", "batched", "per-head"];

const preferences = new Map<string, "batched" | "per-head">();

let processDefault: AttentionImplementation = "auto";

/**
 * Checks that `value` is an {@link AttentionImplementation}.
 * @param value what was given
 * @param owner what is being set, for the message (e.g. `Cannot build DPRQuestionEncoder`)
 * @param subject the name of the value in the message (e.g. `attention`)
 * @returns the value, typed
 * @throws RangeError for anything else
 */
export function checkAttentionImplementation(
  value: unknown,
  owner: string,
  subject: string,
): AttentionImplementation {
  if (!(IMPLEMENTATIONS as readonly unknown[]).includes(value)) {
    throw new RangeError(
      `${owner}: ${subject} must be "auto", "batched" or "per-head": received ${
        JSON.stringify(value)
      }`,
    );
  }
  return value as AttentionImplementation;
}

/**
 * Registers the implementation `"auto"` picks on a backend (what a backend's own kernels run
 * fastest).
 * @param backendName the tfjs backend name
 * @param implementation its preference
 */
export function preferAttentionImplementation(
  backendName: string,
  implementation: "batched" | "per-head",
): void {
  preferences.set(backendName, implementation);
}

/**
 * The implementation to run now.
 * @param implementation a model's choice; `undefined` takes the process default (`"auto"` unless
 *   {@link setAttentionImplementation} changed it)
 * @returns `"batched"` or `"per-head"`
 */
export function resolveAttentionImplementation(
  implementation: AttentionImplementation | undefined,
): "batched" | "per-head" {
  const chosen = implementation ?? processDefault;
  if (chosen !== "auto") return chosen;
  return preferences.get(tf.getBackend()) ?? "batched";
}

/**
 * Sets the process-wide default of models that do not choose (`attention` option left out).
 * @deprecated pass `attention` to the model instead (its constructor's or `fromPretrained`'s
 *   options); this sets the default of models that leave it out.
 * @param implementation the strategy
 * @throws RangeError for any other value
 */
export function setAttentionImplementation(implementation: AttentionImplementation): void {
  processDefault = checkAttentionImplementation(
    implementation,
    "Cannot set the attention implementation",
    "it",
  );
}
