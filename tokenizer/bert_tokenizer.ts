/**
 * `BertTokenizer`: the WordPiece tokenizer of BERT with Hugging Face's API in camelCase
 * (`tokenize`, `encode`, `decode`, `convertTokensToIds`, `convertIdsToTokens`), and
 * `BertTokenizerFast`, the same engine that also returns character offsets.
 * @module
 */
import type { FileSource } from "../io/file_source.ts";
import { cleanUpTokenization, joinWordPieces } from "./decoder.ts";
import { BertNormalizer } from "./normalizer.ts";
import { paddedLength, type PaddingOption, paddingStrategy, padRow } from "./padding.ts";
import { BertPipeline, utf16ToCodePointOffsets } from "./pipeline.ts";
import type { BertTokenizerOptions } from "./bert_tokenizer_options.ts";
import { BertPostProcessor } from "./post_processor.ts";
import type { HubOptions } from "../io/hub_source.ts";
import { loadTokenizerFiles } from "./pretrained.ts";
import { saveTokenizerFiles } from "./save_pretrained.ts";
import { type TokenizerTensors, toTensors } from "./tensors.ts";
import { truncationCuts, type TruncationOption, truncationStrategy } from "./truncation.ts";
import { Vocabulary } from "./vocab.ts";
import { WordPiece } from "./wordpiece.ts";

export type { BertTokenizerOptions } from "./bert_tokenizer_options.ts";

/** Options of {@linkcode BertTokenizer.encode}. */
export interface EncodeOptions {
  /** Second sequence (a string, or one per text for a batch). */
  textPair?: string | readonly string[];
  /** Add `[CLS]`/`[SEP]`. Default `true`. */
  addSpecialTokens?: boolean;
  /** `true`/`"longest"`, `"max_length"` or `false` (default). */
  padding?: PaddingOption;
  /**
   * `true`/`"longest_first"`, `"only_first"`, `"only_second"` or `false`. When left out and
   * `maxLength` is given without padding, `"longest_first"` (as Hugging Face).
   */
  truncation?: TruncationOption;
  /** Length to truncate or pad to; defaults to `modelMaxLength` when needed. */
  maxLength?: number;
  /** Round padded lengths up to a multiple of this. */
  padToMultipleOf?: number;
  /** Return `tokenTypeIds` (default: when the model takes them). */
  returnTokenTypeIds?: boolean;
  /** Return `attentionMask` (default `true`). */
  returnAttentionMask?: boolean;
  /** Return `specialTokensMask`. Default `false`. */
  returnSpecialTokensMask?: boolean;
  /** Return `offsetMapping` (Fast tokenizers only). Default `false`. */
  returnOffsetsMapping?: boolean;
  /** Unit of offsets: JS string indices (`"utf16"`, default) or code points (Python). */
  offsetsUnit?: "utf16" | "codepoint";
}

/** Options of {@linkcode BertTokenizer.encode} that ask for tfjs tensors. */
export interface TensorEncodeOptions extends EncodeOptions {
  /** Return int32 tfjs tensors of shape `[batch, length]`. */
  returnTensors: "tf";
}

/** The encoding of one text (or pair). */
export interface Encoding {
  /** Token ids. */
  inputIds: number[];
  /** 0 for the first sequence, 1 for the second. */
  tokenTypeIds?: number[];
  /** 1 for real tokens, 0 for padding. */
  attentionMask?: number[];
  /** 1 for added special tokens and padding. */
  specialTokensMask?: number[];
  /** `[start, end)` of each token in its own text; `[0, 0]` for added tokens. */
  offsetMapping?: [number, number][];
}

/** The encoding of a batch: one row per text. */
export interface BatchEncoding {
  /** Token ids. */
  inputIds: number[][];
  /** 0 for the first sequence, 1 for the second. */
  tokenTypeIds?: number[][];
  /** 1 for real tokens, 0 for padding. */
  attentionMask?: number[][];
  /** 1 for added special tokens and padding. */
  specialTokensMask?: number[][];
  /** `[start, end)` of each token in its own text; `[0, 0]` for added tokens. */
  offsetMapping?: [number, number][][];
}

