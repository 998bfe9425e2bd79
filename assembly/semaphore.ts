// Counting semaphore; bounded when max >= 0.
//
// Block payload (16 bytes):
//   +0 i32 value     the count; acquirers sleep on it while it is 0
//   +4 i32 waiters   sleepers (release skips the notify system call when 0)
//   +8 i32 max       BoundedSemaphore: the initial value, never exceeded; -1 unbounded
import { SPIN_ROUNDS, deadlineFrom, expired, futexWait, now, spinWhileEquals, LIVENESS_CHECK_MS } from "./wait";
import { blockIn, fence, unblock } from "./threads";
import { KIND_SEMAPHORE } from "./kinds";

export const SEMAPHORE_SIZE: i32 = 16;
const WAITERS: usize = 4;
const MAX: usize = 8;
/** The largest value a semaphore holds (the host's counts stop there too). */
export const SEM_VALUE_MAX: i32 = 0x3fffffff;

export const E_OVER_RELEASE: i32 = -31;
/** release(n) would take an unbounded semaphore past SEM_VALUE_MAX. */
export const E_SEM_OVERFLOW: i32 = -32;

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

export function sem_acquire(p: i32, timeoutMs: f64, id: i32): i32 {
  if (sem_try(p) == 1) return 1;
  if (timeoutMs == 0) return 0;
  blockIn(id, KIND_SEMAPHORE, p, 0);
  const result = semSlow(<usize>p, timeoutMs, id);
  unblock(id);
  return result;
}

@inline(never)
function semSlow(p: usize, timeoutMs: f64, id: i32): i32 {
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
    const recheck = now() + LIVENESS_CHECK_MS;
    futexWait(p, 0, deadline < 0 || recheck < deadline ? recheck : deadline);
    atomic.sub<i32>(p + WAITERS, 1);
    fence(id);
  }
}

/**
 * Adds n: 1, or (and no change) E_OVER_RELEASE past a bounded semaphore's maximum,
 * E_SEM_OVERFLOW past SEM_VALUE_MAX.
 */
export function sem_release(p: i32, n: i32): i32 {
  if (n <= 0 || n > SEM_VALUE_MAX) return E_SEM_OVERFLOW;
  const max = atomic.load<i32>(<usize>p + MAX);
  while (true) {
    const value = atomic.load<i32>(<usize>p);
    if (max >= 0 && value > max - n) return E_OVER_RELEASE;
    if (value > SEM_VALUE_MAX - n) return E_SEM_OVERFLOW;
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

/** A waiter died: the wake a release meant for it may be lost with it, so pass one on. */
export function semPassWake(p: usize): void {
  if (atomic.load<i32>(p) > 0 && atomic.load<i32>(p + WAITERS) > 0) atomic.notify(p, 1);
}
