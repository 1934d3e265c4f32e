/**
 * Replays the golden model cases on the current backend; shared by the per-backend tests.
 * @module
 */
import { equal } from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { DPRContextEncoder } from "../../models/dpr_context_encoder.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import {
  assertClose,
  caseInputs,
  type CHECKPOINTS,
  FIXTURES,
  type GoldenTensor,
  readGolden,
} from "./golden_helpers.ts";

/** Options of {@linkcode replayCheckpoint}. */
export interface ReplayOptions {
  /** Absolute tolerance. */
  tolerance: number;
  /** Only the cases whose names pass (default: all). */
  filter?: (name: string) => boolean;
}

/**
 * Loads checkpoint `name` and checks every (filtered) case: pooler output or reader logits, each
 * hidden state and attention. Returns the names of the cases replayed.
 */
export async function replayCheckpoint(
  name: typeof CHECKPOINTS[number],
  options: ReplayOptions,
): Promise<string[]> {
  const golden = readGolden(name);
  const dir = `${FIXTURES}models/${name}`;
  const model = golden.model_class === "DPRReader"
    ? await DPRReader.fromPretrained(dir)
    : golden.model_class === "DPRContextEncoder"
    ? await DPRContextEncoder.fromPretrained(dir)
    : await DPRQuestionEncoder.fromPretrained(dir);
  const replayed: string[] = [];
  try {
    for (const c of golden.cases) {
      if (options.filter && !options.filter(c.name)) continue;
      const inputs = caseInputs(c);
      const before = tf.memory().numTensors;
      const out = model.forward(inputs, { outputHiddenStates: true, outputAttentions: true });
      const label = `${name}/${c.name}`;
      const o = c.outputs;
      const tol = options.tolerance;
      if ("poolerOutput" in out) {
        await assertClose(
          out.poolerOutput,
          o["pooler_output"] as GoldenTensor,
          tol,
          `${label} pooler`,
        );
      } else {
        await assertClose(
          out.startLogits,
          o["start_logits"] as GoldenTensor,
          tol,
          `${label} start`,
        );
        await assertClose(out.endLogits, o["end_logits"] as GoldenTensor, tol, `${label} end`);
        await assertClose(
          out.relevanceLogits,
          o["relevance_logits"] as GoldenTensor,
          tol,
          `${label} relevance`,
        );
      }
      const states = o["hidden_states"] as GoldenTensor[];
      const attentions = o["attentions"] as GoldenTensor[];
      equal(out.hiddenStates?.length, states.length, `${label}: number of hidden states`);
      equal(out.attentions?.length, attentions.length, `${label}: number of attentions`);
      for (const [k, s] of states.entries()) {
        await assertClose(out.hiddenStates![k]!, s, tol, `${label} hidden ${k}`);
      }
      for (const [k, a] of attentions.entries()) {
        await assertClose(out.attentions![k]!, a, tol, `${label} attn ${k}`);
      }
      tf.dispose(out as unknown as tf.TensorContainer);
      // Without extra outputs the encoders take a shorter path (last layer on [CLS] only).
      const plain = model.forward(inputs);
      if ("poolerOutput" in plain) {
        await assertClose(
          plain.poolerOutput,
          o["pooler_output"] as GoldenTensor,
          tol,
          `${label} plain`,
        );
      } else {
        await assertClose(
          plain.startLogits,
          o["start_logits"] as GoldenTensor,
          tol,
          `${label} plain`,
        );
        await assertClose(
          plain.relevanceLogits,
          o["relevance_logits"] as GoldenTensor,
          tol,
          `${label} plain relevance`,
        );
      }
      tf.dispose(plain as unknown as tf.TensorContainer);
      equal(tf.memory().numTensors, before, `${label}: tensors leaked`);
      if (inputs.inputsEmbeds instanceof tf.Tensor) inputs.inputsEmbeds.dispose();
      replayed.push(c.name);
    }
  } finally {
    model.dispose();
  }
  return replayed;
}
