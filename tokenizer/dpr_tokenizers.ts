/**
 * The DPR question and context encoder tokenizers: BERT's WordPiece tokenizer under DPR's names,
 * as in Hugging Face (`DPRQuestionEncoderTokenizer`, `DPRContextEncoderTokenizer` and their
 * `Fast` variants, which also return offsets).
 * @module
 */
import type { FileSource } from "../convert/file_source.ts";
import { BertTokenizer, BertTokenizerFast } from "./bert_tokenizer.ts";
import { loadTokenizerFiles } from "./pretrained.ts";

/** Tokenizer of DPR's question encoder (same as `BertTokenizer`). */
export class DPRQuestionEncoderTokenizer extends BertTokenizer {
  /**
   * Loads the tokenizer from a model folder.
   * @param source a folder path or a {@linkcode FileSource}
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
  ): Promise<DPRQuestionEncoderTokenizer> {
    const files = await loadTokenizerFiles(source, false);
    return new DPRQuestionEncoderTokenizer(files.vocab, files.options);
  }
}

/** Tokenizer of DPR's context encoder (same as `BertTokenizer`). */
export class DPRContextEncoderTokenizer extends BertTokenizer {
  /**
   * Loads the tokenizer from a model folder.
   * @param source a folder path or a {@linkcode FileSource}
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
  ): Promise<DPRContextEncoderTokenizer> {
    const files = await loadTokenizerFiles(source, false);
    return new DPRContextEncoderTokenizer(files.vocab, files.options);
  }
}

/** Fast tokenizer of DPR's question encoder (offsets available). */
export class DPRQuestionEncoderTokenizerFast extends BertTokenizerFast {
  /**
   * Loads the tokenizer from a model folder.
   * @param source a folder path or a {@linkcode FileSource}
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
  ): Promise<DPRQuestionEncoderTokenizerFast> {
    const files = await loadTokenizerFiles(source, true);
    return new DPRQuestionEncoderTokenizerFast(files.vocab, files.options);
  }
}

/** Fast tokenizer of DPR's context encoder (offsets available). */
export class DPRContextEncoderTokenizerFast extends BertTokenizerFast {
  /**
   * Loads the tokenizer from a model folder.
   * @param source a folder path or a {@linkcode FileSource}
   * @returns the tokenizer
   */
  static override async fromPretrained(
    source: string | FileSource,
  ): Promise<DPRContextEncoderTokenizerFast> {
    const files = await loadTokenizerFiles(source, true);
    return new DPRContextEncoderTokenizerFast(files.vocab, files.options);
  }
}
