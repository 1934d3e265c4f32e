/**
 * A bounded selection of the `k` best (score, row) pairs on typed arrays: a binary min-heap whose
 * root is the worst pair kept. "Better" is a higher score, then a lower row.
 * @module
 */

/** The `k` best (score, row) pairs seen so far. */
export class TopK {
  /** How many pairs are kept at most. */
  readonly k: number;
  readonly #scores: Float32Array;
  readonly #rows: Int32Array;
  #size = 0;

  /** @param k how many pairs to keep (a positive integer) */
  constructor(k: number) {
    this.k = k;
    this.#scores = new Float32Array(k);
    this.#rows = new Int32Array(k);
  }

  /** Number of pairs kept. */
  get size(): number {
    return this.#size;
  }

  /**
   * Offers `count` scores of consecutive rows `firstRow, firstRow + 1, ...`, read from
   * `scores[offset]`, `scores[offset + stride]`, ... Rows must come in increasing order over all
   * calls: a score equal to the worst kept then loses (its row is higher), so one comparison per
   * score decides.
   * @param scores the scores
   * @param offset where this run starts in `scores`
   * @param count how many scores
   * @param firstRow the row of the first score
   * @param stride the distance between consecutive scores in `scores` (default 1)
   */
  scan(scores: Float32Array, offset: number, count: number, firstRow: number, stride = 1): void {
    let j = 0;
    for (; j < count && this.#size < this.k; j++) {
      this.#push(scores[offset + j * stride]!, firstRow + j);
    }
    if (j === count) return;
    const heapScores = this.#scores;
    let worst = heapScores[0]!;
    for (let at = offset + j * stride; j < count; j++, at += stride) {
      const s = scores[at]!;
      if (s > worst) {
        this.#replaceRoot(s, firstRow + j);
        worst = heapScores[0]!;
      }
    }
  }

  /** The kept pairs, best first. */
  sorted(): { scores: Float32Array; rows: Int32Array } {
    const n = this.#size;
    const order = Array.from({ length: n }, (_, i) => i);
    const s = this.#scores, r = this.#rows;
    order.sort((a, b) => s[b]! - s[a]! || r[a]! - r[b]!);
    return {
      scores: Float32Array.from(order, (i) => s[i]!),
      rows: Int32Array.from(order, (i) => r[i]!),
    };
  }

  /** Whether pair `a` is worse than pair `b` (lower score, or the same score and a higher row). */
  #worse(a: number, b: number): boolean {
    const s = this.#scores;
    return s[a]! < s[b]! || (s[a] === s[b] && this.#rows[a]! > this.#rows[b]!);
  }

  #swap(a: number, b: number): void {
    const s = this.#scores, r = this.#rows;
    const ts = s[a]!, tr = r[a]!;
    s[a] = s[b]!;
    r[a] = r[b]!;
    s[b] = ts;
    r[b] = tr;
  }

  #push(score: number, row: number): void {
    let i = this.#size++;
    this.#scores[i] = score;
    this.#rows[i] = row;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#worse(i, parent)) break;
      this.#swap(i, parent);
      i = parent;
    }
  }

  #replaceRoot(score: number, row: number): void {
    this.#scores[0] = score;
    this.#rows[0] = row;
    const n = this.#size;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1, right = left + 1;
      let worst = i;
      if (left < n && this.#worse(left, worst)) worst = left;
      if (right < n && this.#worse(right, worst)) worst = right;
      if (worst === i) return;
      this.#swap(i, worst);
      i = worst;
    }
  }
}
