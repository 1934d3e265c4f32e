/**
 * `BertTokenizer`: the WordPiece tokenizer of BERT with Hugging Face's API in camelCase
 * (`tokenize`, `encode`, `decode`, `convertTokensToIds`, `convertIdsToTokens`), and
 * `BertTokenizerFast`, the same engine that also returns character offsets.
 * @module
 */
import type { FileSource } from "../io/file_source.ts";
import { buildBertStages } from "./bert_stages.ts";
import { cleanUpTokenization, joinWordPieces } from "./decoder.ts";
import { encodeRows, type TokenizedRow } from "./encode_rows.ts";
import type {
  BatchEncoding,
  DecodeOptions,
  EncodeOptions,
  Encoding,
  FlatEncodeOptions,
  FlatEncoding,
  TensorEncodeOptions,
} from "./encoding.ts";
import { type BertPipeline, utf16ToCodePointOffsets } from "./pipeline.ts";
import type { BertTokenizerOptions } from "./bert_tokenizer_options.ts";
import type { BertPostProcessor } from "./post_processor.ts";
import type { HubOptions } from "../io/hub_source.ts";
import { loadTokenizerFiles } from "./pretrained.ts";
import { saveTokenizerFiles } from "./save_pretrained.ts";
import type { TokenizerTensors } from "./tensors.ts";
import { Vocabulary } from "./vocab.ts";

export type { BertTokenizerOptions } from "./bert_tokenizer_options.ts";
export type {
  BatchEncoding,
  DecodeOptions,
  EncodeOptions,
  Encoding,
  FlatEncodeOptions,
  FlatEncoding,
  TensorEncodeOptions,
} from "./encoding.ts";

/**
 * BERT's WordPiece tokenizer, matching Hugging Face's `BertTokenizer` output exactly.
 *
 * @example
 * ```ts
 * import { BertTokenizer } from "@dpr/dpr/tokenizer";
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
    const stages = buildBertStages(this.vocab, options, name);
    this.unkToken = stages.specials.unk;
    this.sepToken = stages.specials.sep;
    this.padToken = stages.specials.pad;
    this.clsToken = stages.specials.cls;
    this.maskToken = stages.specials.mask;
    this.allSpecialTokens = stages.allSpecialTokens;
    this.allSpecialIds = stages.allSpecialIds;
    this.#specialIdSet = new Set(this.allSpecialIds);
    this.modelMaxLength = stages.modelMaxLength;
    this.cleanUpTokenizationSpaces = options.cleanUpTokenizationSpaces ?? true;
    this.doLowerCase = stages.doLowerCase;
    this.#prefix = stages.continuingSubwordPrefix;
    this.#pipeline = stages.pipeline;
    this.#post = stages.post;
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
   * subclasses); see {@linkcode encodeRows}.
   * @param rows each row's first and optional second sequence
   * @param options the encode options
   * @param batched whether to return rows (else the first row alone)
   * @returns the encoding
   */
  protected prepareRows(
    rows: readonly TokenizedRow[],
    options: EncodeOptions | TensorEncodeOptions,
    batched: boolean,
  ): Encoding | BatchEncoding | TokenizerTensors {
    return encodeRows(rows, options, batched, {
      name: this.constructor.name,
      post: this.#post,
      padTokenId: this.padTokenId,
      modelMaxLength: this.modelMaxLength,
      modelInputNames: this.modelInputNames,
    });
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
