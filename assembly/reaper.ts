// The reaper: once a thread has stopped — its worker's exit was seen, or it published its
// own exit — someone (the thread that supervises it) calls thread_reap, which gives back
// everything the thread still had: the allocator step it was in the middle of, the
// registrations of the waits it was in (a condition forgets it, a barrier breaks, a
// semaphore's wake it may have swallowed is passed on), every reference in its table (what
// only it kept is freed; a pipe end only it held closes, so the reader sees end of file),
// and the arguments it never took. Locks it held need no walk: their words name its id,
// which is no longer alive, so the next acquirer takes them over (OwnerDiedError); the
// reaper only wakes the threads parked on such locks so they do it now.
//
// Only the threads' own slots are visited, never the arena: a reap costs what the dead
// thread held, not what the program holds.
import {
  HEADER, OK, PEND_OP_MASK, PEND_ALLOCATED, PEND_CLAIM, PEND_FREE, PEND_FREE_LIVE, PEND_RESERVE,
  arenaRecover, blockAt, blockDrop, blockKind,
  THREADS,
} from "./arena";
import {
  SLOTS, SLOT_BYTES,
  T_BOOT, T_CODE, T_ID, T_PEND, T_REAPER, T_REFS, T_STATE, T_TABLE, T_TABLE_NEXT, T_WAITS, T_WAIT_AT, T_WAIT_EXTRA, T_WAIT_KIND,
  DEAD, EXITED, FREE, REAPING, RESERVED, RUNNING, TERMINATING, PEND_GROW, PEND_NEW_SLOT,
  freeSlot, freeTable, isAlive, recoverTableGrowth, slotOf, tableCapacity, tableEntry,
  waitAtOf, waitExtraOf, waitFree, waitKindOf, waitNextOf, waitUnlink,
} from "./threads";
import { PEND_FINALIZE, dropTableRef, drainFreeQueue, finishRelease, pushFree, slotDrop } from "./refs";
import { markOwnerDied } from "./lock";
import { condForgetWaiter } from "./condition";
import { barrierBreakPending, barrier_break_if_gen } from "./barrier";
import { semPassWake } from "./semaphore";
import {
  KIND_BARRIER, KIND_CONDITION, KIND_LOCK, KIND_RLOCK, KIND_SEMAPHORE, WAIT_BARRIER_ACTION, isRingKind,
} from "./kinds";

/** threads.ts's ENDING: an end being published. */
const ENDING_STATE: i32 = 7;

/** Already reaped (or being reaped by a live thread): nothing done. */
export const REAP_NOTHING: i32 = 0;

/** True if the table, the table being built, the waits or the boot slot of `slot` hold payload p. */
function isRecorded(slot: usize, p: usize): bool {
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  if (table == p || <usize>atomic.load<i32>(slot + T_TABLE_NEXT) == p || <usize>atomic.load<i32>(slot + T_BOOT) == p) return true;
  if (table != 0) {
    const capacity = tableCapacity(table);
    for (let i = 0; i < capacity; i++) if (<usize>tableEntry(table, i) == p) return true;
  }
  let reg = <usize>atomic.load<i32>(slot + T_WAITS);
  while (reg != 0) {
    if (reg == p) return true;
    reg = waitNextOf(reg);
  }
  return false;
}

/** Finishes or undoes the one step the stopped thread was in (its pend word). */
function recoverPending(slot: usize): void {
  const word = atomic.load<i32>(slot + T_PEND);
  const op = word & PEND_OP_MASK;
  const address = <usize>(word & ~PEND_OP_MASK);
  const claimer = <i32>((slot - THREADS) / <usize>SLOT_BYTES);
  if (op == PEND_RESERVE || op == PEND_CLAIM || op == PEND_FREE || op == PEND_FREE_LIVE) {
    arenaRecover(slot + T_PEND, claimer, false);
  } else if (op == PEND_ALLOCATED) {
    arenaRecover(slot + T_PEND, claimer, isRecorded(slot, address + HEADER));
  } else if (op == PEND_GROW) {
    recoverTableGrowth(slot);
    atomic.store<i32>(slot + T_PEND, 0);
  } else if (op == PEND_NEW_SLOT) {
    if (atomic.load<i32>(address + T_STATE) == RESERVED) freeSlot(address);
    atomic.store<i32>(slot + T_PEND, 0);
  } else if (op == PEND_FINALIZE) {
    finishRelease(slot, address);
  }
  atomic.store<i32>(slot + T_PEND, 0);
  recoverTableGrowth(slot);
  drainFreeQueue(slot);
}

/** Undoes what a dead thread's wait left on the object (a wait noted in its slot or registered). */
function repairWait(kind: i32, at: i32, extra: i32): void {
  if (at == 0 || blockAt(at) != OK) return;
  const objectKind = blockKind(<usize><u32>at);
  if (kind == KIND_CONDITION && objectKind == KIND_CONDITION) condForgetWaiter(<usize><u32>at);
  else if (kind == KIND_BARRIER && objectKind == KIND_BARRIER) barrier_break_if_gen(at, extra);
  else if (kind == WAIT_BARRIER_ACTION && objectKind == KIND_BARRIER) barrierBreakPending(<usize><u32>at, extra);
  else if (kind == KIND_SEMAPHORE && (objectKind == KIND_SEMAPHORE || objectKind == KIND_SEMAPHORE + 1)) semPassWake(<usize><u32>at);
}

