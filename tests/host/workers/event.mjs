// Worker tasks for Event tests.
import { Event } from "../../../dist/forkless.mjs";

/**
 * Marks ready[index], blocks in wait(timeout), marks woke[index]; returns what wait returned
 * and how long it blocked.
 */
export function waitForEvent({ event, ready, woke, timeout }, ctx) {
  const e = Event.fromHandle(event);
  const t0 = performance.now();
  Atomics.store(ready, ctx.index, 1);
  const result = e.wait(timeout);
  const elapsed = performance.now() - t0;
  Atomics.store(woke, ctx.index, 1);
  e.close();
  return { result, elapsed };
}

/** Sets (or clears) the event when main says so. */
export async function setWhenTold({ event }, ctx) {
  const e = Event.fromHandle(event);
  ctx.post("ready");
  const order = await ctx.message();
  if (order === "set") e.set();
  else if (order === "clear") e.clear();
  return e.isSet();
}
