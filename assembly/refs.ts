// Ownership: who holds each reference to a block, so that nothing a thread held outlives it.
//
// Every reference has exactly one holder at any moment, and moving it from one to the next
// is a single straight-line step (see arena.ts on why that survives termination):
//   - a thread's reference table (threads.ts): the host objects of that thread;
//   - another block: a Connection's channels, a transit block's entries, a ring's messages
//     (the transit block named by a message's FIRST record);
//   - a slot: the transit block of a process's arguments until the child takes it (boot).
// When a block's last reference goes, its finalizer lets go of what the block itself holds
// (queued on the releasing thread's free queue, so a long chain never recurses), then the
// arena takes it back. The reaper (reaper.ts) drops whatever a stopped thread still held.
//
// Transit block (payload), the references a message or a process's arguments carry:
//   +0 i32 capacity  +4 i32 used  +8 entries[capacity]: a block payload, or 0 once taken
import {
  HEADER, OK, E_STALE, E_KIND, PEND_FREE, PEND_OP_MASK,
  arenaAlloc, arenaFree, blockAt, blockDrop, blockKind, blockRetain, block_generation,
  THREADS,
} from "./arena";
import {
  SLOTS, SLOT_BYTES, T_BOOT, T_FREE_QUEUE, T_ID, T_LAST_BLOCK, T_LAST_INDEX, T_PEND, T_REFS, T_STATE, T_TABLE,
  DEAD, RESERVED, RUNNING, FLAG_ROOT,
  commitRef, dropRef, freeSlot, initSlot, pickRef, refAt, reserveRefs, reserveSlot, slotOf,
} from "./threads";
import { KIND_CONNECTION, KIND_TRANSIT, isRingKind } from "./kinds";
import { connFinalize } from "./connection";
import { ringNextTransit } from "./ring";

/** The pending step: this block (header) lost its last reference and is being finalized. */
export const PEND_FINALIZE: i32 = 8;

export const E_NOT_HELD: i32 = -6;
export const E_NO_MEMORY: i32 = -7;
export const E_NO_THREAD: i32 = -8;
export const E_NOT_IN_TRANSIT: i32 = -9;

const TR_CAPACITY: usize = 0;
const TR_USED: usize = 4;
const TR_ENTRIES: usize = 8;

@inline function claimerOf(slot: usize): i32 {
  return <i32>((slot - THREADS) / <usize>SLOT_BYTES);
}

/** The slot of a live id (its slot still belongs to it), or 0. */
function ownSlot(id: i32): usize {
  const slot = slotOf(id);
  if (slot == 0 || atomic.load<i32>(slot + T_ID) != id) return 0;
  return slot;
}

@inline function isSlotAddress(address: usize): bool {
  return address >= THREADS && address < THREADS + <usize>SLOTS * <usize>SLOT_BYTES;
}

// ---------------------------------------------------------------- freeing

/** Queues a block (header) whose last reference a finalizer dropped. Straight-line. */
@inline export function pushFree(slot: usize, header: usize): void {
  atomic.store<i32>(header + 4, atomic.load<i32>(slot + T_FREE_QUEUE));
  atomic.store<i32>(slot + T_FREE_QUEUE, <i32>header);
}

/** Lets go of what a block holds. Every step checks whether it is already done, so it may run twice. */
function finalize(slot: usize, header: usize): void {
  const p = header + HEADER;
  const kind = (atomic.load<i32>(header) >> 8) & 0xff;
  if (kind == KIND_TRANSIT) {
    const used = atomic.load<i32>(p + TR_USED);
    for (let i = 0; i < used; i++) {
      const entry = p + TR_ENTRIES + (<usize>i << 2);
      const held = <usize>atomic.load<i32>(entry);
      if (held == 0) continue;
      const last = blockDrop(held);
      // atomic w.r.t. termination
      atomic.store<i32>(entry, 0);
      if (last) pushFree(slot, held - HEADER);
    }
  } else if (isRingKind(kind)) {
    // Messages still in the ring: their transit blocks go with it.
    while (true) {
      const mark = ringNextTransit(p);
      if (mark == 0) break;
      const word = atomic.load<i32>(mark);
      const transit = <usize>(word & ~PEND_OP_MASK);
      const last = blockDrop(transit);
      // atomic w.r.t. termination
      atomic.store<i32>(mark, word & PEND_OP_MASK);
      if (last) pushFree(slot, transit - HEADER);
    }
  } else if (kind == KIND_CONNECTION) {
    connFinalize(p, slot);
  }
}

