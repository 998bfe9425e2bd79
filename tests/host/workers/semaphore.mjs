// Worker tasks for Semaphore / BoundedSemaphore tests.
import { Semaphore, BoundedSemaphore, ValueError } from "../../../dist/forkless.mjs";

/**
 * rounds × (acquire; count this holder in stats[0] and raise the maximum in stats[1]; hold
 * for ~holdMs; uncount; release). stats is an Int32Array on a SAB of its own.
 */
export function holdRounds({ sem, stats, rounds, holdMs, gate, parties }, ctx) {
  const s = Semaphore.fromHandle(sem);
  ctx.startTogether(gate, parties);
  for (let i = 0; i < rounds; i++) {
    if (!s.acquire({ timeout: 10_000 })) throw new Error("semaphore acquire timed out");
    const holders = Atomics.add(stats, 0, 1) + 1;
    let max = Atomics.load(stats, 1);
    while (holders > max) {
      const seen = Atomics.compareExchange(stats, 1, max, holders);
      if (seen === max) break;
      max = seen;
    }
    ctx.sleep(holdMs);
    Atomics.sub(stats, 0, 1);
    s.release();
  }
  s.close();
  return rounds;
}

/** Acquires a semaphore count times, then releases them all when main says so. */
export async function acquireThenRelease({ sem, count = 1 }, ctx) {
  const s = Semaphore.fromHandle(sem);
  for (let i = 0; i < count; i++) if (!s.acquire({ timeout: 10_000 })) throw new Error("acquire timed out");
  ctx.post("acquired");
  await ctx.message();
  for (let i = 0; i < count; i++) s.release();
  return s.getValue();
}

/** Releases once when main says so (to wake an acquirer in main). */
export async function releaseWhenTold({ sem, bounded }, ctx) {
  const s = bounded ? BoundedSemaphore.fromHandle(sem) : Semaphore.fromHandle(sem);
  ctx.post("ready");
  await ctx.message();
  s.release();
  return "released";
}

/** Over-releases a BoundedSemaphore rebuilt from a handle. */
export function overRelease({ sem }) {
  const s = BoundedSemaphore.fromHandle(sem);
  const before = s.getValue();
  try {
    s.release();
    return { threw: false };
  } catch (error) {
    return { threw: true, valueError: error instanceof ValueError, message: error.message, before, after: s.getValue() };
  }
}
