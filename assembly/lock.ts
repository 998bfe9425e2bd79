// Lock and RLock: the layout of a robust futex. Uncontended acquire and release are one CAS
// / one XCHG, and the owner is always known (RLock ownership, owner-died detection).
//
// Block payload (16 bytes):
//   +0 i32 word    the lock word, below
//   +4 i32 depth   RLock: recursion depth, touched only by the owner
//
// The lock word:
//   0                          free, nobody waits
//   id                         held by thread `id` (30 bits, threads.ts), nobody parked
//   id | WAITERS               held, and someone may be parked: release must wake one
//   id | OWNER_DIED [| WAITERS] held by a thread that is gone (set by the reaper, which
//                              wakes the sleepers): the next acquirer frees it and is told
//                              once (E_OWNER_DIED)
// A holder is "gone" once threads.ts says its id is not alive — never while it is
// TERMINATING (it may still be running), so a lock is handed on only after its holder has
// stopped. Acquirers also check that themselves, every OWNER_CHECK_MS while parked.
import { SPIN_ROUNDS, deadlineFrom, expired, futexWait, now, spinWhileEquals, LIVENESS_CHECK_MS } from "./wait";
import { blockIn, fence, isAlive, unblock } from "./threads";
import { KIND_LOCK, KIND_RLOCK } from "./kinds";

export const LOCK_SIZE: i32 = 16;
export const WAITERS: i32 = 0x40000000;
export const OWNER_DIED: i32 = 1 << 31;
export const ID_MASK: i32 = 0x3fffffff;

export const ACQUIRED: i32 = 1;
export const TIMED_OUT: i32 = 0;
export const E_NOT_LOCKED: i32 = -21;
export const E_NOT_OWNER: i32 = -22;
/** The owner died holding the lock: this caller recovered it (now free) and must report it once. */
export const E_OWNER_DIED: i32 = -23;

const RLOCK_DEPTH: usize = 4;

export function lock_try(p: i32, id: i32): i32 {
  return atomic.cmpxchg<i32>(<usize>p, 0, id) == 0 ? ACQUIRED : TIMED_OUT;
}

/** Acquires within timeoutMs (negative = forever, 0 = try once): ACQUIRED, TIMED_OUT or E_OWNER_DIED. */
export function lock_acquire(p: i32, id: i32, timeoutMs: f64): i32 {
  if (atomic.cmpxchg<i32>(<usize>p, 0, id) == 0) return ACQUIRED;
  return lockSlow(<usize>p, id, timeoutMs);
}

/** lock_acquire as the host calls it: the wait is noted in the thread's slot (dumps, the reaper). */
export function lock_acquire_noted(p: i32, id: i32, timeoutMs: f64, kind: i32): i32 {
  if (atomic.cmpxchg<i32>(<usize>p, 0, id) == 0) return ACQUIRED;
  if (timeoutMs != 0) blockIn(id, kind, p, 0);
  const result = lockSlow(<usize>p, id, timeoutMs);
  unblock(id);
  return result;
}

/** The word names a holder that is gone (or says so): it may be taken over. 0 is free, not gone. */
@inline function holderGone(word: i32): bool {
  return word != 0 && ((word & OWNER_DIED) != 0 || !isAlive(word & ID_MASK));
}

/** If the word names a gone holder, frees the lock; true when this caller did it. */
function recoverFromDeadOwner(p: usize, word: i32): bool {
  if (!holderGone(word)) return false;
  if (atomic.cmpxchg<i32>(p, word, 0) != word) return false;
  atomic.notify(p, -1); // sleepers re-contend and re-mark WAITERS
  return true;
}

@inline(never)
function lockSlow(p: usize, id: i32, timeoutMs: f64): i32 {
  if (timeoutMs != 0) {
    for (let round = 0; round < SPIN_ROUNDS; round++) {
      const word = atomic.load<i32>(p);
      if (word == 0) {
        if (atomic.cmpxchg<i32>(p, 0, id) == 0) return ACQUIRED;
        continue;
      }
      if ((word & WAITERS) != 0 || !spinWhileEquals(p, word)) break; // others already sleep, or it stays held
    }
  }
  const deadline = deadlineFrom(timeoutMs);
  while (true) {
    let word = atomic.load<i32>(p);
    if (word == 0) {
      // Others may be parked: keep the WAITERS bit so our release wakes one of them.
      if (atomic.cmpxchg<i32>(p, 0, id | WAITERS) == 0) return ACQUIRED;
      continue;
    }
    if (recoverFromDeadOwner(p, word)) return E_OWNER_DIED;
    if (timeoutMs == 0 || expired(deadline)) return TIMED_OUT;
    if ((word & WAITERS) == 0) {
      if (atomic.cmpxchg<i32>(p, word, word | WAITERS) != word) continue;
      word |= WAITERS;
    }
    const check = now() + LIVENESS_CHECK_MS;
    futexWait(p, word, deadline < 0 || check < deadline ? check : deadline);
    fence(id);
  }
}

/** Any thread may release a Lock (as in Python). E_NOT_LOCKED if it was not held. */
export function lock_release(p: i32): i32 {
  const word = atomic.xchg<i32>(<usize>p, 0);
  if (word == 0) return E_NOT_LOCKED;
  if ((word & WAITERS) != 0) atomic.notify(<usize>p, 1);
  return ACQUIRED;
}