/**
 * Finalizes and frees the block whose last reference the caller dropped (it set
 * *pend = header | PEND_FINALIZE in the same step), then every block that queued up behind.
 */
export function finishRelease(slot: usize, header: usize): void {
  const pend = slot + T_PEND;
  let h = header;
  while (true) {
    finalize(slot, h);
    atomic.store<i32>(pend, <i32>h | PEND_FREE);
    arenaFree(h, pend);
    const next = <usize>atomic.load<i32>(slot + T_FREE_QUEUE);
    if (next == 0) return;
    // atomic w.r.t. termination
    atomic.store<i32>(slot + T_FREE_QUEUE, atomic.load<i32>(next + 4));
    atomic.store<i32>(pend, <i32>next | PEND_FINALIZE);
    h = next;
  }
}

/** Frees what sits on a slot's free queue (the reaper, after an interruption). */
export function drainFreeQueue(slot: usize): void {
  const next = <usize>atomic.load<i32>(slot + T_FREE_QUEUE);
  if (next == 0) return;
  // atomic w.r.t. termination
  atomic.store<i32>(slot + T_FREE_QUEUE, atomic.load<i32>(next + 4));
  atomic.store<i32>(slot + T_PEND, <i32>next | PEND_FINALIZE);
  finishRelease(slot, next);
}

/**
 * Drops a reference to a slot; frees the slot when it was the last and its thread is gone.
 * Inline: dropTableRef forgets the table entry and calls this in one straight-line step.
 */
@inline export function slotDrop(target: usize): void {
  const left = atomic.sub<i32>(target + T_REFS, 1) - 1;
  if (left <= 0 && atomic.load<i32>(target + T_STATE) == DEAD) freeSlot(target);
}

/**
 * Drops the reference `slot`'s table holds at `index` (a block or a slot), finalizing and
 * freeing what it was the last reference to. Used by block_release and the reaper.
 */
export function dropTableRef(slot: usize, index: i32): void {
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  const address = refAt(slot, index);
  if (address == 0) return;
  if (isSlotAddress(address)) {
    dropRef(table, index);
    slotDrop(address);
    return;
  }
  const last = blockDrop(address);
  // atomic w.r.t. termination
  dropRef(table, index);
  if (last) {
    atomic.store<i32>(slot + T_PEND, <i32>(address - HEADER) | PEND_FINALIZE);
    finishRelease(slot, address - HEADER);
  }
}

// ---------------------------------------------------------------- blocks, as the host sees them

/** Checks that p names a live block of `kind` and `generation`; returns OK or an E_* code. */
export function block_check(p: i32, kind: i32, generation: i32): i32 {
  const status = blockAt(p);
  if (status != OK) return status;
  const header = <usize><u32>p - HEADER;
  const word = atomic.load<i64>(header + 8);
  if (<i32>(word >>> 32) != generation || <i32>word <= 0) return E_STALE;
  if (blockKind(<usize><u32>p) != kind) return E_KIND;
  return OK;
}

/**
 * Allocates a zeroed block of `payload` bytes of `kind` whose one reference thread `id`
 * holds: its payload address (thread_last_index(id) tells where the reference is recorded),
 * or 0 when the memory is full.
 */
export function block_alloc(payload: i32, kind: i32, id: i32): i32 {
  const slot = ownSlot(id);
  if (slot == 0 || !reserveRefs(slot, 1)) return 0;
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  const index = pickRef(table);
  const p = arenaAlloc(payload, kind, slot + T_PEND, claimerOf(slot));
  if (p == 0) return 0;
  // atomic w.r.t. termination
  commitRef(slot, table, index, p);
  atomic.store<i32>(slot + T_PEND, 0);
  return <i32>p;
}

/** Validates a handle and takes a reference for thread `id`: the index it is recorded at, or an E_* code. */
export function block_open(p: i32, kind: i32, generation: i32, id: i32): i32 {
  const status = block_check(p, kind, generation);
  if (status != OK) return status;
  const slot = ownSlot(id);
  if (slot == 0) return E_NO_THREAD;
  if (!reserveRefs(slot, 1)) return E_NO_MEMORY;
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  const index = pickRef(table);
  if (!blockRetain(<usize><u32>p, generation)) return E_STALE;
  // atomic w.r.t. termination
  commitRef(slot, table, index, <usize><u32>p);
  return index;
}

