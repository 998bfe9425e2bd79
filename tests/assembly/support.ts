// Shared helpers for the assembly specs (not a spec itself: the entries glob is *.spec.ts).
//
// Every spec file runs in a fresh shared memory (as-pect.config.mjs): the first setup() call
// initializes the arena with a cap that keeps every heap page below MEMORY_BASE (where
// as-pect's own data and heap begin) and attaches "the spec's thread" (me()). Other threads
// are further slots (spawn()), stopped the way a real death leaves them (thread_terminate or
// thread_exit, then thread_reap): as-pect runs one instance on one thread.
import {
  ARENA, HEADER, PAGE, PAGE_TABLE, PEND_FREE, THREADS,
  arena_init, arena_max_pages, arena_check, arena_blocks, arena_bytes, arena_internal_blocks, arena_internal_bytes,
  arenaAlloc, arenaFree, blockDrop, block_capacity,
} from "../../assembly/arena";
import { SLOT_BYTES, T_PEND, refAt, slotAt, tableCapacity, thread_terminate, T_TABLE } from "../../assembly/threads";
import { block_alloc, thread_attach, thread_new, thread_release, thread_reserve } from "../../assembly/refs";
import { thread_reap } from "../../assembly/reaper";
import { now } from "../../assembly/wait";

/** Must equal options.memoryBase in tests/assembly/as-pect.asconfig.json. */
export const MEMORY_BASE: usize = 32 << 20;
/** The most pages a spec may give arena_init: page n covers [n * 64 KiB, (n + 1) * 64 KiB). */
export const MAX_SPEC_PAGES: i32 = <i32>(MEMORY_BASE / PAGE);
/** The cap setup() uses unless a spec asks for another: a 4 MiB arena. */
export const DEFAULT_PAGES: i32 = 64;

// Page words (arena.ts: the page table's layout).
export const P_FREE: i64 = 0;
export const P_CLAIMED: i64 = 1;
export const P_SLAB: i64 = 2;
export const P_LARGE: i64 = 3;
export const P_TAIL: i64 = 4;
export const LIVE_ONE: i64 = 1 << 9;
// Arena header words (arena.ts).
export const A_TOP: usize = ARENA + 12;
export const A_BLOCKS: usize = ARENA + 16;
export const A_BYTES: usize = ARENA + 20;
export const A_SCAN_FROM: usize = ARENA + 28;
export const A_CURRENT: usize = ARENA + 32;

let mainId: i32 = 0;

/** Initializes the arena (once per spec file) and attaches the spec's own thread; returns its id. */
export function setup(maxPages: i32 = DEFAULT_PAGES): i32 {
  if (mainId != 0) return mainId;
  assert(maxPages <= MAX_SPEC_PAGES, "a spec's arena must stay below MEMORY_BASE");
  assert(arena_init(maxPages) >= 0, "arena_init failed");
  // Every page the arena may ever use ends at or below MEMORY_BASE.
  assert(<usize>arena_max_pages() * PAGE <= MEMORY_BASE, "the arena could grow into as-pect's memory");
  mainId = thread_attach();
  assert(mainId > 0, "thread_attach failed");
  // Its reference table exists from the start (a spec's baseline figures include it).
  assert(thread_reserve(mainId, 32) == 1, "thread_reserve failed");
  return mainId;
}

/** The spec's own thread (a root thread). */
export function me(): i32 {
  return setup();
}

/** A zeroed block of `kind` held by thread `id` (the spec's by default); fails the spec if memory is full. */
export function alloc(payload: i32, kind: i32, id: i32 = 0): i32 {
  const owner = id == 0 ? me() : id;
  const p = block_alloc(payload, kind, owner);
  assert(p != 0, "block_alloc failed");
  assert(<usize><u32>p + <usize>block_capacity(p) <= MEMORY_BASE, "a block reached as-pect's memory");
  return p;
}

/** A child of `parent` (the spec's thread by default), RUNNING; the parent holds a reference to its slot. */
export function spawn(parent: i32 = 0): i32 {
  const id = thread_new(parent == 0 ? me() : parent, 0);
  assert(id > 0, "thread_new failed");
  return id;
}

