// Condition variable over a Lock or RLock block. Waiters register under the user's lock;
// notify(n) hands out at most n tokens and bumps `seq` (the futex word). A woken waiter
// re-takes the lock and consumes a token: exactly min(n, waiting) waiters return true,
// however the wakes interleave, as Python promises. Only a notify made after a waiter
// entered (seq moved past its enterSeq) can be its wake-up, so a waiter that arrives late
// never takes a token meant for one that was already waiting.
//
// Block payload (16 bytes):
//   +0 i32 seq       bumped by every notify that signals someone; waiters sleep on it
//   +4 i32 waiters   registered waiters (each also noted in its thread's slot, so the
//                    reaper can take back the registration of a waiter that died)
//   +8 i32 tokens    notifications not yet taken; tokens ≤ waiters
import { FOREVER, deadlineFrom, futexWait, spinWhileEquals } from "./wait";
import { WAITERS as LOCK_WAITERS, E_NOT_OWNER, ACQUIRED, lock_acquire, lock_release, rlock_release_all, rlock_set_depth } from "./lock";
import { T_LAST_BLOCK, blockIn, fence, slotOf, unblock, waitAlloc, waitFree, waitLink, waitLinkTo, waitUnlink } from "./threads";
import { KIND_CONDITION } from "./kinds";

export const CONDITION_SIZE: i32 = 16;
const WAITERS: usize = 4;
const TOKENS: usize = 8;

export const RETRY: i32 = -51;
export const E_COND_NO_MEMORY: i32 = -52;

export function cond_owns(lockP: i32, id: i32): i32 {
  return (atomic.load<i32>(<usize>lockP) & ~LOCK_WAITERS) == id ? 1 : 0;
}

/** Registers a blocking waiter (caller holds the lock); returns the sequence number to sleep on. */
export function cond_enter(c: i32, id: i32): i32 {
  // atomic w.r.t. termination: the slot's note and the count go together
  blockIn(id, KIND_CONDITION, c, 0);
  atomic.add<i32>(<usize>c + WAITERS, 1);
  return atomic.load<i32>(<usize>c);
}

export function cond_seq(c: i32): i32 {
  return atomic.load<i32>(<usize>c);
}

/** Takes a token if one is ours. Straight-line. */
@inline function takeToken(c: usize, enterSeq: i32): bool {
  return atomic.load<i32>(c) != enterSeq && atomic.load<i32>(c + TOKENS) > 0;
}

/** After re-taking the lock: 1 notified, 0 timed out, RETRY to sleep again. */
export function cond_leave(c: i32, timedOut: i32, id: i32, enterSeq: i32): i32 {
  // atomic w.r.t. termination (each branch)
  if (takeToken(<usize>c, enterSeq)) {
    unblock(id);
    atomic.sub<i32>(<usize>c + TOKENS, 1);
    atomic.sub<i32>(<usize>c + WAITERS, 1);
    return 1;
  }
  if (timedOut != 0) {
    unblock(id);
    atomic.sub<i32>(<usize>c + WAITERS, 1);
    return 0;
  }
  return RETRY;
}

/**
 * Registers an asynchronous waiter (caller holds the lock): the registration's address
 * (pass it to cond_leave_async), or E_COND_NO_MEMORY. Read cond_seq() right after, still
 * holding the lock, for the sequence number to sleep on.
 */
export function cond_enter_async(c: i32, id: i32): i32 {
  const slot = slotOf(id);
  if (slot == 0) return E_COND_NO_MEMORY;
  const reg = waitAlloc(slot, KIND_CONDITION, c, 0);
  if (reg == 0) return E_COND_NO_MEMORY;
  // atomic w.r.t. termination
  waitLink(slot, reg);
  atomic.add<i32>(<usize>c + WAITERS, 1);
  atomic.store<i32>(slot + T_LAST_BLOCK, <i32>reg);
  return <i32>reg;
}

/** cond_leave for an asynchronous waiter: also ends its registration when it leaves. */
export function cond_leave_async(c: i32, timedOut: i32, id: i32, enterSeq: i32, reg: i32): i32 {
  const slot = slotOf(id);
  const link = slot == 0 ? 0 : waitLinkTo(slot, <usize>reg);
  if (link == 0) return E_COND_NO_MEMORY; // not registered: nothing to leave
  let result = RETRY;
  // atomic w.r.t. termination (each branch)
  if (takeToken(<usize>c, enterSeq)) {
    atomic.sub<i32>(<usize>c + TOKENS, 1);
    atomic.sub<i32>(<usize>c + WAITERS, 1);
    waitUnlink(slot, link, <usize>reg);
    result = 1;
  } else if (timedOut != 0) {
    atomic.sub<i32>(<usize>c + WAITERS, 1);
    waitUnlink(slot, link, <usize>reg);
    result = 0;
  }
  if (result != RETRY) waitFree(slot, <usize>reg);
  return result;
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
    fence(id);
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

/**
 * A waiter died (the reaper): forget its registration, and take back a token it may have
 * been granted. A thread being terminated can sit in the futex queue for a while after its
 * interrupt, and a notify(n) that reached it would be lost to the live waiters: wake every
 * sleeper, so the dying one is no longer counted; live ones find no token (the sequence did
 * not change) and sleep again.
 */
export function condForgetWaiter(c: usize): void {
  atomic.sub<i32>(c + WAITERS, 1);
  while (true) {
    const tokens = atomic.load<i32>(c + TOKENS);
    const waiters = atomic.load<i32>(c + WAITERS);
    if (tokens <= waiters) break;
    if (atomic.cmpxchg<i32>(c + TOKENS, tokens, waiters) == tokens) break;
  }
  atomic.notify(c, -1);
}
