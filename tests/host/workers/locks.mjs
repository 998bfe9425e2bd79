// Worker tasks for Lock and RLock tests.
import { Lock, RLock, NotOwnerError } from "../../../dist/forkless.mjs";

/** n plain (non-atomic) increments of counter[0], each under the lock. */
export function incrementLock({ lock, counter, n, gate, parties }, ctx) {
  const l = Lock.fromHandle(lock);
  ctx.startTogether(gate, parties);
  for (let i = 0; i < n; i++) {
    l.acquire();
    counter[0] = counter[0] + 1;
    l.release();
  }
  l.close();
  return n;
}

/** The same under an RLock, re-entering to depth 2 on every 8th increment. */
export function incrementRLock({ lock, counter, n, gate, parties }, ctx) {
  const l = RLock.fromHandle(lock);
  ctx.startTogether(gate, parties);
  let maxDepth = 0;
  for (let i = 0; i < n; i++) {
    l.acquire();
    if ((i & 7) === 0) {
      l.acquire();
      maxDepth = Math.max(maxDepth, l.depth);
      counter[0] = counter[0] + 1;
      l.release();
      if (!l.isMine()) throw new Error("RLock lost after one release at depth 2");
    } else {
      counter[0] = counter[0] + 1;
    }
    l.release();
  }
  l.close();
  return maxDepth;
}

/** Acquires a Lock or RLock (depth times), reports, then releases when main says so. */
export async function holdUntilTold({ kind, lock, depth = 1 }, ctx) {
  const l = kind === "RLock" ? RLock.fromHandle(lock) : Lock.fromHandle(lock);
  for (let i = 0; i < depth; i++) if (!l.acquire({ timeout: 10_000 })) throw new Error("could not acquire");
  ctx.post("held");
  const order = await ctx.message();
  if (order !== "release") throw new Error(`unexpected order ${order}`);
  for (let i = 0; i < depth; i++) l.release();
  return "released";
}

/** Tries to release an RLock this thread does not own; reports what happened. */
export function releaseForeignRLock({ lock }) {
  const l = RLock.fromHandle(lock);
  try {
    l.release();
    return { threw: false };
  } catch (error) {
    return { threw: true, name: error.name, notOwner: error instanceof NotOwnerError, message: error.message, depth: l.depth };
  }
}

/** Releases a plain Lock acquired by another thread (allowed, as in Python). */
export function releaseForeignLock({ lock }) {
  const l = Lock.fromHandle(lock);
  l.release();
  return l.locked();
}

/** Acquire attempts with a timeout on a lock some other thread holds; returns elapsed ms. */
export function timedAcquire({ kind, lock, timeout }) {
  const l = kind === "RLock" ? RLock.fromHandle(lock) : Lock.fromHandle(lock);
  const t0 = performance.now();
  const got = l.acquire({ timeout });
  return { got, elapsed: performance.now() - t0 };
}
