/**
 * A WordPiece vocabulary: `vocab.txt` (line i is the token of id i) or the `model.vocab` object
 * of a fast `tokenizer.json`.
 * @module
 */

/** Token strings by id and ids by token string. */
export class Vocabulary {
  /** Token of each id. */
  readonly idToToken: readonly string[];
  /** Id of each token; a token listed twice keeps its last id, as in Hugging Face. */
  readonly tokenToId: ReadonlyMap<string, number>;

  /**
   * Builds the vocabulary from its tokens.
   * @param tokens the token of each id, in id order
   * @param source where the tokens came from, for error messages
   */
  constructor(tokens: readonly string[], source = "vocabulary") {
    if (tokens.length === 0) {
      throw new RangeError(`Cannot build Vocabulary from ${source}: it holds no tokens`);
    }
    this.idToToken = tokens;
    const map = new Map<string, number>();
    tokens.forEach((token, id) => map.set(token, id));
    this.tokenToId = map;
  }

  /** Number of ids. */
  get size(): number {
    return this.idToToken.length;
  }

  /**
   * Parses the text of a `vocab.txt` file: one token per line, `\n` or `\r\n` line ends.
   * @param text the file's text
   * @param source where it came from, for error messages
   * @returns the vocabulary
   */
  static fromText(text: string, source = "vocab.txt"): Vocabulary {
    if (text.length === 0) {
      throw new SyntaxError(`Cannot parse vocabulary ${source}: the file is empty`);
    }
    const lines = text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    return new Vocabulary(
      lines.map((line) => line.endsWith("\r") ? line.slice(0, -1) : line),
      source,
    );
  }

  /**
   * Builds the vocabulary from a `{ token: id }` object (a fast `tokenizer.json`'s `model.vocab`).
   * @param vocab the object; ids must be 0..n-1, each used once
   * @param source where it came from, for error messages
   * @returns the vocabulary
   */
  static fromObject(vocab: unknown, source = "tokenizer.json"): Vocabulary {
    if (typeof vocab !== "object" || vocab === null || Array.isArray(vocab)) {
      throw new SyntaxError(`Cannot parse ${source}: model.vocab must be an object of token ids`);
    }
    const entries = Object.entries(vocab as Record<string, unknown>);
    const tokens: string[] = new Array(entries.length);
    for (const [token, id] of entries) {
      if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= entries.length) {
        throw new SyntaxError(
          `Cannot parse ${source}: model.vocab ids must be integers 0..${
            entries.length - 1
          }: received ${JSON.stringify(id)} for token ${JSON.stringify(token)}`,
        );
      }
      if (tokens[id] !== undefined) {
        throw new SyntaxError(`Cannot parse ${source}: model.vocab uses id ${id} twice`);
      }
      tokens[id] = token;
    }
    return new Vocabulary(tokens, source);
  }
}
