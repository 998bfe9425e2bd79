// Barrier with Python's threading semantics: one distinct index per party per generation,
// an optional action run by the last arrival before anyone is released, and a broken
// state (abort, timeout, failed action) that every waiter of that generation observes.
// A short internal spin lock orders arrivals; waiters sleep on the generation word.
import { deadlineFrom, futexWait } from "./wait";
import { KIND_BARRIER, thread_block, thread_unblock } from "./thread";

export const BARRIER_SIZE: i32 = 32;
const MUTEX: usize = 0;
const PARTIES: usize = 4;
const COUNT: usize = 8;
const GEN: usize = 12;
const LAST_BROKEN_GEN: usize = 16;
const BROKEN: usize = 20;
const PENDING: usize = 24;

export const E_BROKEN: i32 = -3;
export const E_BUSY: i32 = -5;
const GEN_BITS: i32 = 0x7fff;

export function barrier_init(p: i32, parties: i32): void {
  atomic.store<i32>(<usize>p + PARTIES, parties);
  atomic.store<i32>(<usize>p + LAST_BROKEN_GEN, -1);
}

// MUTEX: 0 free, 1 held, WAKE held and the generation moved on. Sleepers are woken only
// after the mutex is free: a waiter woken while the waker still held it would spin on it,
// for a whole time slice when the waker is preempted (4 parties on 2 CPUs: ~10 ms a round).
const WAKE: i32 = 2;

function lockBarrier(p: usize): void {
  while (atomic.cmpxchg<i32>(p + MUTEX, 0, 1) != 0) {}
}
function unlockBarrier(p: usize): void {
  if (atomic.xchg<i32>(p + MUTEX, 0) == WAKE) atomic.notify(p + GEN, -1);
}

function releaseLocked(p: usize): void {
  atomic.store<i32>(p + COUNT, 0);
  atomic.store<i32>(p + PENDING, 0);
  atomic.add<i32>(p + GEN, 1);
  atomic.store<i32>(p + MUTEX, WAKE);
}

function breakLocked(p: usize): void {
  atomic.store<i32>(p + LAST_BROKEN_GEN, atomic.load<i32>(p + GEN));
  atomic.store<i32>(p + BROKEN, 1);
  atomic.store<i32>(p + COUNT, 0);
  atomic.store<i32>(p + PENDING, 0);
  atomic.add<i32>(p + GEN, 1);
  atomic.store<i32>(p + MUTEX, WAKE);
}

/**
 * Arrives. Returns (generation & 0x7fff) << 16 | index, E_BROKEN, or E_BUSY while the
 * previous generation's action still runs. The last arrival with hasAction != 0 leaves the
 * barrier pending: it must run the action and call barrier_finish.
 */
export function barrier_arrive(p: i32, hasAction: i32, id: i32): i32 {
  const b = <usize>p;
  lockBarrier(b);
  if (atomic.load<i32>(b + BROKEN) != 0) {
    unlockBarrier(b);
    return E_BROKEN;
  }
  const parties = atomic.load<i32>(b + PARTIES);
  const count = atomic.load<i32>(b + COUNT);
  if (count >= parties) {
    unlockBarrier(b);
    return E_BUSY;
  }
  const gen = atomic.load<i32>(b + GEN);
  atomic.store<i32>(b + COUNT, count + 1);
  if (count + 1 == parties) {
    if (hasAction != 0) atomic.store<i32>(b + PENDING, 1);
    else releaseLocked(b);
  } else {
    // If this party dies before release, thread_reap breaks the barrier instead of leaving it short.
    thread_block(id, KIND_BARRIER, p, gen & GEN_BITS);
  }
  unlockBarrier(b);
  return ((gen & GEN_BITS) << 16) | count;
}

