import assert from "node:assert/strict";
import { MicroBatcher } from "../../pipeline/micro_batcher.ts";

Deno.test("MicroBatcher: concurrent calls share batches, run one at a time, keep order", async () => {
  // No timers: each batch waits on a gate the test opens, so what joins which batch depends on
  // the order of calls only.
  const seen: number[][] = [];
  const entered: Array<() => void> = [];
  const gates: Array<() => void> = [];
  let running = 0;
  const batcher = new MicroBatcher(async (xs: number[]) => {
    running++;
    assert.equal(running, 1, "batches never overlap");
    seen.push(xs);
    await new Promise<void>((open) => {
      gates.push(open);
      entered.shift()?.();
    });
    running--;
    return xs.map((x) => x * 10);
  }, { maxBatchSize: 4 });
  /** Resolves when the next batch has started (and waits at its gate). */
  const nextBatchStarts = (): Promise<void> => new Promise((resolve) => entered.push(resolve));
  /** Opens the gate of the batch that is waiting. */
  const openGate = (): void => gates.shift()!();

  let started = nextBatchStarts();
  const first = Promise.all([1, 2, 3, 4, 5, 6].map((x) => batcher.call(x)));
  await started;
  started = nextBatchStarts();
  openGate();
  await started;
  openGate();
  assert.deepEqual(await first, [10, 20, 30, 40, 50, 60]);
  assert.deepEqual(seen, [[1, 2, 3, 4], [5, 6]]);
  // Calls made while a batch runs join the next one.
  started = nextBatchStarts();
  const a = batcher.call(7);
  await started; // [7] is running
  const rest = [8, 9].map((x) => batcher.call(x));
  started = nextBatchStarts();
  openGate();
  await started; // [8, 9] is running
  openGate();
  assert.deepEqual(await Promise.all([a, ...rest]), [70, 80, 90]);
  assert.deepEqual(seen.slice(2), [[7], [8, 9]]);
});

Deno.test("MicroBatcher: a failing batch rejects its calls only; queue limit and bad sizes", async () => {
  const batcher = new MicroBatcher((xs: number[]) => {
    if (xs.includes(0)) return Promise.reject(new RangeError("zero"));
    return Promise.resolve(xs.map((x) => -x));
  }, { maxBatchSize: 2, maxQueue: 3 });
  const results = await Promise.allSettled([0, 1, 2, 3, 4].map((x) => batcher.call(x)));
  assert.deepEqual(results.map((r) => r.status), [
    "rejected",
    "rejected",
    "fulfilled",
    "rejected",
    "rejected",
  ]);
  assert.match(String((results[0] as PromiseRejectedResult).reason), /zero/);
  assert.match(String((results[3] as PromiseRejectedResult).reason), /queue is full/);
  assert.equal(await batcher.call(5), -5);
  const wrong = new MicroBatcher((_xs: number[]) => Promise.resolve([] as number[]));
  await assert.rejects(() => wrong.call(1), /returned 0 outputs for 1 inputs/);
  assert.throws(() => new MicroBatcher(() => Promise.resolve([]), { maxBatchSize: 0 }), RangeError);
});
