/**
 * The bounds the restricted unpickler enforces: nesting depth, memo size and string length.
 * @module
 */

/**
 * Bounds on what a pickle may build, so a hostile file ends in an error naming it rather than in
 * exhausted memory or call stack.
 */
export interface PickleLimits {
  /** Deepest nesting of MARKs and of containers inside containers (default 1,000). */
  maxDepth: number;
  /** Most memo entries (default 1,000,000). */
  maxMemo: number;
  /** Longest string or bytes value, in bytes (default 64 MiB). */
  maxStringBytes: number;
}

/** The default {@linkcode PickleLimits}: far above what a checkpoint's pickle holds. */
export const DEFAULT_PICKLE_LIMITS: Readonly<PickleLimits> = Object.freeze({
  maxDepth: 1_000,
  maxMemo: 1_000_000,
  maxStringBytes: 64 * 1024 * 1024,
});

/** Checks one pickle's values against {@linkcode PickleLimits}, naming the file on failure. */
export class PickleBounds {
  readonly #limits: PickleLimits;
  readonly #where: string;
  // Nesting depth of each container built so far (absent: 1).
  readonly #depths = new WeakMap<object, number>();

  /**
   * Starts the checks of one pickle.
   * @param limits the bounds
   * @param where the start of each error message ("Cannot unpickle <file>")
   */
  constructor(limits: PickleLimits, where: string) {
    this.#limits = limits;
    this.#where = where;
  }

  /**
   * Records that `items` went into `container`; refuses nesting past `maxDepth`.
   * @param container a list, tuple, dict, set or record
   * @param items what went into it
   * @param offset where in the pickle, for the message
   */
  nest(container: object, items: Iterable<unknown>, offset: number): void {
    let depth = this.#depths.get(container) ?? 1;
    for (const item of items) {
      if (typeof item === "object" && item !== null) {
        depth = Math.max(depth, (this.#depths.get(item) ?? 1) + 1);
      }
    }
    if (depth > this.#limits.maxDepth) {
      throw new RangeError(
        `${this.#where}: values nest ${depth} deep at offset ${offset}, past the limit of ` +
          `${this.#limits.maxDepth}`,
      );
    }
    this.#depths.set(container, depth);
  }

  /**
   * Refuses a MARK that would nest past `maxDepth`.
   * @param depth the nesting the MARK would make
   * @param offset where in the pickle
   */
  checkMarks(depth: number, offset: number): void {
    if (depth > this.#limits.maxDepth) {
      throw new RangeError(
        `${this.#where}: MARKs nest more than ${this.#limits.maxDepth} deep at offset ${offset}`,
      );
    }
  }

  /**
   * Refuses a new memo entry past `maxMemo`.
   * @param memo the memo so far
   * @param key the key about to be set
   * @param offset where in the pickle
   */
  checkMemo(memo: Map<number, unknown>, key: number, offset: number): void {
    if (!memo.has(key) && memo.size >= this.#limits.maxMemo) {
      throw new RangeError(
        `${this.#where}: more than ${this.#limits.maxMemo} memo entries at offset ${offset}`,
      );
    }
  }

  /**
   * Refuses a string or bytes value longer than `maxStringBytes`.
   * @param bytes its length
   * @param what "a string", "a text line"
   * @param offset where in the pickle
   */
  checkString(bytes: number, what: string, offset: number): void {
    if (bytes > this.#limits.maxStringBytes) {
      throw new RangeError(
        `${this.#where}: ${what} of ${bytes} bytes at offset ${offset} is longer than the ` +
          `limit of ${this.#limits.maxStringBytes}`,
      );
    }
  }
}
