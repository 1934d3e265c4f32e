/**
 * The real facebook DPR checkpoints against transformers' integration-test values
 * (`tests/fixtures/golden/real_checkpoints.json`). They cannot ship with the project, so this runs
 * only when `DPR_REAL_CHECKPOINTS` names a folder holding them as `<org>/<name>/` or
 * `<org>--<name>/` (Hugging Face layout: config.json, vocab.txt, model.safetensors or
 * pytorch_model.bin); otherwise it says that it skipped and why.
 */
import assert from "node:assert/strict";
import { tf } from "../../backend/tf.ts";
import { resolvePretrained } from "../../io/resolve.ts";
import { DPRConfig } from "../../models/config.ts";
import { DPRQuestionEncoder } from "../../models/dpr_question_encoder.ts";
import { DPRReader } from "../../models/dpr_reader.ts";
import { DPRReaderTokenizer } from "../../tokenizer/dpr_reader_tokenizer.ts";

const GOLDEN = new URL("../fixtures/golden/real_checkpoints.json", import.meta.url);

interface RealCase {
  model: string;
  class: string;
  input_ids?: number[][];
  tokenizer_call?: { questions: string; titles: string; texts: string; padding: boolean };
  expected?: number[][];
  expected_start_logits?: number[][];
  expected_end_logits?: number[][];
  atol: number;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

async function findFolder(root: string, id: string): Promise<string | null> {
  for (const candidate of [`${root}/${id}`, `${root}/${id.replace("/", "--")}`]) {
    try {
      if ((await Deno.stat(candidate)).isDirectory) return candidate;
    } catch {
      // try the next layout
    }
  }
  return null;
}

function assertClose(actual: ArrayLike<number>, expected: number[], atol: number, what: string) {
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    assert.ok(diff <= atol, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (diff ${diff})`);
  }
}

const realRoot = env("DPR_REAL_CHECKPOINTS");
if (realRoot === undefined) {
  console.log(
    "real checkpoint test ignored: set DPR_REAL_CHECKPOINTS to a folder holding facebook/dpr-* " +
      "checkpoints (they are not available offline)",
  );
}

Deno.test({
  name: "real facebook DPR checkpoints match transformers' integration values",
  // Ignored, not passed, when the checkpoints are not there: the count says what ran.
  ignore: realRoot === undefined,
  fn: realCheckpoints,
});

async function realCheckpoints(): Promise<void> {
  const root = realRoot!;
  const golden = JSON.parse(await Deno.readTextFile(GOLDEN)) as { cases: RealCase[] };
  let ran = 0;
  for (const c of golden.cases) {
    const folder = await findFolder(root, c.model);
    if (folder === null) {
      console.log(`skipped ${c.model}: not found under ${root}`);
      continue;
    }
    const resolved = await resolvePretrained(folder);
    const config = DPRConfig.fromJSON(resolved.config);
    if (c.class === "DPRQuestionEncoder") {
      const model = new DPRQuestionEncoder(config, { zeroInit: true });
      model.loadStateDict(resolved.stateDict);
      const out = model.forward({ inputIds: c.input_ids! });
      const row = out.poolerOutput.dataSync().slice(0, 10);
      assertClose(row, c.expected![0]!, c.atol, `${c.model} pooler_output`);
      out.poolerOutput.dispose();
      model.dispose();
    } else {
      const tokenizer = await DPRReaderTokenizer.fromPretrained(resolved.source);
      const call = c.tokenizer_call!;
      const encoded = tokenizer.encode(
        { questions: call.questions, titles: call.titles, texts: call.texts },
        { padding: call.padding },
      ) as unknown as { inputIds: number[][]; attentionMask?: number[][] };
      const model = new DPRReader(config, { zeroInit: true });
      model.loadStateDict(resolved.stateDict);
      const inputs = encoded.attentionMask
        ? { inputIds: encoded.inputIds, attentionMask: encoded.attentionMask }
        : { inputIds: encoded.inputIds };
      const out = model.forward(inputs);
      assertClose(
        out.startLogits.dataSync().slice(0, 10),
        c.expected_start_logits![0]!,
        c.atol,
        "start",
      );
      assertClose(out.endLogits.dataSync().slice(0, 10), c.expected_end_logits![0]!, c.atol, "end");
      tf.dispose([out.startLogits, out.endLogits, out.relevanceLogits]);
      model.dispose();
    }
    ran++;
  }
  assert.ok(ran > 0, `DPR_REAL_CHECKPOINTS=${root} holds none of the checkpoints`);
  console.log(`checked ${ran} real checkpoint(s) from ${root}`);
}
