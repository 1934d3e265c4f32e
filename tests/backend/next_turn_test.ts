// nextTurn and mapInSlices: other tasks run between the slices of a long map, and the results
// are map's.
import assert from "node:assert/strict";
import { mapInSlices, nextTurn } from "../../backend/next_turn.ts";

Deno.test("nextTurn lets a timer set before it run first", async () => {
  let ran = false;
  setTimeout(() => ran = true, 0);
  await nextTurn();
  assert.ok(ran);
});

Deno.test("mapInSlices: map's results and indices, with turns of the event loop between slices", async () => {
  const items = Array.from({ length: 10 }, (_, i) => `item${i}`);
  const seen: number[] = [];
  // A timer set while an item runs fires before the next slice (equal delays fire in order), so
  // the slices are told apart by which timers have fired when each item runs.
  let fired = 0;
  const firedWhen: number[] = [];
  const out = await mapInSlices(items, (item, i) => {
    seen.push(i);
    firedWhen.push(fired);
    setTimeout(() => fired++, 0);
    return item.toUpperCase();
  }, 4);
  await nextTurn(); // the last slice's timers
  assert.deepEqual(out, items.map((item) => item.toUpperCase()));
  assert.deepEqual(seen, items.map((_, i) => i));
  // Items 0-3 ran in one task, 4-7 after the first slice's 4 timers, 8-9 after all 8.
  assert.deepEqual(firedWhen, [0, 0, 0, 0, 4, 4, 4, 4, 8, 8]);
  assert.deepEqual(await mapInSlices([], () => 1), []);
  await assert.rejects(
    mapInSlices([1], (x) => x, 0),
    /slice must be a positive integer: received 0/,
  );
});

Deno.test("turnIfDue takes a turn only once TURN_DUE_MS have passed since its last", async () => {
  const { turnIfDue, TURN_DUE_MS } = await import("../../backend/next_turn.ts");
  await new Promise((resolve) => setTimeout(resolve, TURN_DUE_MS + 5));
  let ran = false;
  setTimeout(() => ran = true, 0);
  await turnIfDue(); // due: the timer runs first
  assert.ok(ran, "a turn was taken");
  ran = false;
  const timer = setTimeout(() => ran = true, 0);
  const start = performance.now();
  await turnIfDue(); // just took one
  if (performance.now() - start < TURN_DUE_MS) assert.equal(ran, false, "no turn when not due");
  clearTimeout(timer);
});
