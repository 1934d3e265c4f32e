/**
 * Groups concurrent calls into batches and runs the batches one at a time: calls made while a
 * batch is running (or within the same tick) wait and go together into the next batch. Model
 * calls are thus serialised (TensorFlow.js runs one at a time anyway) and amortised.
 * @module
 */

/** Options of a {@link MicroBatcher}. */
export interface MicroBatcherOptions {
  /** Largest number of items in one batch (default 64). */
  maxBatchSize?: number;
  /** Largest number of waiting items; more are refused with a RangeError (default unlimited). */
  maxQueue?: number;
}

interface Pending<I, O> {
  item: I;
  resolve: (value: O) => void;
  reject: (error: unknown) => void;
}

/**
 * Batches items for `run`, which must return one output per input, in order.
 *
 * @example
 * ```ts
 * import { MicroBatcher } from "@dpr/dpr";
 * const double = new MicroBatcher((xs: number[]) => Promise.resolve(xs.map((x) => 2 * x)));
 * console.log(await Promise.all([double.call(1), double.call(2)])); // [2, 4], one batch
 * ```
 */
export class MicroBatcher<I, O> {
  #run: (items: I[]) => Promise<O[]>;
  #queue: Pending<I, O>[] = [];
  #running = false;
  #maxBatchSize: number;
  #maxQueue: number;
  /** Number of batches run so far. */
  batches = 0;

  /**
   * A batcher around a function that processes one batch.
   * @param run processes one batch
   * @param options batch and queue limits
   */
  constructor(run: (items: I[]) => Promise<O[]>, options: MicroBatcherOptions = {}) {
    this.#run = run;
    this.#maxBatchSize = options.maxBatchSize ?? 64;
    this.#maxQueue = options.maxQueue ?? Infinity;
    if (!Number.isInteger(this.#maxBatchSize) || this.#maxBatchSize <= 0) {
      throw new RangeError(
        `Cannot build MicroBatcher: maxBatchSize must be a positive integer: received ${this.#maxBatchSize}`,
      );
    }
  }

  /** Items waiting for a batch. */
  get pending(): number {
    return this.#queue.length;
  }

  /**
   * Queues one item.
   * @param item the input
   * @returns its output, once its batch has run
   */
  call(item: I): Promise<O> {
    if (this.#queue.length >= this.#maxQueue) {
      return Promise.reject(
        new RangeError(`MicroBatcher queue is full: ${this.#queue.length} items are waiting`),
      );
    }
    return new Promise<O>((resolve, reject) => {
      this.#queue.push({ item, resolve, reject });
      if (!this.#running) {
        this.#running = true;
        // Let the other calls of this tick join the first batch.
        setTimeout(() => this.#drain(), 0);
      }
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatchSize);
      this.batches++;
      try {
        const outputs = await this.#run(batch.map((p) => p.item));
        if (outputs.length !== batch.length) {
          throw new RangeError(
            `MicroBatcher: the batch function returned ${outputs.length} outputs for ${batch.length} inputs`,
          );
        }
        batch.forEach((p, i) => p.resolve(outputs[i]!));
      } catch (error) {
        batch.forEach((p) => p.reject(error));
      }
    }
    this.#running = false;
  }
}