/** The index in thread `id`'s reference table that records `address`, or -1. */
export function indexOf(id: i32, address: usize): i32 {
  const slot = slotAt(id);
  const table = <usize>atomic.load<i32>(slot + T_TABLE);
  if (table == 0) return -1;
  const capacity = tableCapacity(table);
  for (let i = 0; i < capacity; i++) if (refAt(slot, i) == address) return i;
  return -1;
}

/** Terminates and reaps thread `id` (as a supervisor does once its worker has stopped). */
export function kill(id: i32, code: i32 = -15): i32 {
  thread_terminate(id, code);
  return thread_reap(id, code, me());
}

/** Drops the reference the parent (the spec's thread by default) holds to child `id`'s slot. */
export function forget(id: i32, parent: i32 = 0): i32 {
  const holder = parent == 0 ? me() : parent;
  return thread_release(id, holder, indexOf(holder, slotAt(id)));
}

/** The pending word of thread `id`'s slot. */
export function pendOf(id: i32): usize {
  return slotAt(id) + T_PEND;
}

/** The claimer tag arena.ts records for thread `id` (its slot index). */
export function claimerOf(id: i32): i32 {
  return <i32>((slotAt(id) - THREADS) / <usize>SLOT_BYTES);
}

/** arenaAlloc as block_alloc drives it, minus the reference table: 0 when the arena is full. */
export function rawAlloc(payload: i32, kind: i32, id: i32 = 0): i32 {
  const owner = id == 0 ? me() : id;
  const p = arenaAlloc(payload, kind, pendOf(owner), claimerOf(owner));
  atomic.store<i32>(pendOf(owner), 0); // "the caller recorded its owner"
  return <i32>p;
}

/** Drops the one reference of a rawAlloc block and frees it, as refs.ts does. */
export function rawFree(p: i32, id: i32 = 0): void {
  const owner = id == 0 ? me() : id;
  assert(blockDrop(<usize><u32>p), "rawFree: not the last reference");
  const header = <usize><u32>p - HEADER;
  atomic.store<i32>(pendOf(owner), <i32>header | PEND_FREE);
  arenaFree(header, pendOf(owner));
}

// ---- pages

export function pageOf(p: i32): u32 {
  return <u32>((<usize><u32>p - HEADER) >> 16);
}
export function pageWordAt(page: u32): usize {
  return PAGE_TABLE + (<usize>page << 3);
}
export function pageWord(page: u32): i64 {
  return atomic.load<i64>(pageWordAt(page));
}
export function pageState(page: u32): i64 {
  return pageWord(page) & 15;
}
export function pageClass(page: u32): i32 {
  return <i32>((pageWord(page) >> 4) & 31);
}
export function pageLive(page: u32): i32 {
  return <i32>((pageWord(page) >> 9) & 0xfff);
}
export function pageHigh(page: u32): i32 {
  return <i32>(pageWord(page) >>> 32);
}
export function topPage(): u32 {
  return <u32>atomic.load<i32>(A_TOP);
}

/** Bytes a class 5-11 slab page keeps for its bitmap (arena.ts). */
export function slabHeaderBytes(cls: i32): i32 {
  return cls >= 12 ? 0 : 1 << max(13 - cls, cls);
}
/** Blocks in a slab page of class cls. */
export function slabBlocks(cls: i32): i32 {
  return (65536 - slabHeaderBytes(cls)) >> cls;
}

// ---- memory figures

/** The arena's four memory figures at one moment. */
export class Figures {
  blocks: i32 = arena_blocks();
  bytes: i32 = arena_bytes();
  internalBlocks: i32 = arena_internal_blocks();
  internalBytes: i32 = arena_internal_bytes();
}

/** Expects the figures to equal `before` and every arena invariant to hold. */
export function expectFigures(before: Figures, what: string = ""): void {
  expect(arena_check()).toBe(0, "arena_check " + what);
  expect(arena_blocks()).toBe(before.blocks, "arena_blocks " + what);
  expect(arena_bytes()).toBe(before.bytes, "arena_bytes " + what);
  expect(arena_internal_blocks()).toBe(before.internalBlocks, "arena_internal_blocks " + what);
  expect(arena_internal_bytes()).toBe(before.internalBytes, "arena_internal_bytes " + what);
}

/** Milliseconds elapsed since t0 (both from the module's env.now). */
export function since(t0: f64): f64 {
  return now() - t0;
}
