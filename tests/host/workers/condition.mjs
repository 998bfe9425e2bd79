// Worker tasks for Condition tests. The ring is an Int32Array on its own SAB:
// [HEAD, TAIL, TAKEN, slot 0 … slot CAP-1], read and written plainly under the condition's lock.
import { Condition, NotOwnerError } from "../../../dist/forkless.mjs";

export const HEAD = 0;
export const TAIL = 1;
export const TAKEN = 2;
export const SLOTS = 3;

/** Puts base … base+count-1 into the ring, waiting on notFull while it is full. */
export function produce({ notEmpty, notFull, ring, cap, base, count }) {
  const ne = Condition.fromHandle(notEmpty);
  const nf = Condition.fromHandle(notFull);
  let waits = 0;
  for (let k = 0; k < count; k++) {
    nf.acquire();
    nf.waitFor(() => {
      const full = ring[TAIL] - ring[HEAD] >= cap;
      if (full) waits++;
      return !full;
    });
    ring[SLOTS + (ring[TAIL] % cap)] = base + k;
    ring[TAIL] = ring[TAIL] + 1;
    ne.notify();
    nf.release();
  }
  return waits;
}

/** Takes items until `total` were taken by all consumers; counts each item in seen[item]. */
export function consume({ notEmpty, notFull, ring, cap, total, seen }) {
  const ne = Condition.fromHandle(notEmpty);
  const nf = Condition.fromHandle(notFull);
  let mine = 0;
  while (true) {
    ne.acquire();
    ne.waitFor(() => ring[HEAD] < ring[TAIL] || ring[TAKEN] === total);
    if (ring[HEAD] === ring[TAIL]) {
      ne.release();
      break;
    }
    const item = ring[SLOTS + (ring[HEAD] % cap)];
    ring[HEAD] = ring[HEAD] + 1;
    ring[TAKEN] = ring[TAKEN] + 1;
    if (ring[TAKEN] === total) ne.notifyAll();
    nf.notify();
    ne.release();
    Atomics.add(seen, item, 1);
    mine++;
  }
  return mine;
}

/** Sets flag[0] = 1 under the condition's lock and notifies, when main says so. */
export async function notifyWhenTold({ cond, flag, all }, ctx) {
  const c = Condition.fromHandle(cond);
  ctx.post("ready");
  await ctx.message();
  if (!c.acquire({ timeout: 10_000 })) throw new Error("could not take the condition's lock");
  flag[0] = 1;
  if (all) c.notifyAll();
  else c.notify();
  c.release();
  return "notified";
}

/** Waits on the condition with wait(timeout) in a worker; returns what it returned. */
export function waitOnce({ cond, timeout }, ctx) {
  const c = Condition.fromHandle(cond);
  c.acquire();
  ctx.post("waiting");
  const t0 = performance.now();
  const result = c.wait(timeout);
  const elapsed = performance.now() - t0;
  const owns = c.lock.constructor.name === "RLock" ? c.lock.isMine() : c.lock.locked();
  c.release();
  return { result, elapsed, owns };
}

/** Holds the condition's lock until told; meanwhile main tries wait/notify without owning it. */
export async function holdConditionLock({ cond }, ctx) {
  const c = Condition.fromHandle(cond);
  c.acquire();
  ctx.post("held");
  await ctx.message();
  c.release();
  return "released";
}

/** Calls notify() without holding the lock; reports the error. */
export function notifyWithoutLock({ cond }) {
  const c = Condition.fromHandle(cond);
  try {
    c.notify();
    return { threw: false };
  } catch (error) {
    return { threw: true, notOwner: error instanceof NotOwnerError, message: error.message };
  }
}
