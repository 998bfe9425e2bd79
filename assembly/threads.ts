// The thread table: one slot per attached thread (a "process"), at fixed addresses so any
// thread can tell from an id alone whether its owner still runs — on every contended lock
// acquire, so it must be a couple of loads. A slot also holds what the reaper needs once its
// thread has stopped: the thread's table of references, its pending allocator step, and
// what it was blocked in.
//
// An id is slot | generation << 10 (slot 1…1023, generation 20 bits): a slot is reused by
// a later thread under another id, so a lock word naming a thread that ended never names
// the new one (until the slot's generation wraps, after 2^20 reuses of that one slot — a
// lock nobody touched for that long).
//
// Slot (SLOT_BYTES at THREADS + slot * SLOT_BYTES):
//   +0  i32 id         current id (kept after the slot is freed: the next one takes gen + 1)
//   +4  i32 state      FREE, RESERVED (being set up), RUNNING, TERMINATING (asked to stop;
//                      may run until its next safe point), EXITED (ran its last user code
//                      itself), REAPING, DEAD (stopped, and what it held was recovered)
//   +8  i32 code       exit code, valid once state is not RUNNING
//   +12 i32 parent     parent's id (0 for a root thread)
//   +16 i32 refs       references to the slot: the thread itself, its parent's Process
//                      object, a supervisor; freed at 0 (only once DEAD)
//   +20 i32 table      payload of the thread's reference table (0 until the first reference)
//   +24 i32 tableNext  a bigger table being filled in (growth in progress)
//   +28 i32 pend       the allocator/ownership step in progress (arena.ts, refs.ts)
//   +32 i32 freeQueue  blocks whose last reference went, waiting to be finalized and freed
//   +36 i32 waitKind   what the thread is blocked in now (a kind, 0 = nothing)
//   +40 i32 waitAt     … its address
//   +44 i32 waitExtra  … and a detail (a barrier's generation)
//   +48 i32 waits      list of asynchronous wait registrations (KIND_WAIT blocks)
//   +52 i32 boot       a transit block its parent handed it at start (the arguments' references)
//   +56 i32 flags      FLAG_* below
//   +60 i32 lastIndex  index in the reference table of the reference recorded last
//   +64 i32 lastBlock  a block the last call handed over (a ring message's transit block)
//   +68 i32 reaper     id of the thread reaping it (REAPING)
//   +72 f64 waitSince  when the current blocking wait began (diagnostics)
//   +80 …              spare
//
// Reference table (a block, payload):
//   +0 i32 capacity  +4 i32 used  +8 i32 freeHead (index + 1, 0 = none)  +12 spare
//   +16 entries: a referenced address (a block payload or a slot), or a free entry
//       ((next index + 1) << 1 | 1). Only the owner thread changes its table; the reaper
//       reads it once the owner has stopped.
import { THREADS, THREAD_TABLE_BYTES, arenaAlloc, arenaFree, PEND_FREE, HEADER } from "./arena";
import { deadlineFrom, futexWait } from "./wait";
import { KIND_REFTABLE, KIND_WAIT, WAIT_JOIN } from "./kinds";

export const SLOTS: i32 = 1024;
/** The table's bytes are fixed by the arena's memory map (arena.ts). */
export const SLOT_BYTES: i32 = <i32>THREAD_TABLE_BYTES / SLOTS;
const SLOT_MASK: i32 = SLOTS - 1;
const GEN_SHIFT: i32 = 10;
const GEN_MASK: i32 = 0xfffff;

export const T_ID: usize = 0;
export const T_STATE: usize = 4;
export const T_CODE: usize = 8;
export const T_PARENT: usize = 12;
export const T_REFS: usize = 16;
export const T_TABLE: usize = 20;
export const T_TABLE_NEXT: usize = 24;
export const T_PEND: usize = 28;
export const T_FREE_QUEUE: usize = 32;
export const T_WAIT_KIND: usize = 36;
export const T_WAIT_AT: usize = 40;
export const T_WAIT_EXTRA: usize = 44;
export const T_WAITS: usize = 48;
export const T_BOOT: usize = 52;
export const T_FLAGS: usize = 56;
export const T_LAST_INDEX: usize = 60;
export const T_LAST_BLOCK: usize = 64;
export const T_REAPER: usize = 68;
export const T_WAIT_SINCE: usize = 72;

