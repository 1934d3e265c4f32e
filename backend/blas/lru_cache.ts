/**
 * A small least-recently-used cache of native objects, which are freed when evicted or cleared.
 * @module
 */

/** Values by key, at most `capacity` of them; a key whose value cannot be built keeps `null`. */
export class LruCache<V> {
  readonly #entries = new Map<string, V | null>(); // Map order is use order, oldest first.
  readonly #capacity: number;
  readonly #free: (value: V) => void;

  /**
   * @param capacity most entries kept
   * @param free releases an evicted or cleared value
   */
  constructor(capacity: number, free: (value: V) => void) {
    this.#capacity = capacity;
    this.#free = free;
  }

  /**
   * The value for `key`: the cached one, else `build()`'s (also a `null`, remembered so that a
   * failing build is not retried), freeing the least recently used entry past capacity.
   */
  get(key: string, build: () => V | null): V | null {
    const cached = this.#entries.get(key);
    if (cached !== undefined) {
      this.#entries.delete(key);
      this.#entries.set(key, cached);
      return cached;
    }
    const value = build();
    this.#entries.set(key, value);
    if (this.#entries.size > this.#capacity) {
      const [oldest, evicted] = this.#entries.entries().next().value!;
      this.#entries.delete(oldest);
      if (evicted !== null) this.#free(evicted);
    }
    return value;
  }

  /** Frees every value and empties the cache. */
  clear(): void {
    for (const value of this.#entries.values()) if (value !== null) this.#free(value);
    this.#entries.clear();
  }
}