/** Options of {@linkcode BertTokenizer.decode}. */
export interface DecodeOptions {
  /** Leave out special tokens (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, ...). Default `false`. */
  skipSpecialTokens?: boolean;
  /** Remove spaces before punctuation (default: the tokenizer's setting, `true`). */
  cleanUpTokenizationSpaces?: boolean;
}

/** Options of {@linkcode BertTokenizer.encodeFlat}. */
export interface FlatEncodeOptions {
  /** Second sequence of each row (e.g. passage texts after titles). */
  textPair?: readonly string[];
  /** Truncate to this length (longest first); default `modelMaxLength`. */
  maxLength?: number;
  /** Round the padded length up to a multiple of this. */
  padToMultipleOf?: number;
}

/** A batch encoded into flat row-major arrays, ready for tensors. */
export interface FlatEncoding {
  /** Rows. */
  batchSize: number;
  /** Padded length of every row. */
  sequenceLength: number;
  /** `[batchSize * sequenceLength]` token ids. */
  inputIds: Int32Array;
  /** `[batchSize * sequenceLength]` token types. */
  tokenTypeIds: Int32Array;
  /** `[batchSize * sequenceLength]` 1 for tokens, 0 for padding. */
  attentionMask: Int32Array;
}

interface Row {
  ids: number[];
  typeIds: number[];
  special: number[];
  offsets: number[] | null;
}

/** The special token strings of a tokenizer. */
interface SpecialTokens {
  unk: string;
  sep: string;
  pad: string;
  cls: string;
  mask: string;
  additional: readonly string[];
}

/**
 * BERT's WordPiece tokenizer, matching Hugging Face's `BertTokenizer` output exactly.
 *
 * @example
 * ```ts
 * import { BertTokenizer } from "./bert_tokenizer.ts";
 * const vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world", "!", "##s"];
 * const tokenizer = new BertTokenizer(vocab);
 * tokenizer.tokenize("Hello worlds!"); // ["hello", "world", "##s", "!"]
 * tokenizer.encode("Hello world").inputIds; // [2, 5, 6, 3]
 * ```
 */
export class BertTokenizer {
  /** The vocabulary. */
  readonly vocab: Vocabulary;
  /** Length used when `maxLength` is needed and not given. */
  readonly modelMaxLength: number;
  /** Default of `decode`'s `cleanUpTokenizationSpaces`. */
  readonly cleanUpTokenizationSpaces: boolean;
  /** Whether the input is lower-cased. */
  readonly doLowerCase: boolean;
  /** The unknown token. */
  readonly unkToken: string;
  /** The separator token. */
  readonly sepToken: string;
  /** The padding token. */
  readonly padToken: string;
  /** The classification token. */
  readonly clsToken: string;
  /** The mask token. */
  readonly maskToken: string;
  /** Every special token: unk, sep, pad, cls, mask, then the additional ones. */
  readonly allSpecialTokens: readonly string[];
  /** Ids of {@linkcode allSpecialTokens}. */
  readonly allSpecialIds: readonly number[];
  /** Names of the inputs the model takes (decides which keys `encode` returns by default). */
  readonly modelInputNames: readonly string[] = ["input_ids", "token_type_ids", "attention_mask"];
  /** Whether `returnOffsetsMapping` is available. */
  readonly supportsOffsets: boolean = false;
  readonly #options: Readonly<BertTokenizerOptions>;
  readonly #pipeline: BertPipeline;
  readonly #post: BertPostProcessor;
  readonly #specialIdSet: ReadonlySet<number>;
  readonly #prefix: string;

