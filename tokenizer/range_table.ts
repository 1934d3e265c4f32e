/**
 * A string-keyed table looked up by a range of a longer text and the range's hash, so hot loops
 * find a word straight from the text without slicing a string first: open addressing (linear
 * probing) over the hash of the key's UTF-16 units. The WordPiece vocabulary and the pipeline's
 * word cache are both one.
 * @module
 */

/**
 * The hash {@linkcode RangeTable} files keys under: `h = h * 31 + unit` over the UTF-16 units of
 * `text[start, end)`, in 32-bit integers. Callers scanning a text may build it unit by unit.
 * @param text the text holding the key
 * @param start first UTF-16 unit
 * @param end one past the last unit
 * @returns the hash
 */
export function hashRange(text: string, start: number, end: number): number {
  let hash = 0;
  for (let i = start; i < end; i++) hash = (Math.imul(hash, 31) + text.charCodeAt(i)) | 0;
  return hash;
}

/** String keys to values of type `V`, found by a range of a text and its hash. */
export class RangeTable<V> {
  readonly #initialSlots: number;
  #slots: Int32Array;
  #keys: string[] = [];
  #hashes: number[] = [];
  #values: V[] = [];

  /**
   * An empty table.
   * @param initialSlots slots to start with (a power of two); the table doubles them as it fills
   * @throws RangeError when `initialSlots` is not a power of two
   */
  constructor(initialSlots = 1 << 10) {
    if (
      !(Number.isInteger(initialSlots) && initialSlots > 0 &&
        (initialSlots & -initialSlots) === initialSlots)
    ) {
      throw new RangeError(
        `Cannot build a RangeTable: initialSlots must be a power of two: received ${initialSlots}`,
      );
    }
    this.#initialSlots = initialSlots;
    this.#slots = new Int32Array(initialSlots).fill(-1);
  }

  /** Keys held. */
  get size(): number {
    return this.#keys.length;
  }

  /**
   * The value of the key `text[start, end)`.
   * @param text the text holding the key
   * @param start first UTF-16 unit of the key
   * @param end one past its last unit
   * @param hash `hashRange(text, start, end)`
   * @returns the value, or undefined when the key is absent
   */
  find(text: string, start: number, end: number, hash: number): V | undefined {
    const index = this.#slots[this.#probe(text, start, end, hash)]!;
    return index < 0 ? undefined : this.#values[index];
  }

  /**
   * Adds `key` or replaces its value.
   * @param key the key
   * @param value its value
   * @param hash `hashRange(key, 0, key.length)`, when the caller has it
   */
  set(key: string, value: V, hash: number = hashRange(key, 0, key.length)): void {
    const slot = this.#probe(key, 0, key.length, hash);
    const at = this.#slots[slot]!;
    if (at >= 0) {
      this.#values[at] = value;
      return;
    }
    this.#keys.push(key);
    this.#hashes.push(hash);
    this.#values.push(value);
    this.#slots[slot] = this.#keys.length - 1;
    if (this.#keys.length * 2 > this.#slots.length) this.#grow();
  }

  /** Removes every key (the slots shrink back to their initial number). */
  clear(): void {
    this.#slots = new Int32Array(this.#initialSlots).fill(-1);
    this.#keys = [];
    this.#hashes = [];
    this.#values = [];
  }

  /** The slot holding the key `text[start, end)`, or the empty slot where it would go. */
  #probe(text: string, start: number, end: number, hash: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    const length = end - start;
    let slot = hash & mask;
    for (;;) {
      const index = slots[slot]!;
      if (index < 0) return slot;
      if (this.#hashes[index] === hash) {
        const key = this.#keys[index]!;
        if (key.length === length) {
          let k = 0;
          while (k < length && key.charCodeAt(k) === text.charCodeAt(start + k)) k++;
          if (k === length) return slot;
        }
      }
      slot = (slot + 1) & mask;
    }
  }

  #grow(): void {
    const slots = new Int32Array(this.#slots.length * 2).fill(-1);
    const mask = slots.length - 1;
    for (let index = 0; index < this.#hashes.length; index++) {
      let slot = this.#hashes[index]! & mask;
      while (slots[slot]! >= 0) slot = (slot + 1) & mask;
      slots[slot] = index;
    }
    this.#slots = slots;
  }
}
