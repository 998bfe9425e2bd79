// lock.ts: Lock and RLock over one robust futex word. Owner-died detection goes through the
// thread table: a holder that EXITED, is being reaped, is DEAD, or whose slot moved on is gone
// (its lock is taken over, E_OWNER_DIED once); a TERMINATING holder may still run, so its lock
// is not.
import {
  LOCK_SIZE, WAITERS, OWNER_DIED, ID_MASK, ACQUIRED, TIMED_OUT, E_NOT_LOCKED, E_NOT_OWNER, E_OWNER_DIED,
  lock_try, lock_acquire, lock_acquire_noted, lock_release, lock_owner, lock_locked, lock_park_word, lock_try_contended,
  lock_try_recover, markOwnerDied,
  rlock_acquire, rlock_try, rlock_try_contended, rlock_release, rlock_release_all, rlock_set_depth, rlock_depth,
} from "../../assembly/lock";
import { T_STATE, T_WAIT_KIND, T_WAIT_AT, REAPING, TERMINATING, slotAt, thread_exit, thread_terminate } from "../../assembly/threads";
import { thread_reap } from "../../assembly/reaper";
import { KIND_LOCK, KIND_RLOCK } from "../../assembly/kinds";
import { now } from "../../assembly/wait";
import { alloc, setup, spawn, kill, forget, me, since } from "./support";

function newLock(): i32 {
  return alloc(LOCK_SIZE, KIND_LOCK);
}
function newRLock(): i32 {
  return alloc(LOCK_SIZE, KIND_RLOCK);
}
function word(p: i32): i32 {
  return atomic.load<i32>(<usize>p);
}

// Live thread ids (thread records), set up once per group.
let A: i32 = 0;
let B: i32 = 0;
function threads(): void {
  if (A == 0) {
    setup();
    A = spawn();
    B = spawn();
  }
}
/** A thread that holds nothing yet and may be stopped. */
function newThread(): i32 {
  return spawn();
}