export const FREE: i32 = 0;
export const RESERVED: i32 = 5;
export const RUNNING: i32 = 1;
export const EXITED: i32 = 2;
export const DEAD: i32 = 3;
export const TERMINATING: i32 = 4;
export const REAPING: i32 = 6;
/** Momentary: the thread's end is being published (its code first, then EXITED or TERMINATING). Alive. */
const ENDING: i32 = 7;

/** The thread was attached by its own code (attach()), not started as a forkless process. */
export const FLAG_ROOT: i32 = 1;
export const FLAG_DAEMON: i32 = 2;


/** The pending step: the reference table grows; the new one is at tableNext. */
export const PEND_GROW: i32 = 6;
/** The pending step: a slot (address) is being set up for a new thread. */
export const PEND_NEW_SLOT: i32 = 7;

const TABLE_HEADER: usize = 16;
const FIRST_CAPACITY: i32 = 32;

// ---------------------------------------------------------------- ids and state

@inline export function slotAt(id: i32): usize {
  return THREADS + (<usize>(id & SLOT_MASK) * <usize>SLOT_BYTES);
}

/** The slot of a thread id, or 0 when the id is not one (range only; see thread_alive). */
export function slotOf(id: i32): usize {
  if (id <= 0 || (id & SLOT_MASK) == 0 || id > 0x3fffffff) return 0;
  return slotAt(id);
}

/** True while the thread may still run code: RUNNING, or TERMINATING until it has stopped. */
@inline export function isAlive(id: i32): bool {
  if (id <= 0 || (id & SLOT_MASK) == 0) return false;
  const slot = slotAt(id);
  if (atomic.load<i32>(slot + T_ID) != id) return false;
  const state = atomic.load<i32>(slot + T_STATE);
  return state == RUNNING || state == TERMINATING || state == ENDING;
}

export function thread_alive(id: i32): i32 {
  return isAlive(id) ? 1 : 0;
}

/** The state of the thread an id names; DEAD for an id whose slot has moved on. */
export function thread_state(id: i32): i32 {
  const slot = slotOf(id);
  if (slot == 0) return -1;
  if (atomic.load<i32>(slot + T_ID) != id) return DEAD;
  const state = atomic.load<i32>(slot + T_STATE);
  if (state == ENDING) return RUNNING; // its end is not published yet
  return state == FREE ? DEAD : state;
}

export function thread_exit_code(id: i32): i32 {
  const slot = slotOf(id);
  return slot == 0 || atomic.load<i32>(slot + T_ID) != id ? 0 : atomic.load<i32>(slot + T_CODE);
}

export function thread_parent(id: i32): i32 {
  const slot = slotOf(id);
  return slot == 0 || atomic.load<i32>(slot + T_ID) != id ? 0 : atomic.load<i32>(slot + T_PARENT);
}

export function thread_flags(id: i32): i32 {
  const slot = slotOf(id);
  return slot == 0 || atomic.load<i32>(slot + T_ID) != id ? 0 : atomic.load<i32>(slot + T_FLAGS);
}

/**
 * Finds a free slot and reserves it: returns its address (state RESERVED) or 0 when every
 * slot is taken. The caller's *pend says PEND_NEW_SLOT | slot until it publishes the slot.
 */
export function reserveSlot(pend: usize): usize {
  for (let i = 1; i < SLOTS; i++) {
    const slot = THREADS + <usize>i * <usize>SLOT_BYTES;
    if (atomic.load<i32>(slot + T_STATE) != FREE) continue;
    if (atomic.cmpxchg<i32>(slot + T_STATE, FREE, RESERVED) == FREE) {
      atomic.store<i32>(pend, <i32>slot | PEND_NEW_SLOT); // atomic w.r.t. termination
      return slot;
    }
  }
  return 0;
}

/** Fills in a reserved slot (everything but its state) and returns the new id. */
export function initSlot(slot: usize, parent: i32, refs: i32, flags: i32): i32 {
  const index = <i32>((slot - THREADS) / <usize>SLOT_BYTES);
  const gen = ((atomic.load<i32>(slot + T_ID) >>> GEN_SHIFT) + 1) & GEN_MASK;
  const id = index | (gen << GEN_SHIFT);
  memory.fill(slot + T_CODE, 0, <usize>SLOT_BYTES - T_CODE); // state stays RESERVED
  atomic.store<i32>(slot + T_ID, id);
  atomic.store<i32>(slot + T_PARENT, parent);
  atomic.store<i32>(slot + T_REFS, refs);
  atomic.store<i32>(slot + T_FLAGS, flags);
  return id;
}

