/**
 * Writes a BERT / DPR tokenizer's files as transformers' `save_pretrained` writes them for the
 * Python tokenizer classes: `vocab.txt`, `tokenizer_config.json` and `special_tokens_map.json`.
 * transformers' `from_pretrained` and this package's `fromPretrained` both read them back.
 * @module
 */
import { hfJson } from "../io/hf_json.ts";
import { writeFileAtomic } from "../io/atomic_write.ts";
import type { BertTokenizerOptions } from "./bert_tokenizer_options.ts";
import type { Vocabulary } from "./vocab.ts";

/** What transformers writes for an unlimited `model_max_length` (Python's `int(1e30)`). */
const VERY_LARGE_INTEGER = 1000000000000000019884624838656n;

/** What a tokenizer hands {@linkcode saveTokenizerFiles}. */
export interface TokenizerToSave {
  /** The class name; a `Fast` suffix is dropped, as transformers does for `tokenizer_class`. */
  className: string;
  /** The vocabulary, in id order. */
  vocab: Vocabulary;
  /** The options the tokenizer was built with. */
  options: Readonly<BertTokenizerOptions>;
}

/** One entry of `added_tokens_decoder`, with transformers' `AddedToken` fields. */
function addedToken(content: string, special: boolean): Record<string, unknown> {
  return {
    content,
    lstrip: false,
    normalized: !special,
    rstrip: false,
    single_word: false,
    special,
  };
}

/**
 * Writes `vocab.txt`, `tokenizer_config.json` and `special_tokens_map.json` into `dir` (created
 * when missing), each file atomically.
 * @param dir the folder
 * @param tokenizer the class name, vocabulary and options
 * @throws {RangeError} before writing anything, for an option these files cannot hold
 *   (`continuingSubwordPrefix`, `maxInputCharsPerWord` other than WordPiece's defaults, which
 *   only a `tokenizer.json` carries)
 */
export async function saveTokenizerFiles(dir: string, tokenizer: TokenizerToSave): Promise<void> {
  const { vocab, options } = tokenizer;
  const className = tokenizer.className.replace(/Fast$/, "");
  for (
    const [field, value, standard] of [
      ["continuingSubwordPrefix", options.continuingSubwordPrefix, "##"],
      ["maxInputCharsPerWord", options.maxInputCharsPerWord, 100],
    ] as const
  ) {
    if (value !== undefined && value !== standard) {
      throw new RangeError(
        `Cannot save ${tokenizer.className}: ${field} ${JSON.stringify(value)} differs from ` +
          `WordPiece's default ${JSON.stringify(standard)}, which vocab.txt and ` +
          "tokenizer_config.json cannot say",
      );
    }
  }
  const named: Record<string, string> = {
    cls_token: options.clsToken ?? "[CLS]",
    mask_token: options.maskToken ?? "[MASK]",
    pad_token: options.padToken ?? "[PAD]",
    sep_token: options.sepToken ?? "[SEP]",
    unk_token: options.unkToken ?? "[UNK]",
  };
  const additional = [...(options.additionalSpecialTokens ?? [])];
  const decoder: Record<string, Record<string, unknown>> = {};
  for (const token of [...Object.values(named), ...additional]) {
    decoder[String(vocab.tokenToId.get(token))] = addedToken(token, true);
  }
  for (const token of options.addedTokens ?? []) {
    const id = String(vocab.tokenToId.get(token));
    decoder[id] ??= addedToken(token, false);
  }
  const maxLength = options.modelMaxLength ?? Number.POSITIVE_INFINITY;
  const config: Record<string, unknown> = {
    added_tokens_decoder: decoder,
    clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces ?? true,
    do_basic_tokenize: true,
    do_lower_case: options.doLowerCase ?? true,
    model_max_length: Number.isFinite(maxLength) ? maxLength : VERY_LARGE_INTEGER,
    never_split: options.neverSplit === undefined ? null : [...options.neverSplit],
    strip_accents: options.stripAccents ?? null,
    tokenize_chinese_chars: options.tokenizeChineseChars ?? true,
    tokenizer_class: className,
    ...named,
  };
  const specialMap: Record<string, unknown> = { ...named };
  if (additional.length > 0) {
    config.additional_special_tokens = additional;
    specialMap.additional_special_tokens = additional;
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeFileAtomic(`${dir}/vocab.txt`, `${vocab.idToToken.join("\n")}\n`);
  await writeFileAtomic(`${dir}/tokenizer_config.json`, hfJson(config));
  await writeFileAtomic(`${dir}/special_tokens_map.json`, hfJson(specialMap));
}