describe("Lock", () => {
  beforeAll(threads);

  test("constants", () => {
    expect(ACQUIRED).toBe(1);
    expect(TIMED_OUT).toBe(0);
    expect(E_NOT_LOCKED).toBe(-21);
    expect(E_NOT_OWNER).toBe(-22);
    expect(E_OWNER_DIED).toBe(-23);
    expect(WAITERS & ID_MASK).toBe(0);
    expect(OWNER_DIED & (ID_MASK | WAITERS)).toBe(0);
    expect(LOCK_SIZE).toBeGreaterThanOrEqual(8);
  });

  test("thread ids are non-zero and fit the 30-bit id field", () => {
    expect(A).toBeGreaterThan(0);
    expect(B).toBeGreaterThan(0);
    expect(A).not.toBe(B);
    expect(A & ~ID_MASK).toBe(0);
    expect(B & ~ID_MASK).toBe(0);
  });

  test("a new lock is free", () => {
    const p = newLock();
    expect(word(p)).toBe(0);
    expect(lock_owner(p)).toBe(0);
  });

  test("lock_try takes a free lock once; it is not re-entrant", () => {
    const p = newLock();
    expect(lock_try(p, A)).toBe(ACQUIRED);
    expect(lock_owner(p)).toBe(A);
    expect(word(p)).toBe(A); // no WAITERS bit on the fast path
    expect(lock_try(p, A)).toBe(TIMED_OUT);
    expect(lock_try(p, B)).toBe(TIMED_OUT);
    expect(lock_owner(p)).toBe(A);
    expect(lock_release(p)).toBe(ACQUIRED);
    expect(lock_try(p, B)).toBe(ACQUIRED);
    expect(lock_owner(p)).toBe(B);
    expect(lock_release(p)).toBe(ACQUIRED);
  });

  test("lock_acquire on a free lock succeeds at once with any timeout", () => {
    const p = newLock();
    expect(lock_acquire(p, A, -1)).toBe(ACQUIRED);
    expect(lock_release(p)).toBe(ACQUIRED);
    expect(lock_acquire(p, A, 0)).toBe(ACQUIRED);
    expect(lock_release(p)).toBe(ACQUIRED);
    expect(lock_acquire(p, A, 5)).toBe(ACQUIRED);
    expect(word(p)).toBe(A);
    expect(lock_release(p)).toBe(ACQUIRED);
  });

  test("lock_acquire with timeout 0 on a held lock returns 0 at once and leaves the word alone", () => {
    const p = newLock();
    expect(lock_try(p, A)).toBe(ACQUIRED);
    const t0 = now();
    expect(lock_acquire(p, B, 0)).toBe(TIMED_OUT);
    expect(lock_acquire(p, A, 0)).toBe(TIMED_OUT);
    expect(lock_try_recover(p, B)).toBe(TIMED_OUT); // the owner is alive: nothing to recover
    expect(since(t0)).toBeLessThan(100.0);
    expect(word(p)).toBe(A);
    expect(lock_release(p)).toBe(ACQUIRED);
  });

  test("lock_acquire with a 5 ms timeout on a held lock returns 0 after at least 5 ms", () => {
    const p = newLock();
    expect(lock_try(p, A)).toBe(ACQUIRED);
    const t0 = now();
    expect(lock_acquire(p, B, 5)).toBe(TIMED_OUT);
    const elapsed = since(t0);
    expect(elapsed).toBeGreaterThanOrEqual(5.0);
    expect(elapsed).toBeLessThan(1000.0);
    // the owner is unchanged; the would-be waiter marked the word so a release would wake it
    expect(lock_owner(p)).toBe(A);
    expect(word(p)).toBe(A | WAITERS);
    expect(lock_release(p)).toBe(ACQUIRED);
    expect(word(p)).toBe(0);
  });

  test("a timed acquire of our own (non-re-entrant) lock also times out", () => {
    const p = newLock();
    expect(lock_acquire(p, A, -1)).toBe(ACQUIRED);
    const t0 = now();
    expect(lock_acquire(p, A, 2)).toBe(TIMED_OUT);
    expect(since(t0)).toBeGreaterThanOrEqual(2.0);
    expect(lock_release(p)).toBe(ACQUIRED);
  });

  test("lock_release: any thread may release; releasing a free lock is E_NOT_LOCKED", () => {
    const p = newLock();
    expect(lock_release(p)).toBe(E_NOT_LOCKED);
    expect(lock_try(p, A)).toBe(ACQUIRED);
    expect(lock_release(p)).toBe(ACQUIRED); // (released "by B": Lock has no owner check)
    expect(lock_release(p)).toBe(E_NOT_LOCKED);
    expect(word(p)).toBe(0);
  });

  test("lock_owner masks the WAITERS bit", () => {
    const p = newLock();
    expect(lock_try_contended(p, B)).toBe(ACQUIRED);
    expect(word(p)).toBe(B | WAITERS);
    expect(lock_owner(p)).toBe(B);
    expect(lock_release(p)).toBe(ACQUIRED);
    expect(word(p)).toBe(0);
    expect(lock_owner(p)).toBe(0);
  });

  test("lock_park_word: 0 when free; otherwise sets WAITERS and returns the word to wait on", () => {
    const p = newLock();
    expect(lock_park_word(p)).toBe(0);
    expect(word(p)).toBe(0); // does not touch a free lock
    expect(lock_try(p, A)).toBe(ACQUIRED);
    expect(lock_park_word(p)).toBe(A | WAITERS);
    expect(word(p)).toBe(A | WAITERS);
    expect(lock_park_word(p)).toBe(A | WAITERS); // idempotent
    // the word it returns is the one a wait would sleep on: it equals the lock word
    expect(atomic.wait<i32>(<usize>p, lock_park_word(p), 1000)).toBe(AtomicWaitResult.TIMED_OUT);
    expect(lock_release(p)).toBe(ACQUIRED);
    expect(lock_park_word(p)).toBe(0);
  });

  test("lock_try_contended: takes a free lock keeping WAITERS set, fails on a held one", () => {
    const p = newLock();
    expect(lock_try_contended(p, A)).toBe(ACQUIRED);
    expect(word(p)).toBe(A | WAITERS);
    expect(lock_try_contended(p, B)).toBe(TIMED_OUT);
    expect(lock_try(p, B)).toBe(TIMED_OUT);
    expect(lock_owner(p)).toBe(A);
    expect(lock_release(p)).toBe(ACQUIRED);
  });

  test("after a timed-out acquire left WAITERS set and the lock was released, the fast path is used again", () => {
    const p = newLock();
    expect(lock_try(p, A)).toBe(ACQUIRED);
    expect(lock_acquire(p, B, 1)).toBe(TIMED_OUT);
    expect(lock_release(p)).toBe(ACQUIRED);
    expect(lock_acquire(p, B, 1)).toBe(ACQUIRED);
    expect(word(p)).toBe(B);
    expect(lock_release(p)).toBe(ACQUIRED);
  });
});

