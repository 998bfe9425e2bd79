// `using` declarations (explicit resource management). Only imported where the engine
// parses them (Node 24+); lifetime.test.mjs checks first.
import { Lock, Event } from "../../../dist/forkless.mjs";

/** Returns objects that were declared with `using` in a block that has ended. */
export function usingBlock() {
  let lock, event;
  {
    using l = new Lock();
    using e = new Event();
    lock = l;
    event = e;
    if (lock.closed || event.closed) throw new Error("closed too early");
  }
  return { lock, event };
}

/** `using _ = lock.hold()` releases at the end of the block, also when it throws. */
export function usingHold(lock) {
  try {
    using _ = lock.hold();
    if (!lock.locked()) throw new Error("hold() did not acquire");
    throw new Error("inside");
  } catch (error) {
    if (error.message !== "inside") throw error;
  }
  return lock.locked();
}

export async function usingHoldAsync(lock) {
  {
    await using _ = await lock.holdAsync();
    if (!lock.locked()) throw new Error("holdAsync() did not acquire");
  }
  return lock.locked();
}
