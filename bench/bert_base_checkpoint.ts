/**
 * The seeded BERT-base checkpoints the benchmarks load from files, as users do: a question encoder
 * (`scratch/bert-base-question/`) and a reader (`scratch/bert-base-reader/`), written once with
 * `saveSafetensors` (ignored by git).
 * @module
 */
import { DPRConfig, DPRQuestionEncoder, DPRReader, saveSafetensors } from "../mod.ts";

/** The question encoder's folder. */
export const QUESTION_DIR: string = new URL("../scratch/bert-base-question/", import.meta.url)
  .pathname;
/** The reader's folder. */
export const READER_DIR: string = new URL("../scratch/bert-base-reader/", import.meta.url).pathname;

/**
 * Writes a seeded BERT-base checkpoint into `dir` unless one is there.
 * @param dir the folder (ends with a slash)
 * @param reader a reader (seed 2) instead of a question encoder (seed 1)
 */
export async function writeCheckpoint(dir: string, reader: boolean): Promise<void> {
  try {
    await Deno.stat(`${dir}model.safetensors`);
    return;
  } catch { /* write it */ }
  await Deno.mkdir(dir, { recursive: true });
  const config = new DPRConfig({}); // BERT-base sizes
  const model = reader
    ? new DPRReader(config, { seed: 2 })
    : new DPRQuestionEncoder(config, { seed: 1 });
  await saveSafetensors(model, `${dir}model.safetensors`);
  const architectures = [reader ? "DPRReader" : "DPRQuestionEncoder"];
  await Deno.writeTextFile(
    `${dir}config.json`,
    JSON.stringify({ ...config.toJSON(), architectures }),
  );
  model.dispose();
}