/**
 * Drops the reference thread `id` holds at `index` of its table (which must be p's):
 * 1 if that freed the block, 0 if others still hold it, E_NOT_HELD if the index does not
 * hold p (nothing changes), E_STALE if p is not of `generation`.
 */
export function block_release(p: i32, generation: i32, id: i32, index: i32): i32 {
  const slot = ownSlot(id);
  if (slot == 0) return E_NO_THREAD;
  if (refAt(slot, index) != <usize><u32>p) return E_NOT_HELD;
  if (block_generation(p) != generation) return E_STALE;
  const last = (<i32>atomic.load<i64>(<usize><u32>p - HEADER + 8)) == 1;
  dropTableRef(slot, index);
  return last ? 1 : 0;
}

/** Where the last reference thread `id` took is recorded (after block_alloc, transit_new, …). */
export function thread_last_index(id: i32): i32 {
  const slot = slotOf(id);
  return slot == 0 ? -1 : atomic.load<i32>(slot + T_LAST_INDEX);
}

/** A block the last call of thread `id` handed it (the transit block of a message it got). */
export function thread_last_block(id: i32): i32 {
  const slot = slotOf(id);
  return slot == 0 ? 0 : atomic.load<i32>(slot + T_LAST_BLOCK);
}

/** Makes room for n more references in thread `id`'s table: 1, or 0 when the memory is full. */
export function thread_reserve(id: i32, n: i32): i32 {
  const slot = ownSlot(id);
  return slot != 0 && reserveRefs(slot, n) ? 1 : 0;
}

// ---------------------------------------------------------------- transit

/** A transit block for up to n references, held by thread `id` (index in thread_last_index). 0 when full. */
export function transit_new(id: i32, n: i32): i32 {
  if (n < 0 || n > (1 << 24)) return 0;
  const t = block_alloc(<i32>TR_ENTRIES + (n << 2), KIND_TRANSIT, id);
  if (t != 0) atomic.store<i32>(<usize><u32>t + TR_CAPACITY, n);
  return t;
}

/** Takes a reference on p (of `kind` and `generation`) into transit block t, which thread `id` holds. OK or E_*. */
export function transit_add(t: i32, p: i32, kind: i32, generation: i32): i32 {
  const tp = <usize><u32>t;
  const used = atomic.load<i32>(tp + TR_USED);
  if (used >= atomic.load<i32>(tp + TR_CAPACITY)) return E_NO_MEMORY;
  const status = block_check(p, kind, generation);
  if (status != OK) return status;
  if (!blockRetain(<usize><u32>p, generation)) return E_STALE;
  // atomic w.r.t. termination
  atomic.store<i32>(tp + TR_ENTRIES + (<usize>used << 2), p);
  atomic.store<i32>(tp + TR_USED, used + 1);
  return OK;
}

/**
 * Moves the reference transit block t holds on p (of `generation`) into thread `id`'s table:
 * the index, or E_NOT_IN_TRANSIT when t carries no such reference (a forged or repeated handle).
 */
export function transit_adopt(t: i32, p: i32, generation: i32, id: i32): i32 {
  const slot = ownSlot(id);
  if (slot == 0) return E_NO_THREAD;
  if (!reserveRefs(slot, 1)) return E_NO_MEMORY;
  const tp = <usize><u32>t;
  const used = atomic.load<i32>(tp + TR_USED);
  for (let i = 0; i < used; i++) {
    const entry = tp + TR_ENTRIES + (<usize>i << 2);
    if (atomic.load<i32>(entry) != p) continue;
    if (block_generation(p) != generation) return E_STALE;
    const table = <usize>atomic.load<i32>(slot + T_TABLE);
    const index = pickRef(table);
    // atomic w.r.t. termination
    atomic.store<i32>(entry, 0);
    commitRef(slot, table, index, <usize><u32>p);
    return index;
  }
  return E_NOT_IN_TRANSIT;
}

/** References still carried by transit block t (not yet adopted). */
export function transit_pending(t: i32): i32 {
  const tp = <usize><u32>t;
  const used = atomic.load<i32>(tp + TR_USED);
  let n = 0;
  for (let i = 0; i < used; i++) if (atomic.load<i32>(tp + TR_ENTRIES + (<usize>i << 2)) != 0) n++;
  return n;
}

// ---------------------------------------------------------------- threads

/**
 * Attaches the calling thread as a root (not started by a forkless parent): its new id, or
 * E_NO_THREAD when every slot is taken. Only the thread itself holds its slot.
 */
