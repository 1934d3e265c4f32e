/**
 * One turn of the event loop, for long work cut into pieces: what runs between the pieces
 * (timers, I/O, other requests) runs before the next piece starts.
 * @module
 */

/**
 * One turn of the event loop: timers, I/O and other requests run before it resolves.
 * @returns a promise resolved by a macrotask
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/** How long {@linkcode turnIfDue} lets work run before it takes a turn of the event loop. */
export const TURN_DUE_MS = 10;

let lastTurn = performance.now();

/**
 * A turn of the event loop when {@linkcode TURN_DUE_MS} have passed since the last one this
 * function took, else nothing: the pause between the steps of long work, so that fast steps
 * (a native backend's) do not each wait for a timer (a timer turn costs about a millisecond)
 * while slow ones still let other tasks run every few milliseconds.
 * @returns a promise resolved at once, or by a macrotask
 */
export async function turnIfDue(): Promise<void> {
  if (performance.now() - lastTurn < TURN_DUE_MS) return;
  await nextTurn();
  lastTurn = performance.now();
}

/** Items {@linkcode mapInSlices} maps between two turns by default. */
export const SLICE_ITEMS = 64;

/**
 * `items.map(fn)` a slice at a time, a turn of the event loop between slices: for per-item work
 * over inputs of any length (tokenizing a large batch), so no task runs all of it.
 * @param items the inputs
 * @param fn the work of one item (its index second, as `map` gives)
 * @param slice items per slice (default {@linkcode SLICE_ITEMS})
 * @returns the results, in order
 */
export async function mapInSlices<T, U>(
  items: readonly T[],
  fn: (item: T, index: number) => U,
  slice: number = SLICE_ITEMS,
): Promise<U[]> {
  if (!(Number.isInteger(slice) && slice > 0)) {
    throw new RangeError(
      `Cannot map in slices: slice must be a positive integer: received ${slice}`,
    );
  }
  const out: U[] = [];
  for (let start = 0; start < items.length; start += slice) {
    if (start > 0) await nextTurn();
    const end = Math.min(items.length, start + slice);
    for (let i = start; i < end; i++) out.push(fn(items[i]!, i));
  }
  return out;
}