  /**
   * Builds the tokenizer from a vocabulary.
   * @param vocab the vocabulary: a `Vocabulary`, the tokens in id order, or a `vocab.txt` text
   * @param options normalization, special tokens and limits
   */
  constructor(
    vocab: Vocabulary | readonly string[] | string,
    options: BertTokenizerOptions = {},
  ) {
    const name = new.target.name;
    this.#options = Object.freeze({ ...options });
    this.vocab = vocab instanceof Vocabulary
      ? vocab
      : typeof vocab === "string"
      ? Vocabulary.fromText(vocab)
      : new Vocabulary(vocab);
    const specials: SpecialTokens = {
      unk: options.unkToken ?? "[UNK]",
      sep: options.sepToken ?? "[SEP]",
      pad: options.padToken ?? "[PAD]",
      cls: options.clsToken ?? "[CLS]",
      mask: options.maskToken ?? "[MASK]",
      additional: options.additionalSpecialTokens ?? [],
    };
    this.unkToken = specials.unk;
    this.sepToken = specials.sep;
    this.padToken = specials.pad;
    this.clsToken = specials.cls;
    this.maskToken = specials.mask;
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
      const id = this.vocab.tokenToId.get(token);
      if (id === undefined) {
        throw new RangeError(
          `Cannot build ${name}: special token ${JSON.stringify(token)} is not in the vocabulary`,
        );
      }
      specialIds.set(token, id);
    }
    this.allSpecialTokens = all;
    this.allSpecialIds = all.map((token) => specialIds.get(token)!);
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
      const id = this.vocab.tokenToId.get(token);
      if (id === undefined) {
        throw new RangeError(
          `Cannot build ${name}: added token ${JSON.stringify(token)} is not in the vocabulary`,
        );
      }
      if (!cutIds.has(token)) cutIds.set(token, id);
    }
    this.#specialIdSet = new Set(this.allSpecialIds);
    const modelMaxLength = options.modelMaxLength ?? Number.POSITIVE_INFINITY;
    if (!(modelMaxLength > 0)) {
      throw new RangeError(
        `Cannot build ${name}: modelMaxLength must be positive: received ${modelMaxLength}`,
      );
    }
    this.modelMaxLength = modelMaxLength;
    this.cleanUpTokenizationSpaces = options.cleanUpTokenizationSpaces ?? true;
    this.doLowerCase = options.doLowerCase ?? true;
    this.#prefix = options.continuingSubwordPrefix ?? "##";
    const normalizer = new BertNormalizer({
      lowercase: this.doLowerCase,
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
    const wordPiece = new WordPiece(this.vocab.tokenToId, {
      unkId: specialIds.get(specials.unk)!,
      continuingSubwordPrefix: this.#prefix,
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
        neverSplit.set(word, this.vocab.tokenToId.get(word) ?? specialIds.get(specials.unk)!);
      }
    }
    this.#pipeline = new BertPipeline({
      normalizer,
      wordPiece,
      neverSplit,
      specialTokens: cutIds,
      handleChineseChars: options.tokenizeChineseChars ?? true,
      cacheSize: options.cacheSize,
    });
    this.#post = new BertPostProcessor(
      specialIds.get(specials.cls)!,
      specialIds.get(specials.sep)!,
    );
  }

  /**
   * Loads a tokenizer from a model folder: `vocab.txt` with `tokenizer_config.json` and
   * `special_tokens_map.json`, or a fast `tokenizer.json`.
   * @param source a folder path, an http(s) URL, a hub id or a {@linkcode FileSource}
   * @param options revision, cache folder, hub endpoint and token for URLs and hub ids
   * @returns the tokenizer
   */
  static async fromPretrained(
    source: string | FileSource,
    options: HubOptions = {},
  ): Promise<BertTokenizer> {
    const files = await loadTokenizerFiles(source, false, options);
    return new BertTokenizer(files.vocab, files.options);
  }

  /**
   * Writes `vocab.txt`, `tokenizer_config.json` and `special_tokens_map.json` into `dir`, as
   * transformers' `save_pretrained` writes them: transformers' `from_pretrained` and this class's
   * {@linkcode BertTokenizer.fromPretrained} read them back to the same tokenizer.
   *
   * @example
   * ```ts ignore
   * await tokenizer.savePretrained("out/my-model");
   * ```
   * @param dir the folder (created when missing); each file is written atomically
   * @returns once the files are written
   * @throws {RangeError} before writing anything, for an option these files cannot hold
   */
  async savePretrained(dir: string): Promise<void> {
    await saveTokenizerFiles(dir, {
      className: this.constructor.name,
      vocab: this.vocab,
      options: this.#options,
    });
  }

  /** Number of tokens in the vocabulary. */
  get vocabSize(): number {
    return this.vocab.size;
  }

  /** Id of the padding token. */
  get padTokenId(): number {
    return this.vocab.tokenToId.get(this.padToken)!;
  }

  /** Id of the classification token. */
  get clsTokenId(): number {
    return this.vocab.tokenToId.get(this.clsToken)!;
  }

  /** Id of the separator token. */
  get sepTokenId(): number {
    return this.vocab.tokenToId.get(this.sepToken)!;
  }

  /** Id of the unknown token. */
  get unkTokenId(): number {
    return this.vocab.tokenToId.get(this.unkToken)!;
  }

  /** Id of the mask token. */
  get maskTokenId(): number {
    return this.vocab.tokenToId.get(this.maskToken)!;
  }

  /**
   * How many special tokens `encode` adds: 2 for one sequence, 3 for a pair.
   * @param pair whether two sequences are encoded
   * @returns the count
   */
  numSpecialTokensToAdd(pair = false): number {
    return this.#post.numSpecialTokensToAdd(pair);
  }

  /**
   * Splits text into WordPiece tokens (no special tokens added).
   * @param text the text
   * @returns the token strings
   */
  tokenize(text: string): string[] {
    this.#checkText(text, "tokenize", "text");
    // A word kept whole (never_split) shows as itself even when the vocabulary lacks it.
    const { ids, tokens } = this.#pipeline.encodeTokens(text);
    return ids.map((id, i) => tokens[i] ?? this.vocab.idToToken[id]!);
  }

  /**
   * Maps tokens to ids; unknown tokens get the unknown token's id (as Hugging Face).
   * @param tokens a token or a list
   * @returns the id or the ids
   */
  convertTokensToIds(tokens: string): number;
  /** Maps tokens to ids; unknown tokens get the unknown token's id. */
  convertTokensToIds(tokens: readonly string[]): number[];
  convertTokensToIds(tokens: string | readonly string[]): number | number[] {
    const one = (token: string): number => this.vocab.tokenToId.get(token) ?? this.unkTokenId;
    return typeof tokens === "string" ? one(tokens) : tokens.map(one);
  }

  /**
   * Maps ids to tokens.
   * @param ids an id or a list
   * @param options `skipSpecialTokens` leaves out special tokens
   * @returns the token or the tokens
   * @throws {RangeError} for ids outside the vocabulary
   */
  convertIdsToTokens(id: number, options?: { skipSpecialTokens?: boolean }): string;
  /** Maps ids to tokens (`skipSpecialTokens` leaves special tokens out). */
  convertIdsToTokens(
    ids: ArrayLike<number>,
    options?: { skipSpecialTokens?: boolean },
  ): string[];
  convertIdsToTokens(
    ids: number | ArrayLike<number>,
    options: { skipSpecialTokens?: boolean } = {},
  ): string | string[] {
    if (typeof ids === "number") return this.#token(ids, "convertIdsToTokens");
    ids = idRow(ids, `convertIdsToTokens with ${this.constructor.name}`);
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (options.skipSpecialTokens && this.#specialIdSet.has(id)) continue;
      out.push(this.#token(id, "convertIdsToTokens"));
    }
    return out;
  }

  #token(id: number, method: string): string {
    const token = Number.isInteger(id) ? this.vocab.idToToken[id] : undefined;
    if (token === undefined) {
      throw new RangeError(
        `Cannot ${method} with ${this.constructor.name}: token ids must be integers in ` +
          `[0, ${this.vocab.size}): received ${id}`,
      );
    }
    return token;
  }

  /**
   * Turns ids back into text: WordPieces joined, `##` glued, spaces before punctuation removed.
   * @param ids token ids (a list, a typed array, or a tfjs tensor's `dataSync()`)
   * @param options `skipSpecialTokens`, `cleanUpTokenizationSpaces`
   * @returns the text
   * @throws {RangeError} for ids outside the vocabulary
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    const tokens = this.convertIdsToTokens(ids, { skipSpecialTokens: options.skipSpecialTokens });
    const text = joinWordPieces(tokens, this.#prefix);
    const clean = options.cleanUpTokenizationSpaces ?? this.cleanUpTokenizationSpaces;
    return clean ? cleanUpTokenization(text) : text;
  }

  /**
   * Decodes each row of a batch.
   * @param rows token id rows
   * @param options as for {@linkcode decode}
   * @returns one text per row
   */
  batchDecode(rows: readonly ArrayLike<number>[], options: DecodeOptions = {}): string[] {
    const tensor = rows as unknown as { rank?: unknown; arraySync?: unknown };
    if (typeof tensor.arraySync === "function" && tensor.rank === 2) {
      rows = (tensor.arraySync as () => number[][])();
    }
    if (!Array.isArray(rows)) {
      throw new TypeError(
        `Cannot batchDecode with ${this.constructor.name}: rows must be a list of id rows or a ` +
          `rank-2 tensor`,
      );
    }
    return rows.map((row) => this.decode(row, options));
  }

  /**
   * Encodes a text (or a pair) into model inputs, with Hugging Face's truncation and padding.
   * @param text a text, or a list of texts for a batch
   * @param options pair, special tokens, truncation, padding, returned keys
   * @returns `inputIds` and the other asked-for keys (`number[]` per key for one text,
   *   `number[][]` for a batch, tfjs tensors with `returnTensors: "tf"`)
   */
  encode(text: string, options?: EncodeOptions): Encoding;
  /** Encodes a batch of texts (or pairs): one row per text. */
  encode(text: readonly string[], options?: EncodeOptions): BatchEncoding;
  /** Encodes into int32 tfjs tensors of shape `[batch, length]`. */
  encode(text: string | readonly string[], options: TensorEncodeOptions): TokenizerTensors;
  encode(
    text: string | readonly string[],
    options: EncodeOptions | TensorEncodeOptions = {},
  ): Encoding | BatchEncoding | TokenizerTensors {
    const batched = Array.isArray(text);
    const texts: readonly string[] = batched ? text as readonly string[] : [text as string];
    texts.forEach((item, i) => this.#checkText(item, "encode", batched ? `text[${i}]` : "text"));
    let pairs: readonly string[] | null = null;
    if (options.textPair !== undefined) {
      if (batched !== Array.isArray(options.textPair)) {
        throw new TypeError(
          `Cannot encode with ${this.constructor.name}: textPair must be ${
            batched ? "a list (text is a batch)" : "a string (text is a string)"
          }`,
        );
      }
      pairs = batched ? options.textPair as readonly string[] : [options.textPair as string];
      if (pairs.length !== texts.length) {
        throw new RangeError(
          `Cannot encode with ${this.constructor.name}: text and textPair must have the same ` +
            `length: received ${texts.length} and ${pairs.length}`,
        );
      }
      pairs.forEach((item, i) => this.#checkText(item, "encode", `textPair[${i}]`));
    }
    const offsets = options.returnOffsetsMapping ?? false;
    if (offsets && !this.supportsOffsets) {
      throw new TypeError(
        `Cannot encode with ${this.constructor.name}: returnOffsetsMapping needs a Fast ` +
          `tokenizer (e.g. BertTokenizerFast)`,
      );
    }
    const rows = texts.map((item, i) => {
      const a = this.#pipeline.encode(item, offsets);
      const pairText = pairs === null ? null : pairs[i]!;
      const b = pairText === null ? null : this.#pipeline.encode(pairText, offsets);
      if (offsets && options.offsetsUnit === "codepoint") {
        a.offsets = utf16ToCodePointOffsets(item, a.offsets!);
        if (b !== null) b.offsets = utf16ToCodePointOffsets(pairText!, b.offsets!);
      }
      return { a, b };
    });
    return this.prepareRows(rows, options, batched);
  }

  /**
   * Truncates, adds special tokens and pads already tokenized rows (used by `encode` and by
   * subclasses).
   * @param rows each row's first and optional second sequence
   * @param options the encode options
   * @param batched whether to return rows (else the first row alone)
   * @returns the encoding
   */
  protected prepareRows(
    rows: readonly {
      a: { ids: number[]; offsets: number[] | null };
      b: { ids: number[]; offsets: number[] | null } | null;
    }[],
    options: EncodeOptions | TensorEncodeOptions,
    batched: boolean,
  ): Encoding | BatchEncoding | TokenizerTensors {
    const name = this.constructor.name;
    const addSpecial = options.addSpecialTokens ?? true;
    const pad = paddingStrategy(options.padding ?? false);
    let truncation = options.truncation === undefined
      ? (options.maxLength !== undefined && pad === "do_not_pad"
        ? "longest_first"
        : "do_not_truncate")
      : truncationStrategy(options.truncation);
    let maxLength = options.maxLength;
    let padding = pad;
    if (maxLength !== undefined && (!Number.isInteger(maxLength) || maxLength < 0)) {
      throw new RangeError(
        `Cannot encode with ${name}: maxLength must be a non-negative integer: received ${maxLength}`,
      );
    }
    const multiple = options.padToMultipleOf;
    if (multiple !== undefined && (!Number.isInteger(multiple) || multiple <= 0)) {
      throw new RangeError(
        `Cannot encode with ${name}: padToMultipleOf must be a positive integer: received ${multiple}`,
      );
    }
    if (maxLength === undefined) {
      const limit = Number.isFinite(this.modelMaxLength) ? this.modelMaxLength : undefined;
      if (padding === "max_length") {
        if (limit === undefined) padding = "do_not_pad";
        else maxLength = limit;
      }
      if (truncation !== "do_not_truncate") {
        if (limit === undefined) truncation = "do_not_truncate";
        else maxLength = limit;
      }
    }
    if (
      truncation !== "do_not_truncate" && padding !== "do_not_pad" && multiple !== undefined &&
      maxLength !== undefined && maxLength % multiple !== 0
    ) {
      throw new RangeError(
        `Cannot encode with ${name}: truncation and padding are both on, so maxLength ` +
          `(${maxLength}) must be a multiple of padToMultipleOf (${multiple})`,
      );
    }
    const returnTypes = options.returnTokenTypeIds ??
      this.modelInputNames.includes("token_type_ids");
    if (options.returnTokenTypeIds === true && !addSpecial) {
      throw new TypeError(
        `Cannot encode with ${name}: returnTokenTypeIds needs addSpecialTokens (token types ` +
          `are undefined without them)`,
      );
    }
    const returnMask = options.returnAttentionMask ??
      this.modelInputNames.includes("attention_mask");
    const returnSpecial = options.returnSpecialTokensMask ?? false;
    const returnOffsets = options.returnOffsetsMapping ?? false;

    const prepared: Row[] = rows.map(({ a, b }) => {
      const pair = b !== null;
      const special = addSpecial ? this.#post.numSpecialTokensToAdd(pair) : 0;
      if (truncation !== "do_not_truncate" && maxLength !== undefined && maxLength < special) {
        throw new RangeError(
          `Cannot encode with ${name}: maxLength must leave room for the ${special} special ` +
            `tokens of ${pair ? "a pair" : "one sequence"}: received ${maxLength}`,
        );
      }
      let aIds = a.ids;
      let bIds = b?.ids ?? null;
      let aOff = a.offsets;
      let bOff = b?.offsets ?? null;
      const total = aIds.length + (bIds?.length ?? 0) + special;
      if (truncation !== "do_not_truncate" && maxLength && total > maxLength) {
        const [cutA, cutB] = truncationCuts(
          aIds.length,
          bIds === null ? null : bIds.length,
          total - maxLength,
          truncation,
        );
        if (cutA > 0) {
          aIds = aIds.slice(0, Math.max(0, aIds.length - cutA));
          aOff = aOff?.slice(0, aIds.length * 2) ?? null;
        }
        if (cutB > 0 && bIds !== null) {
          bIds = bIds.slice(0, Math.max(0, bIds.length - cutB));
          bOff = bOff?.slice(0, bIds.length * 2) ?? null;
        }
      }
      const bLength = bIds === null ? null : bIds.length;
      let offsets: number[] | null = null;
      if (returnOffsets) {
        offsets = addSpecial ? [0, 0, ...aOff!, 0, 0] : [...aOff!];
        if (bOff !== null) {
          offsets.push(...bOff);
          if (addSpecial) offsets.push(0, 0);
        }
      }
      if (addSpecial) {
        return {
          ids: this.#post.buildInputs(aIds, bIds),
          typeIds: this.#post.tokenTypeIds(aIds.length, bLength),
          special: this.#post.specialTokensMask(aIds.length, bLength),
          offsets,
        };
      }
      const ids = bIds === null ? aIds.slice() : [...aIds, ...bIds];
      return {
        ids,
        typeIds: new Array<number>(ids.length).fill(0),
        special: new Array<number>(ids.length).fill(0),
        offsets,
      };
    });

    const target = paddedLength(
      prepared.map((row) => row.ids.length),
      padding,
      maxLength,
      multiple,
    );
    const inputIds: number[][] = [];
    const tokenTypeIds: number[][] = [];
    const attentionMask: number[][] = [];
    const specialTokensMask: number[][] = [];
    const offsetMapping: [number, number][][] = [];
    for (const row of prepared) {
      const length = row.ids.length;
      const width = target === null ? length : Math.max(target, length);
      inputIds.push(padRow(row.ids, width, this.padTokenId));
      tokenTypeIds.push(padRow(row.typeIds, width, 0));
      const mask = new Array<number>(width).fill(0);
      mask.fill(1, 0, length);
      attentionMask.push(mask);
      specialTokensMask.push(padRow(row.special, width, 1));
      if (row.offsets !== null) {
        const pairs: [number, number][] = [];
        for (let k = 0; k < row.offsets.length; k += 2) {
          pairs.push([row.offsets[k]!, row.offsets[k + 1]!]);
        }
        offsetMapping.push(padRow(pairs, width, [0, 0]));
      }
    }
    const result: BatchEncoding = { inputIds };
    if (returnTypes) result.tokenTypeIds = tokenTypeIds;
    if (returnMask) result.attentionMask = attentionMask;
    if (returnSpecial) result.specialTokensMask = specialTokensMask;
    if (returnOffsets) result.offsetMapping = offsetMapping;
    if ("returnTensors" in options && options.returnTensors !== undefined) {
      if (options.returnTensors !== "tf") {
        throw new TypeError(
          `Cannot encode with ${name}: returnTensors must be "tf": received ${
            JSON.stringify(options.returnTensors)
          }`,
        );
      }
      return toTensors(result, name);
    }
    if (batched) return result;
    const single: Encoding = { inputIds: inputIds[0]! };
    if (returnTypes) single.tokenTypeIds = tokenTypeIds[0]!;
    if (returnMask) single.attentionMask = attentionMask[0]!;
    if (returnSpecial) single.specialTokensMask = specialTokensMask[0]!;
    if (returnOffsets) single.offsetMapping = offsetMapping[0]!;
    return single;
  }

  /**
   * The fast path for many texts (e.g. passages as `titles` with `textPair: texts`): encodes,
   * truncates longest-first to `maxLength`, pads to the longest row, and returns flat int32
   * arrays. Same ids as `encode(texts, { textPair, truncation: true, padding: true, maxLength })`.
   * @param texts the first sequences
   * @param options second sequences, `maxLength`, `padToMultipleOf`
   * @returns flat row-major arrays
   */
  encodeFlat(texts: readonly string[], options: FlatEncodeOptions = {}): FlatEncoding {
    const encoded = this.encode(texts, {
      textPair: options.textPair,
      truncation: true,
      padding: true,
      maxLength: options.maxLength,
      padToMultipleOf: options.padToMultipleOf,
      returnTokenTypeIds: true,
      returnAttentionMask: true,
    });
    const batchSize = encoded.inputIds.length;
    const sequenceLength = batchSize === 0 ? 0 : encoded.inputIds[0]!.length;
    const inputIds = new Int32Array(batchSize * sequenceLength);
    const tokenTypeIds = new Int32Array(batchSize * sequenceLength);
    const attentionMask = new Int32Array(batchSize * sequenceLength);
    for (let r = 0; r < batchSize; r++) {
      inputIds.set(encoded.inputIds[r]!, r * sequenceLength);
      tokenTypeIds.set(encoded.tokenTypeIds![r]!, r * sequenceLength);
      attentionMask.set(encoded.attentionMask![r]!, r * sequenceLength);
    }
    return { batchSize, sequenceLength, inputIds, tokenTypeIds, attentionMask };
  }

  /**
   * Encodes one text to ids without special tokens, truncation or padding (with UTF-16
   * offsets when asked for). The building block of the other methods.
   * @param text the text
   * @param withOffsets whether to return offsets
   * @returns ids and flat `[start, end)` offsets (or `null`)
   */
  encodeText(text: string, withOffsets = false): { ids: number[]; offsets: number[] | null } {
    this.#checkText(text, "encodeText", "text");
    return this.#pipeline.encode(text, withOffsets);
  }

  #checkText(text: unknown, method: string, what: string): void {
    if (typeof text !== "string") {
      throw new TypeError(
        `Cannot ${method} with ${this.constructor.name}: ${what} must be a string: received ${
          text === null ? "null" : typeof text
        }`,
      );
    }
  }
}