export function thread_attach(): i32 {
  const scratch = THREADS; // slot 0 is never used: its pend word is a safe scratch word
  const slot = reserveSlot(scratch + T_PEND);
  if (slot == 0) return E_NO_THREAD;
  const id = initSlot(slot, 0, 1, FLAG_ROOT);
  atomic.store<i32>(slot + T_STATE, RUNNING);
  atomic.store<i32>(scratch + T_PEND, 0);
  return id;
}

/**
 * Makes the slot of a child that thread `parent` starts: its id, or E_NO_THREAD/E_NO_MEMORY.
 * The parent's table holds one reference to it (index in thread_last_index(parent)), the
 * child the other; `flags` as threads.ts FLAG_*.
 */
export function thread_new(parent: i32, flags: i32): i32 {
  const parentSlot = ownSlot(parent);
  if (parentSlot == 0) return E_NO_THREAD;
  if (!reserveRefs(parentSlot, 1)) return E_NO_MEMORY;
  const table = <usize>atomic.load<i32>(parentSlot + T_TABLE);
  const index = pickRef(table);
  const slot = reserveSlot(parentSlot + T_PEND);
  if (slot == 0) return E_NO_THREAD;
  const id = initSlot(slot, parent, 2, flags & ~FLAG_ROOT);
  // atomic w.r.t. termination
  commitRef(parentSlot, table, index, slot);
  atomic.store<i32>(slot + T_STATE, RUNNING);
  atomic.store<i32>(parentSlot + T_PEND, 0);
  return id;
}

/** Takes one more reference to thread `target`'s slot for thread `id` (a supervisor tracking it): the index, or E_*. */
export function thread_hold(target: i32, id: i32): i32 {
  const targetSlot = ownSlot(target);
  const slot = ownSlot(id);
  if (targetSlot == 0 || slot == 0) return E_NO_THREAD;
  if (!reserveRefs(slot, 1)) return E_NO_MEMORY;
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  const index = pickRef(table);
  while (true) {
    const refs = atomic.load<i32>(targetSlot + T_REFS);
    if (refs <= 0 || atomic.load<i32>(targetSlot + T_ID) != target) return E_STALE;
    if (atomic.cmpxchg<i32>(targetSlot + T_REFS, refs, refs + 1) == refs) {
      // atomic w.r.t. termination
      commitRef(slot, table, index, targetSlot);
      return index;
    }
  }
}

/** Drops the reference to a thread slot that thread `id` holds at `index`. 1, or E_NOT_HELD. */
export function thread_release(target: i32, id: i32, index: i32): i32 {
  const slot = ownSlot(id);
  const targetSlot = slotOf(target);
  if (slot == 0 || targetSlot == 0 || refAt(slot, index) != targetSlot) return E_NOT_HELD;
  dropTableRef(slot, index);
  return 1;
}

/** The parent hands the child its arguments' transit block (held at tIndex of the parent's table). */
export function thread_boot_give(child: i32, t: i32, parent: i32, tIndex: i32): i32 {
  const childSlot = ownSlot(child);
  const parentSlot = ownSlot(parent);
  if (childSlot == 0 || parentSlot == 0 || refAt(parentSlot, tIndex) != <usize><u32>t) return E_NOT_HELD;
  if (atomic.load<i32>(childSlot + T_BOOT) != 0) return E_NOT_HELD;
  const table = <usize>atomic.load<i32>(parentSlot + T_TABLE);
  // atomic w.r.t. termination
  atomic.store<i32>(childSlot + T_BOOT, t);
  dropRef(table, tIndex);
  return OK;
}

/** The child takes its arguments' transit block into its own table: the block (index in thread_last_index), or 0. */
export function thread_boot_take(id: i32): i32 {
  const slot = ownSlot(id);
  if (slot == 0 || atomic.load<i32>(slot + T_BOOT) == 0 || !reserveRefs(slot, 1)) return 0;
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  const index = pickRef(table);
  const t = atomic.load<i32>(slot + T_BOOT);
  // atomic w.r.t. termination
  commitRef(slot, table, index, <usize><u32>t);
  atomic.store<i32>(slot + T_BOOT, 0);
  atomic.store<i32>(slot + T_LAST_BLOCK, t);
  return t;
}

/** References recorded in thread `id`'s table (tests and diagnostics). */
export function thread_ref_count(id: i32): i32 {
  const slot = slotOf(id);
  if (slot == 0) return 0;
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  return table == 0 ? 0 : atomic.load<i32>(table + 4);
}

export { RESERVED };
