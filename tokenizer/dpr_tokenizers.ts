/**
 * The DPR question and context encoder tokenizers: BERT's WordPiece tokenizer under DPR's names,
 * as in Hugging Face (`DPRQuestionEncoderTokenizer`, `DPRContextEncoderTokenizer` and their
 * `Fast` variants, which also return offsets).
 * @module
 */
import type { FileSource } from "../io/file_source.ts";
import { BertTokenizer, BertTokenizerFast } from "./bert_tokenizer.ts";
import type { HubOptions } from "../io/hub_source.ts";
import { loadTokenizerFiles } from "./pretrained.ts";

/** Tokenizer of DPR's question encoder (same as `BertTokenizer`). */
export class DPRQuestionEncoderTokenizer extends BertTokenizer {
  /**
   * Loads the tokenizer from a model folder.
   * @param source a folder path, an http(s) URL, a hub id or a {@linkcode FileSource}
   * @param options revision, cache folder, hub endpoint and token for URLs and hub ids
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
    options: HubOptions = {},
  ): Promise<DPRQuestionEncoderTokenizer> {
    const files = await loadTokenizerFiles(source, false, options);
    return new DPRQuestionEncoderTokenizer(files.vocab, files.options);
  }
}

/** Tokenizer of DPR's context encoder (same as `BertTokenizer`). */
export class DPRContextEncoderTokenizer extends BertTokenizer {
  /**
   * Loads the tokenizer from a model folder.
   * @param source a folder path, an http(s) URL, a hub id or a {@linkcode FileSource}
   * @param options revision, cache folder, hub endpoint and token for URLs and hub ids
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
    options: HubOptions = {},
  ): Promise<DPRContextEncoderTokenizer> {
    const files = await loadTokenizerFiles(source, false, options);
    return new DPRContextEncoderTokenizer(files.vocab, files.options);
  }
}

/** Fast tokenizer of DPR's question encoder (offsets available). */
export class DPRQuestionEncoderTokenizerFast extends BertTokenizerFast {
  /**
   * Loads the tokenizer from a model folder.
   * @param source a folder path, an http(s) URL, a hub id or a {@linkcode FileSource}
   * @param options revision, cache folder, hub endpoint and token for URLs and hub ids
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
    options: HubOptions = {},
  ): Promise<DPRQuestionEncoderTokenizerFast> {
    const files = await loadTokenizerFiles(source, true, options);
    return new DPRQuestionEncoderTokenizerFast(files.vocab, files.options);
  }
}

/** Fast tokenizer of DPR's context encoder (offsets available). */
export class DPRContextEncoderTokenizerFast extends BertTokenizerFast {
  /**
   * Loads the tokenizer from a model folder.
   * @param source a folder path, an http(s) URL, a hub id or a {@linkcode FileSource}
   * @param options revision, cache folder, hub endpoint and token for URLs and hub ids
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
    options: HubOptions = {},
  ): Promise<DPRContextEncoderTokenizerFast> {
    const files = await loadTokenizerFiles(source, true, options);
    return new DPRContextEncoderTokenizerFast(files.vocab, files.options);
  }
}