describe("Lock whose owner died", () => {
  beforeAll(threads);

  test("an owner that published its exit: the next acquire recovers the lock (E_OWNER_DIED, now free)", () => {
    const p = newLock();
    const T = newThread();
    expect(lock_acquire(p, T, -1)).toBe(ACQUIRED);
    expect(thread_exit(T, 0)).toBe(1);
    expect(lock_try(p, A)).toBe(TIMED_OUT); // the bare CAS does not recover
    expect(lock_acquire(p, A, 0)).toBe(E_OWNER_DIED);
    expect(word(p)).toBe(0);
    expect(lock_acquire(p, A, 0)).toBe(ACQUIRED); // reported once; then it is an ordinary free lock
    expect(lock_release(p)).toBe(ACQUIRED);
  });

  test("a reaped owner: its lock is recovered by acquire, try_recover and try_contended (once each)", () => {
    const T = newThread();
    const p1 = newLock();
    const p2 = newLock();
    const p3 = newLock();
    expect(lock_acquire(p1, T, -1)).toBe(ACQUIRED);
    expect(lock_acquire(p2, T, -1)).toBe(ACQUIRED);
    expect(lock_acquire(p3, T, -1)).toBe(ACQUIRED);
    kill(T);
    expect(lock_owner(p1)).toBe(T);
    expect(lock_park_word(p1)).toBe(0); // nothing to wait for
    expect(word(p1)).toBe(T); // and it did not mark WAITERS
    expect(lock_acquire(p1, A, 5)).toBe(E_OWNER_DIED);
    expect(lock_try_recover(p2, A)).toBe(E_OWNER_DIED);
    expect(lock_try_contended(p3, A)).toBe(E_OWNER_DIED);
    expect(word(p1)).toBe(0);
    expect(word(p2)).toBe(0);
    expect(word(p3)).toBe(0);
    forget(T);
  });

  test("a lock the reaper marked OWNER_DIED (someone was parked on it) is recovered the same way", () => {
    const T = newThread();
    const W = newThread();
    const p = newLock();
    expect(lock_try(p, T)).toBe(ACQUIRED);
    expect(lock_park_word(p)).toBe(T | WAITERS);
    atomic.store<i32>(slotAt(W) + T_WAIT_AT, p);
    atomic.store<i32>(slotAt(W) + T_WAIT_KIND, KIND_LOCK);
    expect(kill(T)).toBe(1);
    expect(word(p)).toBe(T | WAITERS | OWNER_DIED);
    expect(lock_owner(p)).toBe(T);
    expect(lock_park_word(p)).toBe(0);
    expect(lock_acquire(p, W, 0)).toBe(E_OWNER_DIED);
    expect(word(p)).toBe(0);
    kill(W);
    forget(T);
    forget(W);
  });

  test("markOwnerDied: only a lock whose holder is gone, and only once", () => {
    const T = newThread();
    const p = newLock();
    expect(markOwnerDied(<usize>p)).toBe(0); // free
    expect(lock_try(p, T)).toBe(ACQUIRED);
    expect(markOwnerDied(<usize>p)).toBe(0); // alive
    thread_terminate(T, -15);
    expect(markOwnerDied(<usize>p)).toBe(0); // TERMINATING: may still run
    thread_reap(T, -15, me());
    expect(markOwnerDied(<usize>p)).toBe(1);
    expect(word(p)).toBe(T | OWNER_DIED);
    expect(markOwnerDied(<usize>p)).toBe(0);
    expect(lock_acquire(p, A, 0)).toBe(E_OWNER_DIED);
    forget(T);
  });

  test("a TERMINATING owner is not recovered: acquire times out, try_contended fails, park_word waits", () => {
    const T = newThread();
    const p = newLock();
    expect(lock_try(p, T)).toBe(ACQUIRED);
    expect(thread_terminate(T, -15)).toBe(1);
    const t0 = now();
    expect(lock_acquire(p, A, 3)).toBe(TIMED_OUT);
    expect(since(t0)).toBeGreaterThanOrEqual(3.0);
    expect(lock_try_recover(p, A)).toBe(TIMED_OUT);
    expect(lock_try_contended(p, A)).toBe(TIMED_OUT);
    expect(lock_park_word(p)).toBe(T | WAITERS);
    expect(lock_owner(p)).toBe(T);
    // once it is being reaped (it has stopped), it is gone
    atomic.store<i32>(slotAt(T) + T_STATE, REAPING);
    expect(lock_try_contended(p, A)).toBe(E_OWNER_DIED);
    atomic.store<i32>(slotAt(T) + T_STATE, TERMINATING);
    expect(word(p)).toBe(0); // recovered: free
    thread_reap(T, -15, me());
    forget(T);
  });

  test("lock_try_contended never reports E_OWNER_DIED for a free lock", () => {
    const p = newLock();
    for (let i = 0; i < 3; i++) {
      expect(lock_try_contended(p, A)).toBe(ACQUIRED);
      expect(lock_release(p)).toBe(ACQUIRED);
    }
    expect(lock_try_contended(p, B)).toBe(ACQUIRED);
    expect(lock_try_contended(p, A)).toBe(TIMED_OUT); // held by a live thread
    expect(lock_release(p)).toBe(ACQUIRED);
  });

  test("an id whose slot moved on, or that never named a thread, counts as dead", () => {
    const p = newLock();
    const T = newThread();
    kill(T);
    forget(T);
    const U = newThread(); // probably T's slot, under a new id
    expect(lock_try(p, T)).toBe(ACQUIRED);
    expect(lock_park_word(p)).toBe(0);
    expect(lock_acquire(p, U, 0)).toBe(E_OWNER_DIED);
    expect(word(p)).toBe(0);
    expect(lock_try(p, 1024 + 5)).toBe(ACQUIRED); // slot 0 is never a thread
    expect(lock_acquire(p, U, 0)).toBe(E_OWNER_DIED);
    kill(U);
    forget(U);
  });

  test("lock_acquire_noted notes a blocking wait in the slot and clears it; an immediate one notes nothing", () => {
    const p = newLock();
    expect(lock_acquire_noted(p, A, 0, KIND_LOCK)).toBe(ACQUIRED);
    expect(atomic.load<i32>(slotAt(A) + T_WAIT_KIND)).toBe(0);
    expect(lock_acquire_noted(p, B, 2, KIND_LOCK)).toBe(TIMED_OUT);
    expect(atomic.load<i32>(slotAt(B) + T_WAIT_KIND)).toBe(0);
    expect(atomic.load<i32>(slotAt(B) + T_WAIT_AT)).toBe(p); // what it last slept in
    expect(lock_locked(p)).toBe(1);
    expect(lock_release(p)).toBe(ACQUIRED);
    expect(lock_locked(p)).toBe(0);
  });
});