/** Gives a slot back (its thread is DEAD and nothing refers to it, or it was never published). */
@inline export function freeSlot(slot: usize): void {
  atomic.store<i32>(slot + T_STATE, FREE);
}

/** Publishes an end: RUNNING → (ENDING, code written) → `final`. The first caller wins; 1 if it was this one. */
function publishEnd(id: i32, code: i32, final: i32): i32 {
  const slot = slotOf(id);
  if (slot == 0 || atomic.load<i32>(slot + T_ID) != id) return 0;
  if (atomic.cmpxchg<i32>(slot + T_STATE, RUNNING, ENDING) != RUNNING) return 0;
  atomic.store<i32>(slot + T_CODE, code);
  atomic.store<i32>(slot + T_STATE, final);
  atomic.notify(slot + T_STATE, -1);
  return 1;
}

/** Publishes the thread's own exit (it runs no more user code): 1 if this call did it. */
export function thread_exit(id: i32, code: i32): i32 {
  return publishEnd(id, code, EXITED);
}

/**
 * A parent asks a running thread to stop (terminate/kill): it stays TERMINATING — alive to
 * every primitive, so nothing it holds is handed on while it might still run — until the
 * reaper has seen it stop. 1 if this call did it (the thread had not ended by itself).
 */
export function thread_terminate(id: i32, code: i32): i32 {
  return publishEnd(id, code, TERMINATING);
}

/**
 * Called by a thread in a blocking primitive after each wake-up: a thread asked to stop waits
 * here to be stopped, instead of taking what its wake-up offers (a permit, an item, a lock)
 * and dying with it in the moment before its stop takes effect.
 */
export function fence(id: i32): void {
  if (id <= 0) return;
  const slot = slotAt(id);
  if (atomic.load<i32>(slot + T_ID) != id) return;
  while (true) {
    const state = atomic.load<i32>(slot + T_STATE);
    if (state != TERMINATING && state != ENDING) return;
    atomic.wait<i32>(slot + T_STATE, state, -1);
  }
}

/**
 * Thread `waiter` waits until thread `id` has ended (EXITED by itself, or stopped and reaped): 1, or 0 on timeout.
 * A thread being reaped has not ended yet: its waits are not repaired nor its references dropped
 * until DEAD (unless its reaper is gone, which leaves the reap to be redone: no use waiting).
 */
export function thread_join(id: i32, timeoutMs: f64, waiter: i32): i32 {
  const slot = slotOf(id);
  if (slot == 0) return 1;
  const deadline = deadlineFrom(timeoutMs);
  if (timeoutMs != 0) blockIn(waiter, WAIT_JOIN, id, 0);
  let result = 1;
  while (true) {
    if (atomic.load<i32>(slot + T_ID) != id) break;
    const state = atomic.load<i32>(slot + T_STATE);
    if (state == REAPING && !isAlive(atomic.load<i32>(slot + T_REAPER))) break;
    if (state != RUNNING && state != TERMINATING && state != ENDING && state != REAPING) break;
    if (!futexWait(slot + T_STATE, state, deadline)) {
      result = 0;
      break;
    }
  }
  unblock(waiter);
  return result;
}

// ---------------------------------------------------------------- what a thread is blocked in

/** Notes what the thread is about to sleep in (its one blocking wait), for the reaper and dumps. */
@inline export function blockIn(id: i32, kind: i32, at: i32, extra: i32): void {
  if (id > 0) {
    const slot = slotAt(id);
    atomic.store<i32>(slot + T_WAIT_AT, at);
    atomic.store<i32>(slot + T_WAIT_EXTRA, extra);
    atomic.store<i32>(slot + T_WAIT_KIND, kind);
  }
}

@inline export function unblock(id: i32): void {
  if (id > 0) atomic.store<i32>(slotAt(id) + T_WAIT_KIND, 0);
}

export function thread_block(id: i32, kind: i32, at: i32, extra: i32): void {
  blockIn(id, kind, at, extra);
}

export function thread_unblock(id: i32): void {
  unblock(id);
}

// ---------------------------------------------------------------- the reference table

@inline function entryAt(table: usize, index: i32): usize {
  return table + TABLE_HEADER + (<usize>index << 2);
}

/** The table's next free index (valid after reserveRefs). */
@inline export function pickRef(table: usize): i32 {
  return atomic.load<i32>(table + 8) - 1;
}

