/**
 * Child process of readme_permissions_test.ts: runs one case of the README's permission table,
 * under exactly that row's flags, and prints one JSON line (`{"ok":true,"value":...}` or
 * `{"ok":false,"error":...}`).
 *
 * Run as `deno run <the row's flags> tests/readme_permission_cases.ts <case> [args...]`.
 * @module
 */
import {
  DenseIndex,
  DPRContextEncoder,
  DPRQuestionEncoder,
  DPRQuestionEncoderTokenizer,
  getBackendInfo,
  saveSafetensors,
  setBackend,
  type SetBackendOptions,
  tf,
} from "../mod.ts";

const QUESTION = "tests/fixtures/models/dpr-question_encoder-tiny";
const CONTEXT = "tests/fixtures/models/dpr-ctx_encoder-tiny";

/** The question encoder's pooled output for one question, loaded from `source`. */
async function encode(source: string, options: Record<string, unknown> = {}): Promise<number[]> {
  const [tokenizer, encoder] = await Promise.all([
    DPRQuestionEncoderTokenizer.fromPretrained(source, options),
    DPRQuestionEncoder.fromPretrained(source, options),
  ]);
  const batch = tokenizer.encode(["who wrote the permission table?"], { returnTensors: "tf" });
  const { poolerOutput } = encoder.forward(batch);
  const values = Array.from(await poolerOutput.data());
  tf.dispose([poolerOutput, batch.inputIds, batch.attentionMask, batch.tokenTypeIds]);
  encoder.dispose();
  return values;
}

/** What a case reports: the backend its first load ran on and the vector it computed. */
interface Report {
  backend: string;
  threads: number | null;
  vector: number[];
  [key: string]: unknown;
}

function report(vector: number[], extra: Record<string, unknown> = {}): Report {
  const info = getBackendInfo();
  return { backend: info.backend, threads: info.threads, vector, ...extra };
}

const CASES: Record<string, (...args: string[]) => Promise<Report>> = {
  /** `--allow-read`: models and tokenizers from a folder; the first load picks the backend. */
  async folder(): Promise<Report> {
    const vector = await encode(QUESTION);
    const first = report(vector);
    // A second model and a second load pick nothing more (the choice is said once).
    (await DPRContextEncoder.fromPretrained(CONTEXT)).dispose();
    // setBackend() by the user: auto again, no node-gpu import, no prompt.
    const auto = await setBackend();
    await setBackend("cpu");
    return { ...first, auto: auto.attempts.map((a) => a.backend), onCpu: await encode(QUESTION) };
  },
  /** `--allow-read --allow-env`: the settings (DPR_BACKEND, DPR_WASM_THREADS, HF_*, DPR_CACHE). */
  async env(): Promise<Report> {
    const first = report(await encode(QUESTION));
    await setBackend("wasm");
    return { ...first, wasmThreads: getBackendInfo().threads };
  },
  /** `--allow-net`: a model and its tokenizer from a URL (the parent serves the fixtures). */
  async url(base: string): Promise<Report> {
    return report(await encode(`${base}/dpr-question_encoder-tiny`));
  },
  /** `--allow-read --allow-net --allow-write`: a hub id, downloaded into a cache folder. */
  async hub(endpoint: string, cacheDir: string): Promise<Report> {
    const options = { endpoint, cacheDir, progress: false };
    return report(await encode("org/dpr-question_encoder-tiny", options));
  },
  /** `--allow-read --allow-ffi`: the blas backend. */
  async blas(): Promise<Report> {
    await setBackend("blas");
    return report(await encode(QUESTION));
  },
  /** `--allow-read --allow-write`: savePretrained, saveSafetensors, a saved index. */
  async write(dir: string): Promise<Report> {
    const vector = await encode(QUESTION);
    const encoder = await DPRQuestionEncoder.fromPretrained(QUESTION);
    await encoder.savePretrained(`${dir}/pretrained`);
    await (await DPRQuestionEncoderTokenizer.fromPretrained(QUESTION)).savePretrained(
      `${dir}/pretrained`,
    );
    await saveSafetensors(encoder, `${dir}/model`);
    encoder.dispose();
    const index = new DenseIndex(vector.length);
    index.add(["q"], [new Float32Array(vector)]);
    await index.save(`${dir}/index`);
    const files = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    return report(vector, { files });
  },
  /** `--allow-read`: wasm on several threads. */
  async threads(count: string): Promise<Report> {
    const options: SetBackendOptions = { threads: Number(count) };
    await setBackend("wasm", options);
    return report(await encode(QUESTION));
  },
};

const [name, ...args] = Deno.args;
let line: string;
try {
  const run = name === undefined ? undefined : CASES[name];
  if (run === undefined) throw new TypeError(`no case named ${JSON.stringify(name)}`);
  line = JSON.stringify({ ok: true, value: await run(...args) });
} catch (error) {
  line = JSON.stringify({
    ok: false,
    error: error instanceof Error ? error.stack ?? error.message : String(error),
  });
}
console.log(line);
