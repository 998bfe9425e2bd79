// Condition variable over a Lock or RLock block. Waiters register under the user's lock;
// notify(n) hands out at most n tokens and bumps `seq` (the futex word). A woken waiter
// re-takes the lock and consumes a token: exactly min(n, waiting) waiters return true,
// however the wakes interleave, as Python promises.
import { FOREVER, deadlineFrom, futexWait, spinWhileEquals } from "./wait";
import { WAITERS as LOCK_WAITERS, E_NOT_OWNER, ACQUIRED, lock_acquire, lock_release, rlock_release_all, rlock_set_depth } from "./lock";
import { KIND_CONDITION, thread_block, thread_unblock } from "./thread";

export const CONDITION_SIZE: i32 = 16;
const WAITERS: usize = 4;
const TOKENS: usize = 8;

export const RETRY: i32 = -3;

export function cond_owns(lockP: i32, id: i32): i32 {
  return (atomic.load<i32>(<usize>lockP) & ~LOCK_WAITERS) == id ? 1 : 0;
}

/**
 * Registers a waiter (caller holds the lock); returns the sequence number to sleep on.
 * The thread record notes it, so a waiter that dies is forgotten (thread_reap).
 */
export function cond_enter(c: i32, id: i32): i32 {
  thread_block(id, KIND_CONDITION, c, 0);
  atomic.add<i32>(<usize>c + WAITERS, 1);
  return atomic.load<i32>(<usize>c);
}

export function cond_seq(c: i32): i32 {
  return atomic.load<i32>(<usize>c);
}

/**
 * After re-taking the lock: 1 notified, 0 timed out, RETRY to sleep again. Only a notify made
 * after this waiter entered (seq moved past enterSeq) can be its wake-up, so a waiter that
 * arrives late never takes a token meant for one that was already waiting.
 */
export function cond_leave(c: i32, timedOut: i32, id: i32, enterSeq: i32): i32 {
  if (atomic.load<i32>(<usize>c) != enterSeq && atomic.load<i32>(<usize>c + TOKENS) > 0) {
    thread_unblock(id);
    atomic.sub<i32>(<usize>c + TOKENS, 1);
    atomic.sub<i32>(<usize>c + WAITERS, 1);
    return 1;
  }
  if (timedOut != 0) {
    thread_unblock(id);
    atomic.sub<i32>(<usize>c + WAITERS, 1);
    return 0;
  }
  return RETRY;
}

/** Blocking wait. The caller must own the lock; it owns it again on return. */
export function cond_wait(c: i32, lockP: i32, isRLock: i32, id: i32, timeoutMs: f64): i32 {
  if (cond_owns(lockP, id) == 0) return E_NOT_OWNER;
  const enterSeq = cond_enter(c, id);
  let seq = enterSeq;
  const deadline = deadlineFrom(timeoutMs);
  while (true) {
    let depth = 1;
    if (isRLock != 0) depth = rlock_release_all(lockP, id);
    else lock_release(lockP);
    let inTime = true;
    if (!spinWhileEquals(<usize>c, seq)) inTime = futexWait(<usize>c, seq, deadline);
    // Re-taking the lock cannot time out; a dead former owner only means it is free now.
    while (lock_acquire(lockP, id, FOREVER) != ACQUIRED) {}
    if (isRLock != 0) rlock_set_depth(lockP, depth);
    const result = cond_leave(c, inTime ? 0 : 1, id, enterSeq);
    if (result != RETRY) return result;
    seq = atomic.load<i32>(<usize>c);
  }
}

/** Wakes up to n waiters (n < 0: all); the caller holds the lock. Returns how many were signalled. */
export function cond_notify(c: i32, n: i32): i32 {
  if (n == 0) return 0;
  const available = atomic.load<i32>(<usize>c + WAITERS) - atomic.load<i32>(<usize>c + TOKENS);
  if (available <= 0) return 0;
  const k = n < 0 || n > available ? available : n;
  atomic.add<i32>(<usize>c + TOKENS, k);
  atomic.add<i32>(<usize>c, 1);
  atomic.notify(<usize>c, k);
  return k;
}

export function cond_waiters(c: i32): i32 {
  return atomic.load<i32>(<usize>c + WAITERS) - atomic.load<i32>(<usize>c + TOKENS);
}