/** Ends the action of the pending generation; a no-op if reset/abort already ended it. */
export function barrier_finish(p: i32, ok: i32): void {
  lockBarrier(<usize>p);
  if (atomic.load<i32>(<usize>p + PENDING) != 0) {
    if (ok != 0) releaseLocked(<usize>p);
    else breakLocked(<usize>p);
  }
  unlockBarrier(<usize>p);
}

/** For a waiter of generation gen16: 0 still waiting, 1 released, E_BROKEN broken. */
export function barrier_status(p: i32, gen16: i32): i32 {
  if ((atomic.load<i32>(<usize>p + GEN) & GEN_BITS) == gen16) return 0;
  const lastBroken = atomic.load<i32>(<usize>p + LAST_BROKEN_GEN);
  return lastBroken != -1 && (lastBroken & GEN_BITS) == gen16 ? E_BROKEN : 1;
}

/** A waiter of gen16 ran out of time: breaks the barrier unless its generation already ended. */
export function barrier_timeout(p: i32, gen16: i32): i32 {
  lockBarrier(<usize>p);
  if ((atomic.load<i32>(<usize>p + GEN) & GEN_BITS) == gen16) breakLocked(<usize>p);
  unlockBarrier(<usize>p);
  return barrier_status(p, gen16);
}

export function barrier_gen(p: i32): i32 {
  return atomic.load<i32>(<usize>p + GEN);
}

/** Blocking wait: the packed arrival on release, E_BROKEN otherwise. See barrier_arrive for hasAction. */
export function barrier_wait(p: i32, hasAction: i32, timeoutMs: f64, id: i32): i32 {
  const result = barrierWait(p, hasAction, timeoutMs, id);
  thread_unblock(id);
  return result;
}

function barrierWait(p: i32, hasAction: i32, timeoutMs: f64, id: i32): i32 {
  const b = <usize>p;
  const deadline = deadlineFrom(timeoutMs);
  let arrival: i32;
  while (true) {
    arrival = barrier_arrive(p, hasAction, id);
    if (arrival != E_BUSY) break;
    const gen = atomic.load<i32>(b + GEN);
    if (!futexWait(b + GEN, gen, deadline)) return E_BROKEN;
  }
  if (arrival < 0) return arrival;
  const gen16 = arrival >>> 16;
  if ((arrival & 0xffff) == atomic.load<i32>(b + PARTIES) - 1) return arrival;
  while (true) {
    const gen = atomic.load<i32>(b + GEN);
    if ((gen & GEN_BITS) != gen16) break;
    if (!futexWait(b + GEN, gen, deadline)) {
      return barrier_timeout(p, gen16) == 1 ? arrival : E_BROKEN;
    }
  }
  return barrier_status(p, gen16) == 1 ? arrival : E_BROKEN;
}

/** Breaks the barrier if generation gen16 is still filling (a party of it died). */
export function barrier_break_if_gen(p: i32, gen16: i32): void {
  lockBarrier(<usize>p);
  if ((atomic.load<i32>(<usize>p + GEN) & GEN_BITS) == gen16 && atomic.load<i32>(<usize>p + COUNT) > 0) {
    breakLocked(<usize>p);
  }
  unlockBarrier(<usize>p);
}

export function barrier_reset(p: i32): void {
  lockBarrier(<usize>p);
  if (atomic.load<i32>(<usize>p + COUNT) > 0) breakLocked(<usize>p);
  atomic.store<i32>(<usize>p + BROKEN, 0);
  unlockBarrier(<usize>p);
}

export function barrier_abort(p: i32): void {
  lockBarrier(<usize>p);
  breakLocked(<usize>p);
  unlockBarrier(<usize>p);
}

export function barrier_parties(p: i32): i32 {
  return atomic.load<i32>(<usize>p + PARTIES);
}

export function barrier_n_waiting(p: i32): i32 {
  return atomic.load<i32>(<usize>p + PENDING) != 0 ? 0 : atomic.load<i32>(<usize>p + COUNT);
}

export function barrier_broken(p: i32): i32 {
  return atomic.load<i32>(<usize>p + BROKEN);
}