/** Records `address` at the free index `index` (from pickRef). Straight-line. */
@inline export function commitRef(slot: usize, table: usize, index: i32, address: usize): void {
  const at = entryAt(table, index);
  const link = atomic.load<i32>(at);
  atomic.store<i32>(at, <i32>address);
  atomic.store<i32>(table + 8, link >>> 1);
  atomic.store<i32>(table + 4, atomic.load<i32>(table + 4) + 1);
  atomic.store<i32>(slot + T_LAST_INDEX, index);
}

/** Forgets the reference at `index`. Straight-line. */
@inline export function dropRef(table: usize, index: i32): void {
  atomic.store<i32>(entryAt(table, index), (atomic.load<i32>(table + 8) << 1) | 1);
  atomic.store<i32>(table + 8, index + 1);
  atomic.store<i32>(table + 4, atomic.load<i32>(table + 4) - 1);
}

/** The address recorded at `index` of the thread's table, or 0 if that entry is not in use. */
export function refAt(slot: usize, index: i32): usize {
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  if (table == 0 || index < 0 || index >= atomic.load<i32>(table)) return 0;
  const entry = atomic.load<i32>(entryAt(table, index));
  return (entry & 1) != 0 ? 0 : <usize>entry;
}

export function tableCapacity(table: usize): i32 {
  return atomic.load<i32>(table);
}

export function tableEntry(table: usize, index: i32): i32 {
  return atomic.load<i32>(entryAt(table, index));
}

/**
 * Makes room for n more references in the slot's table (growing it if needed); false when
 * the memory is full. Only the slot's own thread calls this.
 */
export function reserveRefs(slot: usize, n: i32): bool {
  let table = <usize>atomic.load<i32>(slot + T_TABLE);
  const capacity = table == 0 ? 0 : atomic.load<i32>(table);
  const used = table == 0 ? 0 : atomic.load<i32>(table + 4);
  if (capacity - used >= n) return true;
  let next = capacity == 0 ? FIRST_CAPACITY : capacity << 1;
  while (next - used < n) next <<= 1;
  if (next > (1 << 26)) return false;
  const pend = slot + T_PEND;
  const claimer = <i32>((slot - THREADS) / <usize>SLOT_BYTES);
  const fresh = arenaAlloc(<i32>TABLE_HEADER + (next << 2), KIND_REFTABLE, pend, claimer);
  if (fresh == 0) return false;
  // atomic w.r.t. termination
  atomic.store<i32>(slot + T_TABLE_NEXT, <i32>fresh);
  atomic.store<i32>(pend, <i32>fresh | PEND_GROW);
  // Copy, then chain the new entries in front of the old free list.
  if (table != 0) memory.copy(fresh + TABLE_HEADER, table + TABLE_HEADER, <usize>capacity << 2);
  for (let i = capacity; i < next; i++) {
    const link = i + 1 < next ? i + 2 : (table == 0 ? 0 : atomic.load<i32>(table + 8));
    atomic.store<i32>(entryAt(fresh, i), (link << 1) | 1);
  }
  atomic.store<i32>(fresh, next);
  atomic.store<i32>(fresh + 4, used);
  atomic.store<i32>(fresh + 8, capacity + 1);
  // atomic w.r.t. termination
  atomic.store<i32>(slot + T_TABLE, <i32>fresh);
  atomic.store<i32>(slot + T_TABLE_NEXT, 0);
  if (table == 0) {
    atomic.store<i32>(pend, 0);
    return true;
  }
  const header = table - HEADER;
  atomic.store<i64>(header + 8, 0);
  atomic.store<i32>(pend, <i32>header | PEND_FREE);
  arenaFree(header, pend);
  return true;
}

/** The reaper's half of reserveRefs: a growth the stopped thread left halfway. */
export function recoverTableGrowth(slot: usize): void {
  const pend = slot + T_PEND;
  const next = <usize>atomic.load<i32>(slot + T_TABLE_NEXT);
  if (next == 0) return;
  if (<usize>atomic.load<i32>(slot + T_TABLE) == next) {
    atomic.store<i32>(slot + T_TABLE_NEXT, 0);
    return;
  }
  // The old table is still the one in use; the half-built one goes.
  const header = next - HEADER;
  atomic.store<i64>(header + 8, 0);
  atomic.store<i32>(slot + T_TABLE_NEXT, 0);
  atomic.store<i32>(pend, <i32>header | PEND_FREE);
  arenaFree(header, pend);
}

