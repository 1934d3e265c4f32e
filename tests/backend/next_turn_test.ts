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
  const seen: string[] = [];
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 0);
  try {
    const out = await mapInSlices(items, (item, i) => {
      seen.push(`${i}@${ticks}`);
      return item.toUpperCase();
    }, 4);
    assert.deepEqual(out, items.map((item) => item.toUpperCase()));
    // Items 0-3, 4-7 and 8-9 each ran in one task, later slices after turns of the event loop.
    const tickOf = (i: number) => Number(seen[i]!.split("@")[1]);
    assert.equal(tickOf(0), tickOf(3));
    assert.ok(tickOf(4) > tickOf(3), "the interval ran between the first two slices");
    assert.ok(tickOf(8) > tickOf(7));
    assert.deepEqual(seen.map((s) => Number(s.split("@")[0])), items.map((_, i) => i));
  } finally {
    clearInterval(ticker);
  }
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
  setTimeout(() => ran = true, 0);
  const start = performance.now();
  await turnIfDue(); // just took one
  if (performance.now() - start < TURN_DUE_MS) assert.equal(ran, false, "no turn when not due");
});
