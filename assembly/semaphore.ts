// Counting semaphore; bounded when max >= 0. The waiters count lets release skip
// the notify system call when nobody sleeps.
import { SPIN_ROUNDS, deadlineFrom, expired, futexWait, now, spinWhileEquals } from "./wait";

export const SEMAPHORE_SIZE: i32 = 16;
const WAITERS: usize = 4;
const MAX: usize = 8;

export const E_OVER_RELEASE: i32 = -1;
const RECHECK_MS: f64 = 100;

export function sem_init(p: i32, value: i32, max: i32): void {
  atomic.store<i32>(<usize>p + MAX, max);
  atomic.store<i32>(<usize>p, value);
}

export function sem_try(p: i32): i32 {
  while (true) {
    const value = atomic.load<i32>(<usize>p);
    if (value <= 0) return 0;
    if (atomic.cmpxchg<i32>(<usize>p, value, value - 1) == value) return 1;
  }
}

export function sem_acquire(p: i32, timeoutMs: f64): i32 {
  if (sem_try(p) == 1) return 1;
  if (timeoutMs == 0) return 0;
  return semSlow(<usize>p, timeoutMs);
}

@inline(never)
function semSlow(p: usize, timeoutMs: f64): i32 {
  for (let round = 0; round < SPIN_ROUNDS; round++) {
    if (sem_try(<i32>p) == 1) return 1;
    if (!spinWhileEquals(p, 0)) break;
  }
  const deadline = deadlineFrom(timeoutMs);
  while (true) {
    if (sem_try(<i32>p) == 1) return 1;
    if (expired(deadline)) return 0;
    atomic.add<i32>(p + WAITERS, 1);
    // release(n) wakes n sleepers; one may be a thread being terminated, whose wake is lost.
    // Re-checking every RECHECK_MS bounds what that can cost a live waiter.
    const recheck = now() + RECHECK_MS;
    futexWait(p, 0, deadline < 0 || recheck < deadline ? recheck : deadline);
    atomic.sub<i32>(p + WAITERS, 1);
  }
}

/** Adds n; E_OVER_RELEASE (and no change) if that would pass a bounded semaphore's maximum. */
export function sem_release(p: i32, n: i32): i32 {
  const max = atomic.load<i32>(<usize>p + MAX);
  while (true) {
    const value = atomic.load<i32>(<usize>p);
    if (max >= 0 && value + n > max) return E_OVER_RELEASE;
    if (atomic.cmpxchg<i32>(<usize>p, value, value + n) == value) break;
  }
  if (atomic.load<i32>(<usize>p + WAITERS) > 0) atomic.notify(<usize>p, n);
  return 1;
}

export function sem_value(p: i32): i32 {
  return atomic.load<i32>(<usize>p);
}

export function sem_max(p: i32): i32 {
  return atomic.load<i32>(<usize>p + MAX);
}

/** Registers an asynchronous waiter; pair with sem_unpark. */
export function sem_park(p: i32): void {
  atomic.add<i32>(<usize>p + WAITERS, 1);
}

export function sem_unpark(p: i32): void {
  atomic.sub<i32>(<usize>p + WAITERS, 1);
}
