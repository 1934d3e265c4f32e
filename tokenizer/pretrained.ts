/**
 * Reads a tokenizer's files from a model folder: `vocab.txt` with `tokenizer_config.json` and
 * `special_tokens_map.json` (what `save_pretrained` writes for the Python tokenizer), or a fast
 * `tokenizer.json`.
 * @module
 */
import { type FileSource, readJson } from "../io/file_source.ts";
import type { HubOptions } from "../io/hub_source.ts";
import { resolveSource } from "../io/resolve_source.ts";
import type { BertTokenizerOptions } from "./bert_tokenizer_options.ts";
import { Vocabulary } from "./vocab.ts";

/** What a model folder says about its tokenizer. */
export interface TokenizerFiles {
  /** The vocabulary. */
  vocab: Vocabulary;
  /** Constructor options. */
  options: BertTokenizerOptions;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A special token in a config: a string or an `AddedToken` object with `content`. */
function tokenString(value: unknown, where: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === "string") return value;
  if (isObject(value) && typeof value.content === "string") return value.content;
  throw new TypeError(`Cannot read ${where}: a special token must be a string or {content}`);
}

function optionalBoolean(config: Json, key: string, where: string): boolean | undefined {
  const value = config[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") {
    throw new TypeError(
      `Cannot read ${where}: ${key} must be a boolean: received ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function applyConfig(options: BertTokenizerOptions, config: Json, where: string): void {
  const lower = optionalBoolean(config, "do_lower_case", where);
  if (lower !== undefined) options.doLowerCase = lower;
  if ("strip_accents" in config) {
    const strip = config.strip_accents;
    if (strip !== null && typeof strip !== "boolean") {
      throw new TypeError(`Cannot read ${where}: strip_accents must be a boolean or null`);
    }
    options.stripAccents = strip;
  }
  const chinese = optionalBoolean(config, "tokenize_chinese_chars", where);
  if (chinese !== undefined) options.tokenizeChineseChars = chinese;
  const cleanUp = optionalBoolean(config, "clean_up_tokenization_spaces", where);
  if (cleanUp !== undefined) options.cleanUpTokenizationSpaces = cleanUp;
  const maxLength = config.model_max_length;
  if (maxLength !== undefined && maxLength !== null) {
    if (typeof maxLength !== "number" || !(maxLength > 0)) {
      throw new TypeError(
        `Cannot read ${where}: model_max_length must be a positive number: received ${
          JSON.stringify(maxLength)
        }`,
      );
    }
    // Hugging Face writes 1e30 for "no limit".
    options.modelMaxLength = maxLength >= 1e29 ? Number.POSITIVE_INFINITY : maxLength;
  }
  const neverSplit = config.never_split;
  if (neverSplit !== undefined && neverSplit !== null) {
    if (!Array.isArray(neverSplit) || neverSplit.some((w) => typeof w !== "string")) {
      throw new TypeError(
        `Cannot read ${where}: never_split must be a list of strings: received ${
          JSON.stringify(neverSplit).slice(0, 80)
        }`,
      );
    }
    options.neverSplit = neverSplit as string[];
  }
  applySpecialTokens(options, config, where);
}

function applySpecialTokens(options: BertTokenizerOptions, config: Json, where: string): void {
  const names = [
    ["unk_token", "unkToken"],
    ["sep_token", "sepToken"],
    ["pad_token", "padToken"],
    ["cls_token", "clsToken"],
    ["mask_token", "maskToken"],
  ] as const;
  for (const [key, field] of names) {
    const token = tokenString(config[key], `${where} ${key}`);
    if (token !== undefined) options[field] = token;
  }
  const extra = config.additional_special_tokens;
  if (extra !== undefined && extra !== null) {
    if (!Array.isArray(extra)) {
      throw new TypeError(`Cannot read ${where}: additional_special_tokens must be a list`);
    }
    options.additionalSpecialTokens = extra.map((token, i) =>
      tokenString(token, `${where} additional_special_tokens[${i}]`)!
    );
  }
}

async function readObject(source: FileSource, name: string): Promise<Json | null> {
  const value = await readJson(source, name);
  if (value === null) return null;
  if (!isObject(value)) {
    throw new SyntaxError(`Cannot parse ${name} in ${source.description}: expected a JSON object`);
  }
  return value;
}

function fromTokenizerJson(json: Json, options: BertTokenizerOptions, where: string): Vocabulary {
  const model = json.model;
  if (!isObject(model) || model.type !== "WordPiece") {
    throw new SyntaxError(`Cannot parse ${where}: model.type must be "WordPiece"`);
  }
  const vocab = Vocabulary.fromObject(model.vocab, where);
  const unk = tokenString(model.unk_token, `${where} model.unk_token`);
  if (unk !== undefined) options.unkToken = unk;
  if (typeof model.continuing_subword_prefix === "string") {
    options.continuingSubwordPrefix = model.continuing_subword_prefix;
  }
  if (typeof model.max_input_chars_per_word === "number") {
    options.maxInputCharsPerWord = model.max_input_chars_per_word;
  }
  const normalizer = json.normalizer;
  if (isObject(normalizer)) {
    if (normalizer.type !== "BertNormalizer") {
      throw new SyntaxError(
        `Cannot parse ${where}: only the BertNormalizer is supported: received ${
          JSON.stringify(normalizer.type)
        }`,
      );
    }
    if (typeof normalizer.lowercase === "boolean") options.doLowerCase = normalizer.lowercase;
    if (normalizer.strip_accents === null || typeof normalizer.strip_accents === "boolean") {
      options.stripAccents = normalizer.strip_accents;
    }
    if (typeof normalizer.handle_chinese_chars === "boolean") {
      options.tokenizeChineseChars = normalizer.handle_chinese_chars;
    }
  }
  const post = json.post_processor;
  if (isObject(post)) {
    if (post.type === "BertProcessing") {
      if (Array.isArray(post.cls) && typeof post.cls[0] === "string") {
        options.clsToken = post.cls[0];
      }
      if (Array.isArray(post.sep) && typeof post.sep[0] === "string") {
        options.sepToken = post.sep[0];
      }
    } else if (post.type === "TemplateProcessing" && Array.isArray(post.single)) {
      const specials = post.single
        .map((item: unknown) =>
          isObject(item) && isObject(item.SpecialToken) ? item.SpecialToken.id : undefined
        )
        .filter((id: unknown): id is string => typeof id === "string");
      if (specials.length === 2) [options.clsToken, options.sepToken] = specials;
    }
  }
  if (Array.isArray(json.added_tokens)) {
    const known = new Set(["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"]);
    for (const token of [options.unkToken, options.sepToken, options.clsToken]) {
      if (token !== undefined) known.add(token);
    }
    const extra = json.added_tokens
      .filter((item: unknown) => isObject(item) && item.special === true)
      .map((item: Json) => item.content)
      .filter((content: unknown): content is string =>
        typeof content === "string" && !known.has(content)
      );
    if (extra.length > 0) options.additionalSpecialTokens = extra;
  }
  return vocab;
}

/**
 * Reads a tokenizer from a folder, an http(s) URL of a folder, or a hub id (downloaded and cached).
 * @param source a folder path, URL, hub id or a {@linkcode FileSource}
 * @param preferFast read `tokenizer.json` first (else `vocab.txt` first)
 * @param pretrained hub options (revision, cache folder, endpoint, token) for URLs and hub ids
 * @returns the vocabulary and the constructor options
 * @throws {Error} when the folder has neither `vocab.txt` nor `tokenizer.json`
 * @throws {SyntaxError} when a file cannot be parsed
 */
export async function loadTokenizerFiles(
  source: string | FileSource,
  preferFast: boolean,
  pretrained: HubOptions = {},
): Promise<TokenizerFiles> {
  const folder = await resolveSource(source, pretrained);
  const where = folder.description;
  const options: BertTokenizerOptions = {};
  const config = await readObject(folder, "tokenizer_config.json");
  const specialMap = await readObject(folder, "special_tokens_map.json");
  const readVocabTxt = async (): Promise<Vocabulary | null> => {
    const bytes = await folder.readFile("vocab.txt");
    if (bytes === null) return null;
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new SyntaxError(`Cannot parse vocab.txt in ${where}: it is not valid UTF-8`);
    }
    return Vocabulary.fromText(text, `vocab.txt in ${where}`);
  };
  const added: AddedToken[] = [];
  const readFast = async (): Promise<Vocabulary | null> => {
    const json = await readObject(folder, "tokenizer.json");
    if (json === null) return null;
    const at = `tokenizer.json in ${where}`;
    const fastVocab = fromTokenizerJson(json, options, at);
    if (Array.isArray(json.added_tokens)) {
      for (const item of json.added_tokens as unknown[]) {
        if (!isObject(item)) continue;
        added.push({
          id: typeof item.id === "number" ? item.id : Number.NaN,
          content: typeof item.content === "string" ? item.content : "",
          special: item.special === true,
          where: `${at} added_tokens`,
        });
      }
    }
    return fastVocab;
  };
  let vocab = preferFast ? await readFast() : await readVocabTxt();
  vocab ??= preferFast ? await readVocabTxt() : await readFast();
  if (vocab === null) {
    throw new Error(
      `Cannot load a tokenizer from ${where}: it has neither vocab.txt nor tokenizer.json`,
    );
  }
  if (config !== null) applyConfig(options, config, `tokenizer_config.json in ${where}`);
  if (specialMap !== null) {
    applySpecialTokens(options, specialMap, `special_tokens_map.json in ${where}`);
  }
  if (config !== null && isObject(config.added_tokens_decoder)) {
    const at = `tokenizer_config.json in ${where} added_tokens_decoder`;
    for (const [key, value] of Object.entries(config.added_tokens_decoder)) {
      const content = tokenString(value, at);
      added.push({
        id: Number(key),
        content: content ?? "",
        special: isObject(value) && value.special === true,
        where: at,
      });
    }
  }
  const addedJson = await readObject(folder, "added_tokens.json");
  if (addedJson !== null) {
    for (const [content, id] of Object.entries(addedJson)) {
      added.push({
        id: Number(id),
        content,
        special: false,
        where: `added_tokens.json in ${where}`,
      });
    }
  }
  return { vocab: withAddedTokens(vocab, added, options), options };
}

interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  where: string;
}

/**
 * Hugging Face's added tokens: those past the end of the vocabulary extend it (their ids must
 * follow it without gaps), and every added token is kept whole in the text. Special ones join
 * the special tokens (skipped by `decode`), the others are only never split.
 */
function withAddedTokens(
  vocab: Vocabulary,
  added: readonly AddedToken[],
  options: BertTokenizerOptions,
): Vocabulary {
  if (added.length === 0) return vocab;
  const extra = new Map<number, string>();
  for (const token of added) {
    if (!Number.isInteger(token.id) || token.id < 0 || token.content === "") {
      throw new SyntaxError(
        `Cannot read ${token.where}: an added token needs a non-negative integer id and a ` +
          `non-empty content: received ${token.id} ${JSON.stringify(token.content)}`,
      );
    }
    if (token.id >= vocab.size) extra.set(token.id, token.content);
  }
  let result = vocab;
  if (extra.size > 0) {
    const tokens = [...vocab.idToToken];
    for (let id = vocab.size; id < vocab.size + extra.size; id++) {
      const content = extra.get(id);
      if (content === undefined) {
        throw new SyntaxError(
          `Cannot read the added tokens: their ids must continue the vocabulary of ${vocab.size} ` +
            `tokens without gaps: id ${id} is missing (ids ${
              [...extra.keys()].sort((a, b) => a - b).join(", ")
            })`,
        );
      }
      tokens.push(content);
    }
    result = new Vocabulary(tokens, "vocabulary with added tokens");
  }
  const named = new Set(
    [options.unkToken, options.sepToken, options.padToken, options.clsToken, options.maskToken]
      .map((t, i) => t ?? ["[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"][i]!),
  );
  const specials = [...(options.additionalSpecialTokens ?? [])];
  const plain: string[] = [...(options.addedTokens ?? [])];
  for (const token of added) {
    // Only tokens the vocabulary really maps to this id are honoured.
    if (result.idToToken[token.id] !== token.content || named.has(token.content)) continue;
    const list = token.special ? specials : plain;
    if (!list.includes(token.content)) list.push(token.content);
  }
  if (specials.length > 0) options.additionalSpecialTokens = specials;
  const kept = plain.filter((t) => !specials.includes(t));
  if (kept.length > 0) options.addedTokens = kept;
  return result;
}