/** Frees the slot's table itself (its thread is gone and its references were dropped). */
export function freeTable(slot: usize): void {
  const pend = slot + T_PEND;
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  if (table == 0) return;
  const header = table - HEADER;
  atomic.store<i64>(header + 8, 0);
  // atomic w.r.t. termination
  atomic.store<i32>(slot + T_TABLE, 0);
  atomic.store<i32>(pend, <i32>header | PEND_FREE);
  arenaFree(header, pend);
}


// ---------------------------------------------------------------- asynchronous waits
//
// A thread can have many asynchronous waits pending at once (each a Promise in its host),
// so they are registered in a list of KIND_WAIT blocks hanging off its slot, which only
// the thread itself changes. Registration (payload):
//   +0 i32 next  +4 i32 kind  +8 i32 at  +12 i32 extra

const W_NEXT: usize = 0;
const W_KIND: usize = 4;
const W_AT: usize = 8;
const W_EXTRA: usize = 12;

/**
 * Allocates a registration (not yet linked; *pend stays PEND_ALLOCATED until waitLink).
 * 0 when the memory is full.
 */
export function waitAlloc(slot: usize, kind: i32, at: i32, extra: i32): usize {
  const claimer = <i32>((slot - THREADS) / <usize>SLOT_BYTES);
  const reg = arenaAlloc(16, KIND_WAIT, slot + T_PEND, claimer);
  if (reg == 0) return 0;
  atomic.store<i32>(reg + W_KIND, kind);
  atomic.store<i32>(reg + W_AT, at);
  atomic.store<i32>(reg + W_EXTRA, extra);
  return reg;
}

/** Links a registration from waitAlloc into the slot's list. Straight-line. */
@inline export function waitLink(slot: usize, reg: usize): void {
  atomic.store<i32>(reg + W_NEXT, atomic.load<i32>(slot + T_WAITS));
  atomic.store<i32>(slot + T_WAITS, <i32>reg);
  atomic.store<i32>(slot + T_PEND, 0);
}

/** The word that points at `reg` (the list head or the previous registration's next), or 0 if it is not listed. */
export function waitLinkTo(slot: usize, reg: usize): usize {
  let link = slot + T_WAITS;
  while (true) {
    const at = <usize>atomic.load<i32>(link);
    if (at == 0) return 0;
    if (at == reg) return link;
    link = at + W_NEXT;
  }
}

/** Unlinks (through `link`, from waitLinkTo) and marks the registration for freeing. Straight-line. */
@inline export function waitUnlink(slot: usize, link: usize, reg: usize): void {
  atomic.store<i32>(link, atomic.load<i32>(reg + W_NEXT));
  atomic.store<i64>(reg - HEADER + 8, 0);
  atomic.store<i32>(slot + T_PEND, <i32>(reg - HEADER) | PEND_FREE);
}

/** Frees a registration waitUnlink marked. */
export function waitFree(slot: usize, reg: usize): void {
  arenaFree(reg - HEADER, slot + T_PEND);
}

/** Registers an asynchronous wait (for dumps and the reaper): the registration, or 0 when the memory is full. */
export function wait_register(id: i32, kind: i32, at: i32, extra: i32): i32 {
  const slot = slotOf(id);
  if (slot == 0 || atomic.load<i32>(slot + T_ID) != id) return 0;
  const reg = waitAlloc(slot, kind, at, extra);
  if (reg == 0) return 0;
  waitLink(slot, reg);
  return <i32>reg;
}

/** Ends an asynchronous wait registered with wait_register. 1, or 0 if it was not registered. */
export function wait_unregister(id: i32, reg: i32): i32 {
  const slot = slotOf(id);
  if (slot == 0 || atomic.load<i32>(slot + T_ID) != id || reg == 0) return 0;
  const link = waitLinkTo(slot, <usize>reg);
  if (link == 0) return 0;
  waitUnlink(slot, link, <usize>reg);
  waitFree(slot, <usize>reg);
  return 1;
}

export function waitKindOf(reg: usize): i32 { return atomic.load<i32>(reg + W_KIND); }
export function waitAtOf(reg: usize): i32 { return atomic.load<i32>(reg + W_AT); }
export function waitExtraOf(reg: usize): i32 { return atomic.load<i32>(reg + W_EXTRA); }
export function waitNextOf(reg: usize): usize { return <usize>atomic.load<i32>(reg + W_NEXT); }
