// condition.ts: Condition over a Lock or RLock — tokens, sequence numbers, timeouts, the
// asynchronous registration, and forgetting a waiter that died.
import {
  CONDITION_SIZE, RETRY, E_COND_NO_MEMORY,
  cond_owns, cond_enter, cond_seq, cond_leave, cond_wait, cond_notify, cond_waiters, cond_enter_async, cond_leave_async,
  condForgetWaiter,
} from "../../assembly/condition";
import {
  LOCK_SIZE, ACQUIRED, E_NOT_OWNER,
  lock_acquire, lock_release, lock_owner, rlock_acquire, rlock_release, rlock_depth,
} from "../../assembly/lock";
import { T_WAIT_KIND, T_WAITS, T_LAST_BLOCK, slotAt } from "../../assembly/threads";
import { blockAt, OK, E_STALE } from "../../assembly/arena";
import { KIND_CONDITION, KIND_LOCK, KIND_RLOCK } from "../../assembly/kinds";
import { now } from "../../assembly/wait";
import { Figures, expectFigures, alloc, setup, spawn, kill, forget, since } from "./support";

// Each waiter's sequence at cond_enter, which cond_leave needs to tell its notifies from older ones.
const enterSeqs = new Map<i32, i32>();
function enter(c: i32, id: i32): i32 {
  const seq = cond_enter(c, id);
  enterSeqs.set(id, seq);
  return seq;
}
function leave(c: i32, timedOut: i32, id: i32): i32 {
  return cond_leave(c, timedOut, id, enterSeqs.has(id) ? enterSeqs.get(id) : -1);
}

const WAITERS: usize = 4; // condition offsets
const TOKENS: usize = 8;

function newCond(): i32 {
  return alloc(CONDITION_SIZE, KIND_CONDITION);
}
function newLock(): i32 {
  return alloc(LOCK_SIZE, KIND_LOCK);
}
function newRLock(): i32 {
  return alloc(LOCK_SIZE, KIND_RLOCK);
}
function tokens(c: i32): i32 {
  return atomic.load<i32>(<usize>c + TOKENS);
}
function registered(c: i32): i32 {
  return atomic.load<i32>(<usize>c + WAITERS);
}
function blockedKind(id: i32): i32 {
  return atomic.load<i32>(slotAt(id) + T_WAIT_KIND);
}

let A: i32 = 0;
let B: i32 = 0;
function threads(): void {
  if (A == 0) {
    setup();
    A = spawn();
    B = spawn();
  }
}

describe("cond_wait", () => {
  beforeAll(threads);

  test("on a lock the caller does not own: E_NOT_OWNER, nothing registered", () => {
    const c = newCond();
    const l = newLock();
    expect(cond_wait(c, l, 0, A, 5)).toBe(E_NOT_OWNER); // free lock
    expect(lock_acquire(l, B, -1)).toBe(ACQUIRED);
    expect(cond_owns(l, A)).toBe(0);
    expect(cond_owns(l, B)).toBe(1);
    expect(cond_wait(c, l, 0, A, 5)).toBe(E_NOT_OWNER); // someone else's lock
    expect(cond_wait(c, l, 0, A, -1)).toBe(E_NOT_OWNER); // (and does not block)
    expect(registered(c)).toBe(0);
    expect(cond_waiters(c)).toBe(0);
    expect(cond_seq(c)).toBe(0);
    expect(lock_owner(l)).toBe(B);
    expect(lock_release(l)).toBe(ACQUIRED);
  });

  test("with a Lock and a 5 ms timeout: returns 0 after at least 5 ms, holding the lock again", () => {
    const c = newCond();
    const l = newLock();
    expect(lock_acquire(l, A, -1)).toBe(ACQUIRED);
    const t0 = now();
    expect(cond_wait(c, l, 0, A, 5)).toBe(0);
    const elapsed = since(t0);
    expect(elapsed).toBeGreaterThanOrEqual(5.0);
    expect(elapsed).toBeLessThan(1000.0);
    expect(lock_owner(l)).toBe(A);
    expect(cond_owns(l, A)).toBe(1);
    expect(registered(c)).toBe(0);
    expect(tokens(c)).toBe(0);
    expect(cond_waiters(c)).toBe(0);
    expect(blockedKind(A)).toBe(0); // the thread record no longer says it sleeps in c
    expect(lock_release(l)).toBe(ACQUIRED);
  });

  test("with an RLock held 3 deep: returns 0 on timeout with owner and depth restored", () => {
    const c = newCond();
    const l = newRLock();
    for (let i = 0; i < 3; i++) expect(rlock_acquire(l, A, -1)).toBe(ACQUIRED);
    const t0 = now();
    expect(cond_wait(c, l, 1, A, 5)).toBe(0);
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    expect(lock_owner(l)).toBe(A);
    expect(rlock_depth(l)).toBe(3);
    expect(registered(c)).toBe(0);
    for (let i = 0; i < 3; i++) expect(rlock_release(l, A)).toBe(ACQUIRED);
    expect(lock_owner(l)).toBe(0);
  });

  test("timeout 0 returns 0 at once, holding the lock again", () => {
    const c = newCond();
    const l = newLock();
    expect(lock_acquire(l, A, -1)).toBe(ACQUIRED);
    const t0 = now();
    expect(cond_wait(c, l, 0, A, 0)).toBe(0);
    expect(since(t0)).toBeLessThan(100.0);
    expect(lock_owner(l)).toBe(A);
    expect(registered(c)).toBe(0);
    expect(lock_release(l)).toBe(ACQUIRED);
  });

  // A waiter that starts after notify(1) must not take the token of the one that was notified
  // (a lost wakeup Python's Condition does not allow): its sequence number is newer.
  test("a notify that happened before the wait began does not wake it (its token is another waiter's)", () => {
    const c = newCond();
    const l = newLock();
    expect(lock_acquire(l, A, -1)).toBe(ACQUIRED);
    enter(c, B); // B waits, is notified, and has not re-taken the lock yet
    expect(cond_notify(c, 1)).toBe(1);
    expect(cond_wait(c, l, 0, A, 2)).toBe(0); // nobody notified A
    expect(lock_release(l)).toBe(ACQUIRED);
    expect(leave(c, 0, B)).toBe(1); // B gets its notification
  });
});

