/**
 * Conversion benchmark: a BERT-base-size DPR question encoder (random weights, written as
 * `model.safetensors` to a temporary folder, streamed so the setup stays small) converted to tfjs
 * artifacts, in float32 and float16. Each case runs in its own process so its peak RSS
 * (`VmHWM`) is its own. Prints one JSON line per case:
 * `{"bench":"convert", "case", "seconds", "peak_rss_mb", "file_mb", "ratio"}` where ratio is
 * peak RSS over the checkpoint's size (about 1 means one copy of the weights).
 *
 * Run alone: `deno run -A --lock=bench/deno.lock bench/convert_bench.ts`.
 * @module
 */
import { convertCheckpoint } from "../convert/convert.ts";

const HIDDEN = 768;
const LAYERS = 12;
const INTERMEDIATE = 3072;
const VOCAB = 30522;
const MAX_POSITIONS = 512;

/** Names and shapes of a transformers DPRQuestionEncoder with BERT-base sizes. */
function bertBaseShapes(): [string, number[]][] {
  const p = "question_encoder.bert_model.";
  const out: [string, number[]][] = [
    [`${p}embeddings.word_embeddings.weight`, [VOCAB, HIDDEN]],
    [`${p}embeddings.position_embeddings.weight`, [MAX_POSITIONS, HIDDEN]],
    [`${p}embeddings.token_type_embeddings.weight`, [2, HIDDEN]],
    [`${p}embeddings.LayerNorm.weight`, [HIDDEN]],
    [`${p}embeddings.LayerNorm.bias`, [HIDDEN]],
  ];
  for (let i = 0; i < LAYERS; i++) {
    const l = `${p}encoder.layer.${i}.`;
    for (const name of ["query", "key", "value"]) {
      out.push([`${l}attention.self.${name}.weight`, [HIDDEN, HIDDEN]]);
      out.push([`${l}attention.self.${name}.bias`, [HIDDEN]]);
    }
    out.push(
      [`${l}attention.output.dense.weight`, [HIDDEN, HIDDEN]],
      [`${l}attention.output.dense.bias`, [HIDDEN]],
      [`${l}attention.output.LayerNorm.weight`, [HIDDEN]],
      [`${l}attention.output.LayerNorm.bias`, [HIDDEN]],
      [`${l}intermediate.dense.weight`, [INTERMEDIATE, HIDDEN]],
      [`${l}intermediate.dense.bias`, [INTERMEDIATE]],
      [`${l}output.dense.weight`, [HIDDEN, INTERMEDIATE]],
      [`${l}output.dense.bias`, [HIDDEN]],
      [`${l}output.LayerNorm.weight`, [HIDDEN]],
      [`${l}output.LayerNorm.bias`, [HIDDEN]],
    );
  }
  return out;
}

/** Writes the random checkpoint tensor by tensor; returns its size in bytes. */
async function writeRandomCheckpoint(dir: string): Promise<number> {
  const shapes = bertBaseShapes();
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const [name, shape] of shapes) {
    const bytes = shape.reduce((a, b) => a * b, 1) * 4;
    header[name] = { dtype: "F32", shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const prefix = new Uint8Array(8 + headerBytes.length);
  new DataView(prefix.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  prefix.set(headerBytes, 8);
  using file = await Deno.open(`${dir}/model.safetensors`, { write: true, create: true });
  await writeAll(file, prefix);
  let state = 0x9e3779b9;
  const chunk = new Float32Array(1 << 20);
  for (const [, shape] of shapes) {
    let left = shape.reduce((a, b) => a * b, 1);
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      for (let i = 0; i < n; i++) {
        // xorshift32: cheap deterministic noise in [-0.05, 0.05)
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        chunk[i] = ((state >>> 0) / 4294967296 - 0.5) * 0.1;
      }
      await writeAll(file, new Uint8Array(chunk.buffer, 0, n * 4));
      left -= n;
    }
  }
  await Deno.writeTextFile(
    `${dir}/config.json`,
    JSON.stringify({
      architectures: ["DPRQuestionEncoder"],
      model_type: "dpr",
      vocab_size: VOCAB,
      hidden_size: HIDDEN,
      num_hidden_layers: LAYERS,
      num_attention_heads: 12,
      intermediate_size: INTERMEDIATE,
      max_position_embeddings: MAX_POSITIONS,
      type_vocab_size: 2,
      projection_dim: 0,
    }),
  );
  return prefix.length + offset;
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let p = 0;
  while (p < bytes.length) p += await file.write(bytes.subarray(p));
}

/** Peak resident set size of this process in MB (Linux `VmHWM`), or current RSS elsewhere. */
function peakRssMb(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(status);
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux
  }
  return Deno.memoryUsage().rss / 1e6;
}

/** One case, run inside the child process. */
async function runCase(source: string, out: string, quantize: string): Promise<void> {
  const start = performance.now();
  await convertCheckpoint(
    source,
    out,
    quantize === "none" ? {} : {
      quantize: quantize as "float16",
    },
  );
  const seconds = (performance.now() - start) / 1000;
  const fileMb = Deno.statSync(`${source}/model.safetensors`).size / 1e6;
  const peak = peakRssMb();
  console.log(JSON.stringify({
    bench: "convert",
    case: `safetensors->tfjs ${quantize === "none" ? "float32" : quantize}`,
    seconds: Number(seconds.toFixed(3)),
    peak_rss_mb: Number(peak.toFixed(1)),
    file_mb: Number(fileMb.toFixed(1)),
    ratio: Number((peak / fileMb).toFixed(3)),
  }));
}

/**
 * Runs the conversion benchmark and prints one JSON line per case.
 * @returns when every case has run
 */
export async function benchConvert(): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "dpr-convert-bench-" });
  try {
    await Deno.mkdir(`${root}/src`);
    await writeRandomCheckpoint(`${root}/src`);
    for (const quantize of ["none", "float16"]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL(import.meta.url).pathname,
          "--case",
          `${root}/src`,
          `${root}/out-${quantize}`,
          quantize,
        ],
        stdout: "inherit",
        stderr: "inherit",
      });
      const { code } = await child.output();
      if (code !== 0) {
        throw new Error(`convert bench case ${quantize} failed with exit code ${code}`);
      }
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--case") {
    await runCase(Deno.args[1]!, Deno.args[2]!, Deno.args[3]!);
  } else {
    await benchConvert();
  }
}