/** Wakes threads parked on locks whose holder is gone (they would find out at their next liveness check). */
function wakeParkedOnGoneHolders(): i32 {
  let woken = 0;
  for (let i = 1; i < SLOTS; i++) {
    const slot = THREADS + <usize>i * <usize>SLOT_BYTES;
    const state = atomic.load<i32>(slot + T_STATE);
    if (state != RUNNING && state != TERMINATING) continue;
    const kind = atomic.load<i32>(slot + T_WAIT_KIND);
    if (kind == 0) continue;
    const at = atomic.load<i32>(slot + T_WAIT_AT);
    if (atomic.load<i32>(slot + T_WAIT_KIND) != kind || at == 0 || blockAt(at) != OK) continue;
    // Only real lock words are touched (checked by kind): marking one whose holder is gone is
    // right whoever waits on it.
    const objectKind = blockKind(<usize><u32>at);
    if ((kind == KIND_LOCK || kind == KIND_RLOCK) && (objectKind == KIND_LOCK || objectKind == KIND_RLOCK)) {
      woken += markOwnerDied(<usize><u32>at);
    } else if (isRingKind(objectKind)) {
      woken += markOwnerDied(<usize><u32>at) + markOwnerDied(<usize><u32>at + 4);
    }
  }
  return woken;
}

/**
 * Recovers what a stopped thread held (see the top of this file). `code` is its exit code
 * if it never published one (its worker crashed); `reaper` is the caller's id. Returns the
 * number of parked lock waiters woken, or REAP_NOTHING if it was reaped already (or a live
 * thread is reaping it). The thread must really have stopped, or have published its own
 * exit (EXITED): a TERMINATING thread may still run, so the caller waits for its worker's
 * exit first. Safe to call again after the reaper itself was stopped halfway.
 */
export function thread_reap(id: i32, code: i32, reaper: i32): i32 {
  const slot = slotOf(id);
  if (slot == 0 || atomic.load<i32>(slot + T_ID) != id) return REAP_NOTHING;
  while (true) {
    const state = atomic.load<i32>(slot + T_STATE);
    if (state == DEAD || state == FREE || state == RESERVED) return REAP_NOTHING;
    if (state == ENDING_STATE) continue; // its end is being written this instant
    if (state == REAPING) {
      const other = atomic.load<i32>(slot + T_REAPER);
      if (other != reaper && isAlive(other)) return REAP_NOTHING;
      atomic.store<i32>(slot + T_REAPER, reaper);
      break;
    }
    // A thread that stopped without publishing an end (a crash) takes `code`, through the same
    // ENDING step as thread_exit and thread_terminate, so a racing terminate() cannot mix codes.
    const from = state == RUNNING ? ENDING_STATE : state;
    if (state == RUNNING) {
      if (atomic.cmpxchg<i32>(slot + T_STATE, RUNNING, ENDING_STATE) != RUNNING) continue;
      atomic.store<i32>(slot + T_CODE, code);
    }
    if (atomic.cmpxchg<i32>(slot + T_STATE, from, REAPING) == from) {
      atomic.store<i32>(slot + T_REAPER, reaper);
      atomic.notify(slot + T_STATE, -1);
      break;
    }
  }
  // 1. The step it was in the middle of.
  recoverPending(slot);
  // 2. Its waits: the one it was blocked in, then every asynchronous one.
  const kind = atomic.load<i32>(slot + T_WAIT_KIND);
  if (kind != 0) {
    repairWait(kind, atomic.load<i32>(slot + T_WAIT_AT), atomic.load<i32>(slot + T_WAIT_EXTRA));
    atomic.store<i32>(slot + T_WAIT_KIND, 0);
  }
  while (true) {
    const reg = <usize>atomic.load<i32>(slot + T_WAITS);
    if (reg == 0) break;
    repairWait(waitKindOf(reg), waitAtOf(reg), waitExtraOf(reg));
    waitUnlink(slot, slot + T_WAITS, reg);
    waitFree(slot, reg);
  }
  // 3. Arguments it never took.
  const boot = <usize>atomic.load<i32>(slot + T_BOOT);
  if (boot != 0) {
    const last = blockDrop(boot);
    // atomic w.r.t. termination
    atomic.store<i32>(slot + T_BOOT, 0);
    if (last) pushFree(slot, boot - HEADER);
    drainFreeQueue(slot);
  }
  // 4. Every reference it held, then the table itself.
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  if (table != 0) {
    const capacity = tableCapacity(table);
    for (let i = 0; i < capacity; i++) {
      const entry = tableEntry(table, i);
      if (entry != 0 && (entry & 1) == 0) dropTableRef(slot, i);
    }
    freeTable(slot);
  }
  // 5. Its end is final: wake whoever waits on it or on what it held.
  const woken = wakeParkedOnGoneHolders();
  atomic.store<i32>(slot + T_STATE, DEAD);
  atomic.notify(slot + T_STATE, -1);
  slotDrop(slot); // the thread's own reference to its slot
  return woken;
}

/**
 * A thread attached with attach() leaves: it gives back everything it holds, as if reaped.
 * 1, or 0 if id is not a running thread. The id is dead afterwards.
 */
export function thread_detach(id: i32): i32 {
  const slot = slotOf(id);
  if (slot == 0 || atomic.load<i32>(slot + T_ID) != id) return 0;
  if (atomic.cmpxchg<i32>(slot + T_STATE, RUNNING, EXITED) != RUNNING) return 0;
  thread_reap(id, 0, id);
  return 1;
}

export { EXITED };
