/**
 * Question latency of the int8 BERT-base question encoder on wasm with one thread (the edge
 * configuration), loaded from its folder as users do (`bert_base_checkpoint.ts`), in a child
 * process (the wasm backend's thread count is fixed once it starts). `deno task bench` calls
 * {@linkcode int8QuestionTimes} and prints the row against onnxruntime's latency measured right
 * before it.
 *
 *   deno run -A bench/int8_question.ts --child [iters]   # prints {"times": [...], "cpu": [...]}
 * @module
 */
import process from "node:process";
import { DPRQuestionEncoder, setBackend, tf } from "../mod.ts";
import { QUESTION_DIR, writeCheckpoint } from "./bert_base_checkpoint.ts";

/** Wall and CPU milliseconds of each timed question. */
export interface Int8QuestionTimes {
  /** Wall time per question. */
  times: number[];
  /** CPU time per question (this process, all threads). */
  cpu: number[];
}

/** CPU milliseconds this process has used (user + system). */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/**
 * Runs the child and returns its times.
 * @param iters timed questions (after two untimed ones)
 * @returns the times, or an error message
 */
export async function int8QuestionTimes(
  iters: number,
): Promise<Int8QuestionTimes | { error: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child", String(iters)],
    stdout: "piped",
    stderr: "inherit",
  });
  const { code, stdout } = await child.output();
  const lines = new TextDecoder().decode(stdout).trim().split("\n");
  if (code !== 0) return { error: `the child exited with ${code}: ${lines.at(-1)}` };
  return JSON.parse(lines.at(-1)!) as Int8QuestionTimes;
}

async function child(iters: number): Promise<void> {
  await writeCheckpoint(QUESTION_DIR, false);
  await setBackend("wasm", { wasmThreads: 1 });
  const model = await DPRQuestionEncoder.fromPretrained(QUESTION_DIR, { dtype: "int8" });
  // The ids of `bench/main.ts` (the peer's): [CLS] then spread over the vocabulary.
  const ids = new Int32Array(32).map((_, i) => (i === 0 ? 101 : 1000 + ((i * 7919) % 29000)));
  const input = tf.tensor2d(ids, [1, 32], "int32");
  const times: number[] = [], cpu: number[] = [];
  for (let i = -2; i < iters; i++) {
    const t0 = performance.now(), c0 = cpuMs();
    const { poolerOutput } = model.forward({ inputIds: input });
    await poolerOutput.data();
    poolerOutput.dispose();
    if (i >= 0) {
      times.push(performance.now() - t0);
      cpu.push(cpuMs() - c0);
    }
  }
  input.dispose();
  model.dispose();
  console.log(JSON.stringify({ times, cpu }));
}

if (import.meta.main && Deno.args[0] === "--child") await child(Number(Deno.args[1] ?? 20));
