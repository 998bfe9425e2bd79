// Barrier with Python's threading semantics: one distinct index per party per generation,
// an optional action run by the last arrival before anyone is released, and a broken
// state (abort, timeout, failed action) that every waiter of that generation observes.
//
// Block payload (32 bytes):
//   +0  i32 mutex       orders arrivals: 0 free, 1 held, WAKE held and the generation moved
//                       on. Held only across straight-line code (no call, no loop), so a
//                       terminated thread can never be stopped holding it.
//   +4  i32 parties
//   +8  i32 count       arrivals in the generation filling now
//   +12 i32 gen         generation, bumped when one ends (released or broken); waiters sleep on it
//   +16 i32 lastBroken  the last generation that ended broken (-1: none yet)
//   +20 i32 broken      1 from a break until reset()
//   +24 i32 pending     the last arrival runs the action: the generation is full, not released yet
//
// An arrival is packed as (generation & 0x7fff) << 16 | index. A waiter that only kept 15
// bits of its generation rebuilds the whole number from the current one (fewer than 32,768
// generations pass while it waits), so a break long ago is never mistaken for its own.
import { deadlineFrom, futexWait } from "./wait";
import { T_LAST_BLOCK, T_PEND, blockIn, fence, slotOf, unblock, waitAlloc, waitFree, waitLink } from "./threads";
import { PEND_FREE } from "./arena";
import { KIND_BARRIER, WAIT_BARRIER_ACTION } from "./kinds";

export const BARRIER_SIZE: i32 = 32;
const MUTEX: usize = 0;
const PARTIES: usize = 4;
const COUNT: usize = 8;
const GEN: usize = 12;
const LAST_BROKEN_GEN: usize = 16;
const BROKEN: usize = 20;
const PENDING: usize = 24;
/** The generation word the host waits on. */
export const BARRIER_GEN_OFFSET: i32 = <i32>GEN;

export const E_BROKEN: i32 = -41;
export const E_BUSY: i32 = -42;
export const E_BARRIER_NO_MEMORY: i32 = -43;
const GEN_BITS: i32 = 0x7fff;
export const BARRIER_PARTIES_MAX: i32 = 0x7fff;

export function barrier_init(p: i32, parties: i32): void {
  atomic.store<i32>(<usize>p + PARTIES, parties);
  atomic.store<i32>(<usize>p + LAST_BROKEN_GEN, -1);
}

// Sleepers are woken only after the mutex is free: a waiter woken while the waker still held
// it would spin on it, for a whole time slice when the waker is preempted (4 parties on
// 2 CPUs: ~10 ms a round).
const WAKE: i32 = 2;

@inline function lockBarrier(p: usize): void {
  while (atomic.cmpxchg<i32>(p + MUTEX, 0, 1) != 0) {}
}
@inline function unlockBarrier(p: usize): void {
  if (atomic.xchg<i32>(p + MUTEX, 0) == WAKE) atomic.notify(p + GEN, -1);
}

@inline function releaseLocked(p: usize): void {
  atomic.store<i32>(p + COUNT, 0);
  atomic.store<i32>(p + PENDING, 0);
  atomic.add<i32>(p + GEN, 1);
  atomic.store<i32>(p + MUTEX, WAKE);
}

@inline function breakLocked(p: usize): void {
  atomic.store<i32>(p + LAST_BROKEN_GEN, atomic.load<i32>(p + GEN));
  atomic.store<i32>(p + BROKEN, 1);
  atomic.store<i32>(p + COUNT, 0);
  atomic.store<i32>(p + PENDING, 0);
  atomic.add<i32>(p + GEN, 1);
  atomic.store<i32>(p + MUTEX, WAKE);
}

/** The whole generation a waiter that kept gen16 belongs to. */
@inline function fullGen(p: usize, gen16: i32): i32 {
  const gen = atomic.load<i32>(p + GEN);
  return gen - (((gen & GEN_BITS) - gen16) & GEN_BITS);
}

/**
 * Arrives. Returns (generation & 0x7fff) << 16 | index, E_BROKEN, or E_BUSY while the
 * previous generation's action still runs. The last arrival with hasAction != 0 leaves the
 * barrier pending: it must run the action and call barrier_finish. Every other arrival, and
 * the one running the action, is noted in its thread's slot: if it dies before the
 * generation ends, the reaper breaks the barrier instead of leaving the others waiting.
 */