/**
 * The ids of one row: an array-like of numbers, or a rank-1 tfjs tensor (read synchronously).
 * Anything else (a tensor of another rank, an object without a length) is a TypeError rather
 * than an empty row.
 */
function idRow(ids: unknown, where: string): ArrayLike<number> {
  const tensor = ids as { rank?: unknown; dataSync?: unknown; shape?: unknown };
  if (ids !== null && typeof ids === "object" && typeof tensor.dataSync === "function") {
    if (tensor.rank !== 1) {
      throw new TypeError(
        `Cannot ${where}: a tensor of ids must have rank 1: received shape ${
          JSON.stringify(tensor.shape)
        }`,
      );
    }
    return (tensor.dataSync as () => ArrayLike<number>)();
  }
  if (
    ids === null || typeof ids !== "object" ||
    typeof (ids as { length?: unknown }).length !== "number"
  ) {
    throw new TypeError(
      `Cannot ${where}: ids must be an array of token ids: received ${
        ids === null ? "null" : typeof ids
      }`,
    );
  }
  return ids as ArrayLike<number>;
}

/**
 * The options a Fast class hands its Python-style base, as in Rust: `nfc` defaults to `false`
 * and `neverSplit` is ignored (see {@linkcode BertTokenizerOptions}).
 * @param options the options given to the Fast class
 * @returns the options for the base constructor
 */