describe("cond_notify / cond_enter / cond_leave", () => {
  beforeAll(threads);

  test("notify with no waiters returns 0 and does not bump the sequence", () => {
    const c = newCond();
    expect(cond_notify(c, 1)).toBe(0);
    expect(cond_notify(c, -1)).toBe(0);
    expect(cond_notify(c, 0)).toBe(0);
    expect(cond_seq(c)).toBe(0);
    expect(tokens(c)).toBe(0);
  });

  test("enter registers and returns the sequence; notify(1) hands a token; leave consumes it", () => {
    const c = newCond();
    const seq = enter(c, A);
    expect(seq).toBe(cond_seq(c));
    expect(cond_waiters(c)).toBe(1);
    expect(blockedKind(A)).toBe(KIND_CONDITION);
    expect(cond_notify(c, 1)).toBe(1);
    expect(cond_seq(c)).toBe(seq + 1);
    expect(tokens(c)).toBe(1);
    expect(cond_waiters(c)).toBe(0); // registered but already signalled
    expect(cond_notify(c, 1)).toBe(0); // nobody left to signal
    expect(leave(c, 0, A)).toBe(1);
    expect(blockedKind(A)).toBe(0);
    expect(tokens(c)).toBe(0);
    expect(registered(c)).toBe(0);
  });

  test("a token wins over a timeout: leave(timedOut=1) with a token returns 1", () => {
    const c = newCond();
    enter(c, A);
    expect(cond_notify(c, 1)).toBe(1);
    expect(leave(c, 1, A)).toBe(1);
    expect(registered(c)).toBe(0);
    expect(tokens(c)).toBe(0);
  });

  test("leave without a token: timed out -> 0 (unregisters), not timed out -> RETRY (stays registered)", () => {
    expect(RETRY).toBe(-51);
    const c = newCond();
    enter(c, A);
    expect(leave(c, 0, A)).toBe(RETRY);
    expect(registered(c)).toBe(1);
    expect(blockedKind(A)).toBe(KIND_CONDITION);
    expect(leave(c, 1, A)).toBe(0);
    expect(registered(c)).toBe(0);
    expect(blockedKind(A)).toBe(0);
  });

  test("notify(n) signals min(n, waiting); notify(-1) signals all", () => {
    const c = newCond();
    const ids: i32[] = [spawn(), spawn(), spawn(), spawn(), spawn()];
    for (let i = 0; i < 5; i++) enter(c, ids[i]);
    expect(cond_waiters(c)).toBe(5);
    expect(cond_notify(c, 2)).toBe(2);
    expect(cond_waiters(c)).toBe(3);
    expect(cond_notify(c, 0)).toBe(0);
    expect(cond_notify(c, -1)).toBe(3);
    expect(cond_waiters(c)).toBe(0);
    expect(cond_notify(c, 10)).toBe(0);
    expect(cond_seq(c)).toBeGreaterThanOrEqual(2); // (notify(0) also bumps it today: harmless)
    for (let i = 0; i < 5; i++) expect(leave(c, 0, ids[i])).toBe(1);
    expect(leave(c, 0, ids[0]) == RETRY).toBe(true); // (a stray leave finds no token)
    expect(registered(c)).toBe(0); // the stray RETRY did not unregister anything
    expect(tokens(c)).toBe(0);
  });

  test("notify(n) larger than the waiters is capped; a later waiter is not pre-signalled", () => {
    const c = newCond();
    enter(c, A);
    expect(cond_notify(c, 5)).toBe(1);
    expect(leave(c, 0, A)).toBe(1);
    enter(c, B);
    expect(cond_waiters(c)).toBe(1);
    expect(leave(c, 0, B)).toBe(RETRY);
    expect(leave(c, 1, B)).toBe(0);
  });

  test("the sequence word is what a waiter sleeps on: it differs after notify", () => {
    const c = newCond();
    const seq = enter(c, A);
    expect(atomic.wait<i32>(<usize>c, seq, 1000)).toBe(AtomicWaitResult.TIMED_OUT);
    cond_notify(c, 1);
    expect(atomic.wait<i32>(<usize>c, seq, 1000)).toBe(AtomicWaitResult.NOT_EQUAL);
    expect(leave(c, 0, A)).toBe(1);
  });
});