export function barrier_arrive(p: i32, hasAction: i32, id: i32): i32 {
  const b = <usize>p;
  lockBarrier(b);
  // straight-line from here to every unlockBarrier
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
    if (hasAction != 0) {
      atomic.store<i32>(b + PENDING, 1);
      blockIn(id, WAIT_BARRIER_ACTION, p, gen & GEN_BITS);
    } else {
      releaseLocked(b);
    }
  } else {
    blockIn(id, KIND_BARRIER, p, gen & GEN_BITS);
  }
  unlockBarrier(b);
  return ((gen & GEN_BITS) << 16) | count;
}

/**
 * barrier_arrive for an asynchronous waiter: the arrival is registered (threads.ts) in the
 * same step that counts it, since a thread may have several asynchronous waits at once.
 * The registration's address is left in the slot (lastBlock): end it with wait_unregister
 * once the wait is over (after barrier_finish, for the party running the action).
 */
export function barrier_arrive_async(p: i32, hasAction: i32, id: i32): i32 {
  const b = <usize>p;
  const slot = slotOf(id);
  if (slot == 0) return E_BROKEN;
  const reg = waitAlloc(slot, KIND_BARRIER, p, 0);
  if (reg == 0) return E_BARRIER_NO_MEMORY;
  lockBarrier(b);
  // straight-line from here to unlockBarrier
  let result: i32 = E_BROKEN;
  const parties = atomic.load<i32>(b + PARTIES);
  const count = atomic.load<i32>(b + COUNT);
  if (atomic.load<i32>(b + BROKEN) == 0) {
    if (count >= parties) {
      result = E_BUSY;
    } else {
      const gen = atomic.load<i32>(b + GEN);
      atomic.store<i32>(b + COUNT, count + 1);
      if (count + 1 == parties && hasAction == 0) {
        releaseLocked(b);
      } else {
        if (count + 1 == parties) {
          atomic.store<i32>(b + PENDING, 1);
          atomic.store<i32>(reg + 4, WAIT_BARRIER_ACTION);
        }
        atomic.store<i32>(reg + 12, gen & GEN_BITS);
        waitLink(slot, reg);
        atomic.store<i32>(slot + T_LAST_BLOCK, <i32>reg);
      }
      result = ((gen & GEN_BITS) << 16) | count;
    }
  }
  unlockBarrier(b);
  if (atomic.load<i32>(slot + T_PEND) != 0) {
    // Not registered (broken, busy, or released at once): the registration goes.
    atomic.store<i32>(slot + T_LAST_BLOCK, 0);
    atomic.store<i64>(reg - 16 + 8, 0);
    atomic.store<i32>(slot + T_PEND, <i32>(reg - 16) | PEND_FREE);
    waitFree(slot, reg);
  }
  return result;
}

/** Ends the action of the pending generation; a no-op if reset/abort already ended it. */
export function barrier_finish(p: i32, ok: i32, id: i32): void {
  lockBarrier(<usize>p);
  if (atomic.load<i32>(<usize>p + PENDING) != 0) {
    if (ok != 0) releaseLocked(<usize>p);
    else breakLocked(<usize>p);
  }
  unlockBarrier(<usize>p);
  unblock(id);
}

/** For a waiter of generation gen16: 0 still waiting, 1 released, E_BROKEN broken. */
export function barrier_status(p: i32, gen16: i32): i32 {
  if ((atomic.load<i32>(<usize>p + GEN) & GEN_BITS) == gen16) return 0;
  const lastBroken = atomic.load<i32>(<usize>p + LAST_BROKEN_GEN);
  return lastBroken != -1 && lastBroken == fullGen(<usize>p, gen16) ? E_BROKEN : 1;
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
  // The one running the action stays noted until barrier_finish.
  if (result < 0 || (result & 0xffff) != atomic.load<i32>(<usize>p + PARTIES) - 1 || hasAction == 0) unblock(id);
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
    fence(id);
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

/** Breaks generation gen16 if its action is still pending (the party running it died). */
export function barrierBreakPending(p: usize, gen16: i32): void {
  lockBarrier(p);
  if ((atomic.load<i32>(p + GEN) & GEN_BITS) == gen16 && atomic.load<i32>(p + PENDING) != 0) breakLocked(p);
  unlockBarrier(p);
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