describe("RLock", () => {
  beforeAll(threads);

  test("re-entry increases the depth; each release decreases it; the last frees the lock", () => {
    const p = newRLock();
    expect(rlock_acquire(p, A, -1)).toBe(ACQUIRED);
    expect(rlock_depth(p)).toBe(1);
    expect(lock_owner(p)).toBe(A);
    expect(rlock_acquire(p, A, 0)).toBe(ACQUIRED);
    expect(rlock_acquire(p, A, 5)).toBe(ACQUIRED);
    expect(rlock_depth(p)).toBe(3);
    expect(rlock_release(p, A)).toBe(ACQUIRED);
    expect(rlock_depth(p)).toBe(2);
    expect(lock_owner(p)).toBe(A);
    expect(rlock_release(p, A)).toBe(ACQUIRED);
    expect(rlock_release(p, A)).toBe(ACQUIRED);
    expect(rlock_depth(p)).toBe(0);
    expect(word(p)).toBe(0);
    expect(rlock_release(p, A)).toBe(E_NOT_LOCKED);
  });

  test("another id cannot take or release it", () => {
    const p = newRLock();
    expect(rlock_acquire(p, A, -1)).toBe(ACQUIRED);
    expect(rlock_acquire(p, A, -1)).toBe(ACQUIRED);
    expect(rlock_acquire(p, B, 0)).toBe(TIMED_OUT);
    expect(rlock_try(p, B)).toBe(TIMED_OUT);
    expect(rlock_release(p, B)).toBe(E_NOT_OWNER);
    expect(rlock_release_all(p, B)).toBe(E_NOT_OWNER);
    expect(rlock_depth(p)).toBe(2);
    expect(lock_owner(p)).toBe(A);
    expect(rlock_release_all(p, A)).toBe(2);
  });

  test("a timed acquire by another id returns 0 after the timeout and leaves the depth alone", () => {
    const p = newRLock();
    expect(rlock_acquire(p, A, -1)).toBe(ACQUIRED);
    expect(rlock_acquire(p, A, -1)).toBe(ACQUIRED);
    const t0 = now();
    expect(rlock_acquire(p, B, 5)).toBe(TIMED_OUT);
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    expect(rlock_depth(p)).toBe(2);
    expect(lock_owner(p)).toBe(A);
    // the owner can still re-enter with WAITERS set in the word
    expect(word(p)).toBe(A | WAITERS);
    expect(rlock_acquire(p, A, 0)).toBe(ACQUIRED);
    expect(rlock_depth(p)).toBe(3);
    expect(rlock_release_all(p, A)).toBe(3);
    expect(word(p)).toBe(0);
  });

  test("rlock_release_all returns the depth, frees the lock and zeroes the depth", () => {
    const p = newRLock();
    for (let i = 0; i < 5; i++) expect(rlock_acquire(p, A, -1)).toBe(ACQUIRED);
    expect(rlock_release_all(p, A)).toBe(5);
    expect(word(p)).toBe(0);
    expect(rlock_depth(p)).toBe(0);
    expect(rlock_release_all(p, A)).toBe(E_NOT_LOCKED);
    // another id can take it now
    expect(rlock_acquire(p, B, 0)).toBe(ACQUIRED);
    expect(rlock_depth(p)).toBe(1);
    expect(rlock_release(p, B)).toBe(ACQUIRED);
  });

  test("rlock_set_depth restores a depth after re-acquiring (what Condition.wait does)", () => {
    const p = newRLock();
    expect(rlock_acquire(p, A, -1)).toBe(ACQUIRED);
    expect(rlock_acquire(p, A, -1)).toBe(ACQUIRED);
    expect(rlock_acquire(p, A, -1)).toBe(ACQUIRED);
    const depth = rlock_release_all(p, A);
    expect(depth).toBe(3);
    expect(lock_acquire(p, A, -1)).toBe(ACQUIRED);
    rlock_set_depth(p, depth);
    expect(rlock_depth(p)).toBe(3);
    expect(rlock_release(p, A)).toBe(ACQUIRED);
    expect(rlock_release(p, A)).toBe(ACQUIRED);
    expect(lock_owner(p)).toBe(A);
    expect(rlock_release(p, A)).toBe(ACQUIRED);
    expect(word(p)).toBe(0);
  });

  test("rlock_try re-enters or tries once", () => {
    const p = newRLock();
    expect(rlock_try(p, A)).toBe(ACQUIRED);
    expect(rlock_try(p, A)).toBe(ACQUIRED);
    expect(rlock_depth(p)).toBe(2);
    expect(rlock_try(p, B)).toBe(TIMED_OUT);
    expect(rlock_release_all(p, A)).toBe(2);
  });

  test("rlock_try_contended takes a free lock with WAITERS set and depth 1", () => {
    const p = newRLock();
    expect(rlock_try_contended(p, A)).toBe(ACQUIRED);
    expect(word(p)).toBe(A | WAITERS);
    expect(rlock_depth(p)).toBe(1);
    expect(rlock_try_contended(p, B)).toBe(TIMED_OUT);
    expect(rlock_try_contended(p, A)).toBe(TIMED_OUT); // not a re-entry path
    expect(rlock_depth(p)).toBe(1);
    // a later re-entry works with the WAITERS bit set
    expect(rlock_acquire(p, A, 0)).toBe(ACQUIRED);
    expect(rlock_depth(p)).toBe(2);
    expect(rlock_release(p, A)).toBe(ACQUIRED);
    expect(rlock_release(p, A)).toBe(ACQUIRED);
    expect(word(p)).toBe(0);
  });

  test("an RLock whose owner died: recovered with depth 0, then taken afresh at depth 1", () => {
    const p = newRLock();
    const T = newThread();
    expect(rlock_acquire(p, T, -1)).toBe(ACQUIRED);
    expect(rlock_acquire(p, T, -1)).toBe(ACQUIRED);
    expect(thread_exit(T, 1)).toBe(1);
    expect(rlock_acquire(p, A, 0)).toBe(E_OWNER_DIED);
    expect(rlock_depth(p)).toBe(0);
    expect(word(p)).toBe(0);
    expect(rlock_acquire(p, A, 0)).toBe(ACQUIRED);
    expect(rlock_depth(p)).toBe(1);
    expect(rlock_release(p, A)).toBe(ACQUIRED);

    const q = newRLock();
    expect(rlock_acquire(q, T, 0)).toBe(ACQUIRED); // the fast-path CAS does not check liveness
    expect(rlock_try_contended(q, B)).toBe(E_OWNER_DIED);
    expect(rlock_depth(q)).toBe(0);
    expect(word(q)).toBe(0);
  });

  test("a new thread in a dead thread's slot does not inherit the dead thread's RLock", () => {
    const p = newRLock();
    const T = newThread();
    const slot = slotAt(T);
    expect(rlock_acquire(p, T, -1)).toBe(ACQUIRED);
    kill(T);
    forget(T);
    const T2 = newThread(); // the lowest free slot: T's, under the next generation
    expect(slotAt(T2)).toBe(slot);
    expect(T2).not.toBe(T);
    expect(rlock_acquire(p, T2, 0)).toBe(E_OWNER_DIED);
    expect(rlock_depth(p)).toBe(0);
    expect(rlock_acquire(p, T2, 0)).toBe(ACQUIRED);
    expect(rlock_depth(p)).toBe(1);
    expect(rlock_release(p, T2)).toBe(ACQUIRED);
    kill(T2);
    forget(T2);
  });
});
