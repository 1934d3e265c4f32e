/**
 * Tokenizer throughput: this package's pure-TypeScript BERT tokenizer against Hugging Face's
 * Rust `tokenizers` (npm binding), single-threaded, on a generated corpus of a few MB.
 *
 * Run alone: `deno run -A --lock=bench/deno.lock bench/tokenizer_bench.ts` (reads the fixture vocabulary; `-A` because
 * the Rust binding is a Node-API addon). Prints one JSON line per measurement.
 * @module
 */
import { DPRQuestionEncoderTokenizerFast } from "../tokenizer/mod.ts";

const FIXTURES = new URL("../tests/fixtures/", import.meta.url);
const RUST_PACKAGE = "tokenizers@0.23.2";

/** A small deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ACCENTS: Record<string, string> = { a: "á", e: "é", i: "ï", o: "ö", u: "ü", c: "ç", n: "ñ" };
const PUNCT = [",", ",", ".", ".", ";", ":", "?", "!", "'s", " -", " (", ")", '"', "%"];
const GREEK = ["λόγος", "Αθήνα", "φιλοσοφία", "ΣΟΦΙΑ"];
const CYRILLIC = ["Москва", "книга", "история"];

/**
 * Generates `targetBytes` (about) of text as paragraphs, from the vocabulary's whole words plus
 * compounds, capitals, accents, numbers, punctuation, CJK, Greek and Cyrillic, with a fixed seed.
 * @param vocab the vocabulary lines
 * @param targetBytes approximate corpus size in UTF-8 bytes
 * @returns the paragraphs
 */
export function generateCorpus(vocab: readonly string[], targetBytes: number): string[] {
  const words = vocab.filter((token) => /^[a-z]{2,}$/.test(token));
  const next = random(20240611);
  const pick = (): string => words[Math.floor(words.length * next() ** 2.5)]!;
  const paragraphs: string[] = [];
  let bytes = 0;
  const encoder = new TextEncoder();
  while (bytes < targetBytes) {
    const parts: string[] = [];
    const count = 40 + Math.floor(next() * 120);
    let sentenceStart = true;
    for (let i = 0; i < count; i++) {
      const r = next();
      let word: string;
      if (r < 0.03) word = String(Math.floor(next() * 100000) / (next() < 0.3 ? 100 : 1));
      else if (r < 0.05) word = pick() + pick();
      else if (r < 0.06) {
        word = Array.from(
          { length: 2 + Math.floor(next() * 4) },
          () => String.fromCodePoint(0x4e00 + Math.floor(next() * 0x1000)),
        ).join("");
      } else if (r < 0.065) word = GREEK[Math.floor(next() * GREEK.length)]!;
      else if (r < 0.07) word = CYRILLIC[Math.floor(next() * CYRILLIC.length)]!;
      else word = pick();
      if (next() < 0.04) {
        word = word.replace(/[aeiocun]/, (ch) => ACCENTS[ch] ?? ch);
      }
      if (sentenceStart || next() < 0.08) word = word[0]!.toUpperCase() + word.slice(1);
      sentenceStart = false;
      if (next() < 0.12) {
        const p = PUNCT[Math.floor(next() * PUNCT.length)]!;
        word += p;
        sentenceStart = p === "." || p === "?" || p === "!";
      }
      parts.push(word);
    }
    const paragraph = parts.join(" ") + ".";
    paragraphs.push(paragraph);
    bytes += encoder.encode(paragraph).length + 1;
  }
  return paragraphs;
}

interface RustEncoding {
  getIds(): number[];
}
interface RustTokenizer {
  encodeBatch(inputs: string[], options?: { addSpecialTokens?: boolean }): Promise<RustEncoding[]>;
}

async function loadRust(json: string): Promise<RustTokenizer | string> {
  try {
    // Serial encodeBatch in the Rust library (no rayon thread pool).
    Deno.env.set("TOKENIZERS_PARALLELISM", "false");
    Deno.env.set("RAYON_NUM_THREADS", "1");
    const module = await import("npm:tokenizers@0.23.2");
    return module.Tokenizer.fromString(json) as unknown as RustTokenizer;
  } catch (error) {
    return `cannot load npm:${RUST_PACKAGE} in this runtime: ${(error as Error).message}`;
  }
}

