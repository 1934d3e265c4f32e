/**
 * A deterministic stand-in for a DPR encoder: a word-hash tokenizer and a bag-of-embeddings
 * "model" whose output ignores padding. For tests of the pipeline's plumbing only.
 */
import type { DenseEncoder, EncodedInput, PaddedBatch } from "../../../pipeline/dense_encoder.ts";

function hash(word: string): number {
  let h = 2166136261;
  for (const ch of word) h = Math.imul(h ^ ch.codePointAt(0)!, 16777619) >>> 0;
  return h;
}

export class FakeEncoder implements DenseEncoder {
  readonly dim: number;
  readonly padTokenId = 0;
  readonly maxLength: number;
  calls: number[][] = []; // the padded lengths of each batch row, per call

  constructor(dim = 8, maxLength = 24) {
    this.dim = dim;
    this.maxLength = maxLength;
  }

  tokenize(text: string, pair?: string): EncodedInput {
    const words = (s: string) => s.toLowerCase().split(/\W+/).filter((w) => w !== "");
    const a = words(text).map((w) => 200 + (hash(w) % 5000));
    const b = pair === undefined ? [] : words(pair).map((w) => 200 + (hash(w) % 5000));
    const ids = [101, ...a, 102, ...(pair === undefined ? [] : [...b, 102])];
    const types = ids.map((_, i) => (i > a.length + 1 ? 1 : 0));
    return { inputIds: ids.slice(0, this.maxLength), tokenTypeIds: types.slice(0, this.maxLength) };
  }

  embed(batch: PaddedBatch): Promise<Float32Array[]> {
    this.calls.push(batch.inputIds.map((r) => r.length));
    return Promise.resolve(batch.inputIds.map((row, r) => {
      const v = new Float32Array(this.dim);
      row.forEach((id, t) => {
        if (batch.attentionMask[r]![t] === 0) return;
        const type = batch.tokenTypeIds[r]![t]!;
        for (let d = 0; d < this.dim; d++) {
          v[d]! += Math.fround(((hash(`${id}:${d}`) % 2001) / 1000 - 1) * (1 + type));
        }
      });
      return v;
    }));
  }
}

/** `n` generated passages as DPR TSV text. */
export function generatedPassagesTsv(n: number): string {
  const words = ["river", "mountain", "castle", "engine", "violin", "harbor", "comet", "orchard"];
  let out = "id\ttext\ttitle\n";
  for (let i = 0; i < n; i++) {
    const text = Array.from({ length: 3 + (i * 7) % 13 }, (_, j) => words[(i * 3 + j * j) % 8])
      .join(
        " ",
      );
    out += `${i + 1}\t"${text} number ${i}"\tTitle ${i % 17}\n`;
  }
  return out;
}