export function fastTokenizerOptions(options: BertTokenizerOptions): BertTokenizerOptions {
  return { nfc: false, ...options, neverSplit: undefined };
}

/**
 * {@linkcode BertTokenizer} that also returns character offsets (`returnOffsetsMapping`), like
 * Hugging Face's Rust-backed `BertTokenizerFast`.
 */
export class BertTokenizerFast extends BertTokenizer {
  /** Offsets are available. */
  override readonly supportsOffsets: boolean = true;

  /**
   * Builds the tokenizer from a vocabulary.
   * @param vocab the vocabulary: a `Vocabulary`, the tokens in id order, or a `vocab.txt` text
   * @param options normalization, special tokens and limits (`nfc` defaults to `false`)
   */
  constructor(vocab: Vocabulary | readonly string[] | string, options: BertTokenizerOptions = {}) {
    super(vocab, fastTokenizerOptions(options));
  }

  /**
   * Loads a tokenizer from a model folder (`tokenizer.json`, or `vocab.txt` with the configs).
   * @param source a folder path, an http(s) URL, a hub id or a {@linkcode FileSource}
   * @param options revision, cache folder, hub endpoint and token for URLs and hub ids
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
    options: HubOptions = {},
  ): Promise<BertTokenizerFast> {
    const files = await loadTokenizerFiles(source, true, options);
    return new BertTokenizerFast(files.vocab, files.options);
  }
}