function line(fields: Record<string, unknown>): void {
  console.log(JSON.stringify({ bench: "tokenizer", ...fields }));
}

interface Measurement {
  /** What is measured. */
  name: string;
  /** Encodes the whole corpus once; returns the ids of each text. */
  run(): Promise<number[][]>;
  best: number;
  ids: number[][];
}

/** Runs the benchmark and prints one JSON line per measurement. */
export async function benchTokenizer(): Promise<void> {
  const vocabText = await Deno.readTextFile(new URL("tokenizer/vocab.txt", FIXTURES));
  const vocab = vocabText.split("\n").slice(0, -1);
  const corpus = generateCorpus(vocab, 4 * 1024 * 1024);
  const corpusBytes = corpus.reduce((sum, p) => sum + new TextEncoder().encode(p).length, 0);
  const common = { corpus_bytes: corpusBytes, texts: corpus.length, threads: 1 };

  // Cold: a fresh tokenizer each run (empty word cache). Warm: one tokenizer for all runs.
  const shared = new DPRQuestionEncoderTokenizerFast(vocab);
  const ours = (offsets: boolean, warm: boolean) => (): Promise<number[][]> => {
    const tokenizer = warm ? shared : new DPRQuestionEncoderTokenizerFast(vocab);
    return Promise.resolve(
      corpus.map((text) => tokenizer.encode(text, { returnOffsetsMapping: offsets }).inputIds),
    );
  };
  const measurements: Measurement[] = [
    { name: "ids, cold word cache", run: ours(false, false), best: Infinity, ids: [] },
    { name: "ids+offsets, cold word cache", run: ours(true, false), best: Infinity, ids: [] },
    { name: "ids, warm word cache", run: ours(false, true), best: Infinity, ids: [] },
  ];

  const golden = JSON.parse(
    await Deno.readTextFile(new URL("golden/tokenizer_fast.json", FIXTURES)),
  );
  const json = golden.tokenizer_json;
  json.model.vocab = Object.fromEntries(vocab.map((token, id) => [token, id]));
  const rust = await loadRust(JSON.stringify(json));
  let rustMeasurement: Measurement | null = null;
  if (typeof rust === "string") {
    line({ impl: `npm:${RUST_PACKAGE}`, skipped: rust, ...common });
  } else {
    rustMeasurement = {
      name: "Rust, encodeBatch of 512 texts, TOKENIZERS_PARALLELISM=false",
      run: async () => {
        const out: number[][] = [];
        for (let i = 0; i < corpus.length; i += 512) {
          const batch = await rust.encodeBatch(corpus.slice(i, i + 512));
          for (const encoding of batch) out.push(encoding.getIds());
        }
        return out;
      },
      best: Infinity,
      ids: [],
    };
    measurements.push(rustMeasurement);
  }
  // Interleaved rounds, best of three: the machine's load drifts, so compare like with like.
  for (let round = 0; round < 3; round++) {
    for (const m of measurements) {
      const t0 = performance.now();
      m.ids = await m.run();
      m.best = Math.min(m.best, (performance.now() - t0) / 1000);
    }
  }
  const tokens = measurements[0]!.ids.reduce((sum, row) => sum + row.length, 0);
  const rustRate = rustMeasurement === null ? null : tokens / rustMeasurement.best;
  if (rustMeasurement !== null) {
    const reference = measurements[0]!.ids;
    const mismatches = rustMeasurement.ids.filter((row, i) =>
      row.length !== reference[i]!.length || row.some((id, k) =>
        id !== reference[i]![k]
      )
    ).length;
    line({
      impl: `npm:${RUST_PACKAGE}`,
      mode: rustMeasurement.name,
      tokens,
      seconds: round(rustMeasurement.best),
      tokens_per_s: Math.round(rustRate!),
      texts_differing_from_ours: mismatches,
      ...common,
    });
  }
  for (const m of measurements) {
    if (m === rustMeasurement) continue;
    const rate = tokens / m.best;
    line({
      impl: "dpr-ts",
      mode: m.name,
      tokens,
      seconds: round(m.best),
      tokens_per_s: Math.round(rate),
      rust_tokens_per_s: rustRate === null ? null : Math.round(rustRate),
      ratio: rustRate === null ? null : round(rate / rustRate),
      ...common,
    });
  }
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

if (import.meta.main) await benchTokenizer();
