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