describe("asynchronous waiters", () => {
  beforeAll(threads);

  test("cond_enter_async registers the waiter in its slot; cond_leave_async with a token returns 1 and frees it", () => {
    const c = newCond();
    const before = new Figures();
    const reg = cond_enter_async(c, A);
    expect(reg).toBeGreaterThan(0);
    expect(atomic.load<i32>(slotAt(A) + T_LAST_BLOCK)).toBe(reg);
    expect(atomic.load<i32>(slotAt(A) + T_WAITS)).toBe(reg);
    expect(blockAt(reg)).toBe(OK);
    const seq = cond_seq(c);
    expect(cond_waiters(c)).toBe(1);
    expect(cond_leave_async(c, 0, A, seq, reg)).toBe(RETRY); // no notify yet: still registered
    expect(blockAt(reg)).toBe(OK);
    expect(cond_notify(c, 1)).toBe(1);
    expect(cond_leave_async(c, 0, A, seq, reg)).toBe(1);
    expect(blockAt(reg)).toBe(E_STALE);
    expect(atomic.load<i32>(slotAt(A) + T_WAITS)).toBe(0);
    expect(registered(c)).toBe(0);
    expect(tokens(c)).toBe(0);
    expect(cond_leave_async(c, 0, A, seq, reg)).toBe(E_COND_NO_MEMORY); // not registered any more
    expectFigures(before);
  });

  test("cond_leave_async after a timeout without a token returns 0 and frees the registration", () => {
    const c = newCond();
    const before = new Figures();
    const reg = cond_enter_async(c, B);
    const seq = cond_seq(c);
    expect(cond_leave_async(c, 1, B, seq, reg)).toBe(0);
    expect(registered(c)).toBe(0);
    expect(blockAt(reg)).toBe(E_STALE);
    expect(cond_leave_async(c, 1, A, seq, reg)).toBe(E_COND_NO_MEMORY); // not A's either
    expectFigures(before);
  });

  test("a notify made before an asynchronous waiter entered is not its wake-up", () => {
    const c = newCond();
    const early = cond_enter_async(c, A);
    const earlySeq = cond_seq(c);
    expect(cond_notify(c, 1)).toBe(1);
    const late = cond_enter_async(c, B);
    const lateSeq = cond_seq(c);
    expect(cond_leave_async(c, 0, B, lateSeq, late)).toBe(RETRY);
    expect(cond_leave_async(c, 0, A, earlySeq, early)).toBe(1);
    expect(cond_leave_async(c, 1, B, lateSeq, late)).toBe(0);
  });
});

describe("waiters that died", () => {
  beforeAll(threads);

  test("condForgetWaiter: one registration less; tokens never exceed the waiters left", () => {
    const c = newCond();
    const ids: i32[] = [spawn(), spawn(), spawn()];
    for (let i = 0; i < 3; i++) enter(c, ids[i]);
    expect(cond_notify(c, 3)).toBe(3);
    condForgetWaiter(<usize>c);
    expect(registered(c)).toBe(2);
    expect(tokens(c)).toBe(2);
    expect(cond_waiters(c)).toBe(0);
    for (let i = 0; i < 3; i++) {
      kill(ids[i]);
      forget(ids[i]);
    }
  });

  test("a reaped waiter (blocking or asynchronous) is forgotten; a live one still gets its notify", () => {
    const c = newCond();
    const before = new Figures();
    const dead = spawn();
    const deadAsync = spawn();
    const live = spawn();
    enter(c, dead);
    expect(cond_enter_async(c, deadAsync)).toBeGreaterThan(0);
    enter(c, live);
    expect(cond_waiters(c)).toBe(3);
    kill(dead);
    kill(deadAsync);
    expect(cond_waiters(c)).toBe(1);
    expect(cond_notify(c, 1)).toBe(1);
    expect(leave(c, 0, live)).toBe(1);
    expect(registered(c)).toBe(0);
    kill(live);
    forget(dead);
    forget(deadAsync);
    forget(live);
    expectFigures(before);
  });
});
