/**
 * The stages of a BERT tokenizer built from its vocabulary and options: the special tokens and
 * their ids, the normalizer, the WordPiece model and the pipeline that runs them, and the
 * post-processor. Every option is checked here, with an error naming the class and the value.
 * @module
 */
import type { BertTokenizerOptions } from "./bert_tokenizer_options.ts";
import { BertNormalizer } from "./normalizer.ts";
import { BertPipeline } from "./pipeline.ts";
import { BertPostProcessor } from "./post_processor.ts";
import type { Vocabulary } from "./vocab.ts";
import { WordPiece } from "./wordpiece.ts";

/** The special token strings of a tokenizer. */
export interface SpecialTokens {
  /** Unknown token. */
  unk: string;
  /** Separator token. */
  sep: string;
  /** Padding token. */
  pad: string;
  /** Classification token. */
  cls: string;
  /** Mask token. */
  mask: string;
  /** More special tokens. */
  additional: readonly string[];
}

/** What {@link buildBertStages} builds. */
export interface BertStages {
  /** The special token strings. */
  specials: SpecialTokens;
  /** Every special token: unk, sep, pad, cls, mask, then the additional ones. */
  allSpecialTokens: readonly string[];
  /** Their ids. */
  allSpecialIds: readonly number[];
  /** Length used when `maxLength` is needed and not given. */
  modelMaxLength: number;
  /** Whether the input is lower-cased. */
  doLowerCase: boolean;
  /** Prefix of WordPiece continuations. */
  continuingSubwordPrefix: string;
  /** Normalizer, pre-tokenizer and WordPiece, run together. */
  pipeline: BertPipeline;
  /** Adds `[CLS]` / `[SEP]`. */
  post: BertPostProcessor;
}

/**
 * Builds and checks the stages of a BERT tokenizer.
 * @param vocab the vocabulary
 * @param options the tokenizer's options
 * @param name the class being built, for errors
 * @returns the stages
 * @throws TypeError / RangeError naming the class and the bad option
 */
export function buildBertStages(
  vocab: Vocabulary,
  options: BertTokenizerOptions,
  name: string,
): BertStages {
  const specials: SpecialTokens = {
    unk: options.unkToken ?? "[UNK]",
    sep: options.sepToken ?? "[SEP]",
    pad: options.padToken ?? "[PAD]",
    cls: options.clsToken ?? "[CLS]",
    mask: options.maskToken ?? "[MASK]",
    additional: options.additionalSpecialTokens ?? [],
  };
  const all = [specials.unk, specials.sep, specials.pad, specials.cls, specials.mask];
  for (const token of specials.additional) if (!all.includes(token)) all.push(token);
  const specialIds = new Map<string, number>();
  for (const token of all) {
    if (typeof token !== "string" || token.length === 0) {
      throw new TypeError(
        `Cannot build ${name}: special tokens must be non-empty strings: received ${
          JSON.stringify(token)
        }`,
      );
    }
    const id = vocab.tokenToId.get(token);
    if (id === undefined) {
      throw new RangeError(
        `Cannot build ${name}: special token ${JSON.stringify(token)} is not in the vocabulary`,
      );
    }
    specialIds.set(token, id);
  }
  const allSpecialIds = all.map((token) => specialIds.get(token)!);
  // Added tokens are cut out of the text like special tokens (the pipeline's map) but are not
  // special.
  const cutIds = new Map(specialIds);
  for (const token of options.addedTokens ?? []) {
    if (typeof token !== "string" || token.length === 0) {
      throw new TypeError(
        `Cannot build ${name}: addedTokens must be non-empty strings: received ${
          JSON.stringify(token)
        }`,
      );
    }
    const id = vocab.tokenToId.get(token);
    if (id === undefined) {
      throw new RangeError(
        `Cannot build ${name}: added token ${JSON.stringify(token)} is not in the vocabulary`,
      );
    }
    if (!cutIds.has(token)) cutIds.set(token, id);
  }
  const modelMaxLength = options.modelMaxLength ?? Number.POSITIVE_INFINITY;
  if (!(modelMaxLength > 0)) {
    throw new RangeError(
      `Cannot build ${name}: modelMaxLength must be positive: received ${modelMaxLength}`,
    );
  }
  const doLowerCase = options.doLowerCase ?? true;
  const continuingSubwordPrefix = options.continuingSubwordPrefix ?? "##";
  const normalizer = new BertNormalizer({
    lowercase: doLowerCase,
    stripAccents: options.stripAccents ?? null,
    nfc: options.nfc ?? true,
  });
  const maxChars = options.maxInputCharsPerWord ?? 100;
  if (typeof maxChars !== "number" || !(Number.isInteger(maxChars) && maxChars >= 1)) {
    throw new RangeError(
      `Cannot build ${name}: maxInputCharsPerWord must be a positive integer: received ${
        String(maxChars)
      }`,
    );
  }
  const wordPiece = new WordPiece(vocab.tokenToId, {
    unkId: specialIds.get(specials.unk)!,
    continuingSubwordPrefix,
    maxInputCharsPerWord: maxChars,
  });
  const neverSplit = new Map<string, number>();
  if (options.neverSplit !== undefined && options.neverSplit !== null) {
    if (!Array.isArray(options.neverSplit)) {
      throw new TypeError(
        `Cannot build ${name}: neverSplit must be an array of strings: received ${typeof options
          .neverSplit}`,
      );
    }
    for (const word of options.neverSplit as unknown[]) {
      if (typeof word !== "string") {
        throw new TypeError(
          `Cannot build ${name}: neverSplit must hold strings: received ${JSON.stringify(word)}`,
        );
      }
      if (word.length === 0) continue;
      neverSplit.set(word, vocab.tokenToId.get(word) ?? specialIds.get(specials.unk)!);
    }
  }
  const pipeline = new BertPipeline({
    normalizer,
    wordPiece,
    neverSplit,
    specialTokens: cutIds,
    handleChineseChars: options.tokenizeChineseChars ?? true,
    cacheSize: options.cacheSize,
  });
  const post = new BertPostProcessor(
    specialIds.get(specials.cls)!,
    specialIds.get(specials.sep)!,
  );
  return {
    specials,
    allSpecialTokens: all,
    allSpecialIds,
    modelMaxLength,
    doLowerCase,
    continuingSubwordPrefix,
    pipeline,
    post,
  };
}