/** Non-blocking acquire that still recovers a lock whose owner died (E_OWNER_DIED). */
export function lock_try_recover(p: i32, id: i32): i32 {
  return lock_acquire(p, id, 0);
}

/** Owner's id, or 0 when unlocked. */
export function lock_owner(p: i32): i32 {
  return atomic.load<i32>(<usize>p) & ID_MASK;
}

/** Prepares an asynchronous wait: marks WAITERS and returns the word to wait on, or 0 if it need not wait (free, or its holder is gone). */
export function lock_park_word(p: i32): i32 {
  while (true) {
    const word = atomic.load<i32>(<usize>p);
    if (word == 0 || holderGone(word)) return 0;
    if ((word & WAITERS) != 0) return word;
    if (atomic.cmpxchg<i32>(<usize>p, word, word | WAITERS) == word) return word | WAITERS;
  }
}

/** After an asynchronous wait: take the lock keeping WAITERS set (others may still be parked). */
export function lock_try_contended(p: i32, id: i32): i32 {
  while (true) {
    if (atomic.cmpxchg<i32>(<usize>p, 0, id | WAITERS) == 0) return ACQUIRED;
    const word = atomic.load<i32>(<usize>p);
    if (word == 0) continue; // freed between the two loads: try again, it is not a dead owner
    return recoverFromDeadOwner(<usize>p, word) ? E_OWNER_DIED : TIMED_OUT;
  }
}

/**
 * Marks a lock held by a gone thread OWNER_DIED and wakes its sleepers, so they recover it
 * now instead of at their next liveness check (the reaper calls this for locks that
 * threads are parked on). 1 if it did.
 */
export function markOwnerDied(p: usize): i32 {
  const word = atomic.load<i32>(p);
  if (word == 0 || (word & OWNER_DIED) != 0 || isAlive(word & ID_MASK)) return 0;
  if (atomic.cmpxchg<i32>(p, word, word | OWNER_DIED) != word) return 0;
  atomic.notify(p, -1);
  return 1;
}

// ---- RLock: the same word plus a recursion depth that only the owner touches.

export function rlock_acquire(p: i32, id: i32, timeoutMs: f64): i32 {
  // Compare with the owner-died bit: an id never names two threads, but a dead owner's word must not re-enter.
  if ((atomic.load<i32>(<usize>p) & ~WAITERS) == id) {
    atomic.store<i32>(<usize>p + RLOCK_DEPTH, atomic.load<i32>(<usize>p + RLOCK_DEPTH) + 1);
    return ACQUIRED;
  }
  const result = timeoutMs == 0 ? lock_acquire(p, id, 0) : lock_acquire_noted(p, id, timeoutMs, KIND_RLOCK);
  if (result == ACQUIRED) atomic.store<i32>(<usize>p + RLOCK_DEPTH, 1);
  else if (result == E_OWNER_DIED) atomic.store<i32>(<usize>p + RLOCK_DEPTH, 0);
  return result;
}

/** Re-enters if already owned; otherwise tries once. Used by the asynchronous path. */
export function rlock_try(p: i32, id: i32): i32 {
  return rlock_acquire(p, id, 0);
}

export function rlock_try_contended(p: i32, id: i32): i32 {
  const result = lock_try_contended(p, id);
  if (result == ACQUIRED) atomic.store<i32>(<usize>p + RLOCK_DEPTH, 1);
  else if (result == E_OWNER_DIED) atomic.store<i32>(<usize>p + RLOCK_DEPTH, 0);
  return result;
}

export function rlock_release(p: i32, id: i32): i32 {
  const word = atomic.load<i32>(<usize>p);
  if (word == 0) return E_NOT_LOCKED;
  if ((word & ~WAITERS) != id) return E_NOT_OWNER;
  const depth = atomic.load<i32>(<usize>p + RLOCK_DEPTH) - 1;
  atomic.store<i32>(<usize>p + RLOCK_DEPTH, depth);
  if (depth > 0) return ACQUIRED;
  return lock_release(p);
}

/** Releases every level at once (Condition.wait); returns the depth to restore, or an error code. */
export function rlock_release_all(p: i32, id: i32): i32 {
  const word = atomic.load<i32>(<usize>p);
  if (word == 0) return E_NOT_LOCKED;
  if ((word & ~WAITERS) != id) return E_NOT_OWNER;
  const depth = atomic.load<i32>(<usize>p + RLOCK_DEPTH);
  atomic.store<i32>(<usize>p + RLOCK_DEPTH, 0);
  lock_release(p);
  return depth;
}

export function rlock_set_depth(p: i32, depth: i32): void {
  atomic.store<i32>(<usize>p + RLOCK_DEPTH, depth);
}

export function rlock_depth(p: i32): i32 {
  return atomic.load<i32>(<usize>p + RLOCK_DEPTH);
}

/** True while some thread holds the lock (Lock.locked(), RLock.locked()). */
export function lock_locked(p: i32): i32 {
  return atomic.load<i32>(<usize>p) != 0 ? 1 : 0;
}

export { KIND_LOCK };
