// The block allocator over the one shared memory. Every instance of the module runs this
// code over the same bytes, so all state lives in shared memory, never in globals or
// static data (a second instantiation would reset those).
//
// No lock anywhere: a thread can be terminated at any point, and a lock it held would stop
// every other thread forever. Every change is one atomic step (a CAS or an RMW), and a
// thread that is between steps says so in its *pending word* (one i32 its caller owns:
// the thread's record, see threads.ts): the reaper, which runs only after the thread has
// stopped, reads it and finishes or undoes that one step. What makes that sound: an
// engine stops a terminated thread only at a safe point — a Wasm function's entry, a loop's
// back edge, a wait, or in JS — never between two instructions of straight-line code. So
// "a CAS, then straight-line stores that record what it did" happens whole or not at all;
// every such sequence below is marked `// atomic w.r.t. termination` and must stay free of
// calls (helpers are @inline) and loops.
//
// Memory map (addresses in bytes; a page is a 64 KiB Wasm page):
//   [0, 1024)            unused: address 0 is never a handle
//   [1024, 2048)         arena header (below)
//   [2048, 133120)       thread table: 1024 slots of 128 bytes (threads.ts owns their layout)
//   [133120, …)          page table: one i64 word per page of the memory, maxPages words
//   [heapStart, …)       pages, each FREE, a SLAB of equal blocks, or part of a LARGE block
//
// Arena header at ARENA:
//   +0  i32 magic (0 → INITIALIZING → MAGIC)
//   +4  i32 maxPages       the arena never uses a page at or past it (≤ 65535)
//   +8  i32 heapStart      first heap page (page index)
//   +12 i32 top            pages [heapStart, top) have been handed out at least once
//   +16 i32 blocks         live blocks (statistics; exact when no thread is mid-step)
//   +20 i32 bytes          bytes of live blocks (block sizes, headers included)
//   +24 i32 generation     last generation handed out; every new block takes the next one
//   +28 i32 scanFrom       a page at or after which a free page is likely (a hint)
//   +32 i32 current[11]    per slab class 5…15: the page allocations try first (a hint)
//   +76 i32 internalBlocks live blocks of the module's own bookkeeping (kinds ≥ FIRST_INTERNAL_KIND:
//   +80 i32 internalBytes  reference tables, staging buffers, transit, wait registrations); the
//                          two figures above count the program's objects only
//
// Page word (i64, page table entry of page n at PAGE_TABLE + 8n):
//   bits 0-3   state: FREE, CLAIMED (by the thread in bits 32-63, being set up), SLAB,
//              LARGE (first page of a large block), TAIL (another page of it)
//   bits 4-8   SLAB: block class (5…15)
//   bits 9-20  SLAB: live count = blocks taken + reservations (≤ 2040)
//   bits 32-63 CLAIMED: claimer tag; SLAB class 12-15: the allocation bitmap (≤ 16 blocks);
//              LARGE: number of pages; TAIL: page index of the LARGE page
// A SLAB page with live count 0 is as free as a FREE one: any allocator may claim it.
//
// A slab page of class c holds equal blocks of 2^c bytes. Classes 5-11 keep a bitmap of
// taken blocks in the page's first 2^max(13-c, c) bytes (one bit per block, never handed
// out); classes 12-15 keep it in the page word. Invariant: live ≥ taken bits, because a
// taker reserves (live + 1) before it sets a bit and a freer clears its bit before it
// decrements live; so live == 0 means the bitmap is all zero.
//
// Block header (16 bytes before the payload, which a handle names):
//   +0  i32 tag = TAG_MAGIC << 16 | kind << 8 | class (LARGE_CLASS for large blocks)
//   +4  i32 link: the owner's list pointer (the free worklist, a transit list)
//   +8  i64 generation (high 32) : reference count (low 32), changed only by CAS
//
// Validation knows where blocks really are: a payload address is a block only if the page
// table says its page is a SLAB whose block grid it lies on (and its bit is set) or the
// first page of a LARGE block — so a header forged inside another block's bytes is refused.

export const ARENA: usize = 1024;
export const THREADS: usize = 2048;
export const THREAD_TABLE_BYTES: usize = 131072;
export const PAGE_TABLE: usize = THREADS + THREAD_TABLE_BYTES;
export const HEADER: usize = 16;
export const PAGE: usize = 65536;
const PAGE_SHIFT: u32 = 16;
/** The arena never grows the memory to or past 4 GiB − 64 KiB, so addresses fit in 32 bits. */
export const MAX_PAGES: i32 = 65535;

const A_MAGIC: usize = 0;
const A_MAX_PAGES: usize = 4;
const A_HEAP_START: usize = 8;
const A_TOP: usize = 12;
const A_BLOCKS: usize = 16;
const A_BYTES: usize = 20;
const A_GENERATION: usize = 24;
const A_SCAN_FROM: usize = 28;
const A_CURRENT: usize = 32;
const A_INTERNAL_BLOCKS: usize = 76;
const A_INTERNAL_BYTES: usize = 80;
/** Kinds from here on are the module's own bookkeeping (assembly/kinds.ts), counted apart. */
const FIRST_INTERNAL_KIND: i32 = 16;

const MAGIC: i32 = 0x534c4b46; // "FKLS"
const INITIALIZING: i32 = 1;
const TAG_MAGIC: i32 = 0xf0b1;
export const MIN_CLASS: i32 = 5; // 32 bytes
export const MAX_SLAB_CLASS: i32 = 15; // 32 KiB
/** The biggest block: 2^30 bytes, its header included. */
export const MAX_BLOCK_BYTES: i32 = 1 << 30;
const LARGE_CLASS: i32 = 16;

// Page states.
const P_FREE: i64 = 0;
const P_CLAIMED: i64 = 1;
const P_SLAB: i64 = 2;
const P_LARGE: i64 = 3;
const P_TAIL: i64 = 4;
const STATE_MASK: i64 = 15;
const LIVE_ONE: i64 = 1 << 9;
const LIVE_MASK: i64 = 0xfff << 9;

// Status codes (a namespace of their own: -1 … -9).
export const OK: i32 = 0;
export const E_RANGE: i32 = -1;
export const E_NOT_BLOCK: i32 = -2;
export const E_KIND: i32 = -3;
export const E_STALE: i32 = -4;
export const E_UNINITIALIZED: i32 = -5;

// Pending steps (low 4 bits of a pending word; the high bits are a 16-aligned address).
/** A slab page's live count was raised for us; no bit taken yet. Address: the page. */
export const PEND_RESERVE: i32 = 1;
/** Pages from this one on, claimed by us (CLAIMED with our tag), are being set up. */
export const PEND_CLAIM: i32 = 2;
/** A block is fully allocated and counted; our caller has not yet recorded its owner. Address: its header. */
export const PEND_ALLOCATED: i32 = 3;
/** This block (header) is being freed; its bit is still set. */
export const PEND_FREE: i32 = 4;
/** This block (header) is being freed; bit clear and counted, page live count not yet lowered. */
export const PEND_FREE_LIVE: i32 = 5;
export const PEND_OP_MASK: i32 = 15;

// ---------------------------------------------------------------- small helpers

@inline function pageWordAt(page: u32): usize {
  return PAGE_TABLE + (<usize>page << 3);
}
@inline function pageBase(page: u32): usize {
  return <usize>page << PAGE_SHIFT;
}
@inline function stateOf(word: i64): i64 {
  return word & STATE_MASK;
}
@inline function classOf(word: i64): i32 {
  return <i32>((word >> 4) & 31);
}
@inline function liveOf(word: i64): i32 {
  return <i32>((word & LIVE_MASK) >> 9);
}
@inline function highOf(word: i64): i32 {
  return <i32>(word >>> 32);
}
/** Free for the taking: FREE, or a slab nobody uses. */
@inline function isFreeWord(word: i64): bool {
  return stateOf(word) == P_FREE || (stateOf(word) == P_SLAB && (word & LIVE_MASK) == 0);
}
/** Bytes at the start of a class 5-11 slab page that hold its bitmap (never handed out). */
@inline function slabHeaderBytes(cls: i32): usize {
  return cls >= 12 ? 0 : <usize>1 << <usize>max(13 - cls, cls);
}
/** Blocks in a slab page of this class. */
@inline function slabBlocks(cls: i32): i32 {
  return <i32>((PAGE - slabHeaderBytes(cls)) >> <usize>cls);
}
@inline function tagFor(kind: i32, cls: i32): i32 {
  return (TAG_MAGIC << 16) | (kind << 8) | cls;
}
@inline function ready(): bool {
  return atomic.load<i32>(ARENA + A_MAGIC) == MAGIC;
}

// ---------------------------------------------------------------- setup and figures

/**
 * Sets up the header once; later callers (other instances) wait for it. maxPages caps the
 * arena (the first caller's value wins; clamped to what the memory can reach). Returns 1 if
 * this call did it, 0 if another had, E_RANGE if the memory cannot even hold the tables.
 */
export function arena_init(maxPages: i32): i32 {
  if (atomic.cmpxchg<i32>(ARENA + A_MAGIC, 0, INITIALIZING) == 0) {
    let cap = maxPages;
    if (cap > MAX_PAGES) cap = MAX_PAGES;
    const tableEnd = PAGE_TABLE + (<usize>max(cap, 1) << 3);
    const heapStart = <i32>((tableEnd + PAGE - 1) >> PAGE_SHIFT);
    if (cap <= heapStart || !ensureMemory(<u32>heapStart)) {
      atomic.store<i32>(ARENA + A_MAGIC, 0);
      return E_RANGE;
    }
    atomic.store<i32>(ARENA + A_MAX_PAGES, cap);
    atomic.store<i32>(ARENA + A_HEAP_START, heapStart);
    atomic.store<i32>(ARENA + A_TOP, heapStart);
    atomic.store<i32>(ARENA + A_SCAN_FROM, heapStart);
    atomic.store<i32>(ARENA + A_MAGIC, MAGIC);
    return 1;
  }
  while (true) {
    const magic = atomic.load<i32>(ARENA + A_MAGIC);
    if (magic == MAGIC) return 0;
    if (magic == 0) return arena_init(maxPages); // the first caller failed; try ourselves
  }
}

export function arena_ready(): i32 {
  return ready() ? 1 : 0;
}
export function arena_blocks(): i32 { return atomic.load<i32>(ARENA + A_BLOCKS); }
export function arena_bytes(): i32 { return atomic.load<i32>(ARENA + A_BYTES); }
export function arena_internal_blocks(): i32 { return atomic.load<i32>(ARENA + A_INTERNAL_BLOCKS); }
export function arena_internal_bytes(): i32 { return atomic.load<i32>(ARENA + A_INTERNAL_BYTES); }
/** End of the pages handed out so far, in bytes. */
export function arena_top(): i32 { return atomic.load<i32>(ARENA + A_TOP) << PAGE_SHIFT; }
export function arena_max_pages(): i32 { return atomic.load<i32>(ARENA + A_MAX_PAGES); }
export function arena_heap_start(): i32 { return atomic.load<i32>(ARENA + A_HEAP_START) << PAGE_SHIFT; }

/** Grows the memory (if needed) so that pages [0, pages) exist. */
function ensureMemory(pages: u32): bool {
  while (true) {
    const have = <u32>memory.size();
    if (have >= pages) return true;
    if (memory.grow(<i32>(pages - have)) < 0 && <u32>memory.size() < pages) return false;
  }
}

// ---------------------------------------------------------------- pages

/**
 * Claims `count` consecutive free pages for the caller (state CLAIMED, tagged `claimer`)
 * and returns the first one's index, or 0 when the arena is full. *pend holds
 * PEND_CLAIM | first page's address from before the first claim until the caller moves on,
 * so a thread stopped in here leaves only pages the reaper can find and free.
 */
function claimPages(count: u32, pend: usize, claimer: i32): u32 {
  const heapStart = <u32>atomic.load<i32>(ARENA + A_HEAP_START);
  const cap = <u32>atomic.load<i32>(ARENA + A_MAX_PAGES);
  let from = <u32>atomic.load<i32>(ARENA + A_SCAN_FROM);
  if (from < heapStart) from = heapStart;
  let wrapped = false;
  const claimed: i64 = P_CLAIMED | (<i64>claimer << 32);
  while (true) {
    const top = <u32>atomic.load<i32>(ARENA + A_TOP);
    // Find `count` free pages in a row in [from, top).
    let run: u32 = 0;
    let first: u32 = from;
    let page = from;
    while (page < top && run < count) {
      if (isFreeWord(atomic.load<i64>(pageWordAt(page)))) {
        if (run == 0) first = page;
        run++;
      } else {
        run = 0;
      }
      page++;
    }
    if (run < count) {
      if (!wrapped && from > heapStart) {
        wrapped = true;
        from = heapStart;
        continue;
      }
      // Extend: a run that ends at top may continue past it.
      if (run == 0) first = top;
      const end = first + count;
      if (end > cap || !ensureMemory(end)) return 0;
      if (end > top) atomic.cmpxchg<i32>(ARENA + A_TOP, <i32>top, <i32>end);
      if (<u32>atomic.load<i32>(ARENA + A_TOP) < end) continue; // another thread moved top: look again
    }
    // Claim the run page by page; on any loss, give back what we took and look further on.
    atomic.store<i32>(pend, <i32>pageBase(first) | PEND_CLAIM);
    let taken: u32 = 0;
    while (taken < count) {
      const at = pageWordAt(first + taken);
      const word = atomic.load<i64>(at);
      if (!isFreeWord(word) || atomic.cmpxchg<i64>(at, word, claimed) != word) break;
      taken++;
    }
    if (taken == count) {
      if (first + count < cap) atomic.store<i32>(ARENA + A_SCAN_FROM, <i32>(first + count));
      return first;
    }
    // Last page first: a thread stopped in this loop leaves claimed only pages from `first` on,
    // which is all unclaimPages (from *pend) can find.
    for (let i = taken; i > 0; i--) atomic.store<i64>(pageWordAt(first + i - 1), P_FREE);
    atomic.store<i32>(pend, 0);
    from = first + taken + 1;
    if (from >= cap) {
      if (wrapped) return 0;
      wrapped = true;
      from = heapStart;
    }
  }
  return 0; // not reached
}

/** Frees pages from `first` on that are CLAIMED by `claimer` (a stopped thread's, or our own). */
function unclaimPages(first: u32, claimer: i32): void {
  const cap = <u32>atomic.load<i32>(ARENA + A_MAX_PAGES);
  const claimed: i64 = P_CLAIMED | (<i64>claimer << 32);
  for (let page = first; page < cap; page++) {
    const at = pageWordAt(page);
    const word = atomic.load<i64>(at);
    if (word == claimed) {
      atomic.store<i64>(at, P_FREE);
    } else if (stateOf(word) == P_TAIL && <u32>highOf(word) == first) {
      atomic.store<i64>(at, P_FREE); // a large block set up halfway
    } else {
      break;
    }
  }
}

// ---------------------------------------------------------------- allocation

/** Size class for a block of `total` bytes: 5…15 for slabs, LARGE_CLASS beyond. */
function classFor(total: u32): i32 {
  let cls = MIN_CLASS;
  while (cls <= MAX_SLAB_CLASS && (<u32>1 << cls) < total) cls++;
  return cls;
}

/** The payload bytes a block of `payload` bytes really gets (its capacity). */
export function arena_capacity_for(payload: i32): i32 {
  if (payload < 0 || payload > MAX_BLOCK_BYTES - <i32>HEADER) return 0;
  const total = <u32>payload + <u32>HEADER;
  const cls = classFor(total);
  if (cls <= MAX_SLAB_CLASS) return (1 << cls) - <i32>HEADER;
  return <i32>(((total + <u32>PAGE - 1) >> PAGE_SHIFT) << PAGE_SHIFT) - <i32>HEADER;
}

/** Counts a block of `kind` in (delta 1) or out (-1). */
@inline function count(kind: i32, bytes: usize, delta: i32): void {
  const internal = kind >= FIRST_INTERNAL_KIND;
  atomic.add<i32>(ARENA + (internal ? A_INTERNAL_BLOCKS : A_BLOCKS), delta);
  atomic.add<i32>(ARENA + (internal ? A_INTERNAL_BYTES : A_BYTES), delta * <i32>bytes);
}

@inline function kindAt(header: usize): i32 {
  return (atomic.load<i32>(header) >> 8) & 0xff;
}

/** Writes a new block's header and zeroes its payload, and counts it. Straight-line. */
@inline function initBlock(header: usize, bytes: usize, kind: i32, cls: i32): void {
  memory.fill(header + HEADER, 0, bytes - HEADER);
  atomic.store<i32>(header, tagFor(kind, cls));
  atomic.store<i32>(header + 4, 0);
  const generation = atomic.add<i32>(ARENA + A_GENERATION, 1) + 1;
  atomic.store<i64>(header + 8, (<i64>(generation == 0 ? 1 : generation) << 32) | 1);
  count(kind, bytes, 1);
}

/**
 * Allocates a zeroed block of `payload` bytes of `kind` (1-255) holding one reference;
 * returns its payload address, or 0 when the arena is full (or the request is invalid).
 * On success *pend is PEND_ALLOCATED | header: the caller records who owns the reference
 * and clears *pend in straight-line code right after this returns.
 */
export function arenaAlloc(payload: i32, kind: i32, pend: usize, claimer: i32): usize {
  if (!ready() || payload < 0 || payload > MAX_BLOCK_BYTES - <i32>HEADER || kind <= 0 || kind > 255) return 0;
  const total = <u32>payload + <u32>HEADER;
  const cls = classFor(total);
  if (cls > MAX_SLAB_CLASS) return allocLarge((total + <u32>PAGE - 1) >> PAGE_SHIFT, kind, pend, claimer);
  return allocSmall(cls, kind, pend, claimer);
}

function allocSmall(cls: i32, kind: i32, pend: usize, claimer: i32): usize {
  const capacity = slabBlocks(cls);
  const currentAt = ARENA + A_CURRENT + (<usize>(cls - MIN_CLASS) << 2);
  // 1. Reserve a place (live + 1) in a slab page of this class: the current one, or a new one.
  let page: u32 = 0;
  let word: i64 = 0;
  while (true) {
    page = <u32>atomic.load<i32>(currentAt);
    if (page != 0) {
      word = atomic.load<i64>(pageWordAt(page));
      // live 0 is fine too: a claimer and we CAS the same word, so only one of us wins it.
      if (stateOf(word) == P_SLAB && classOf(word) == cls && liveOf(word) < capacity) {
        if (cls >= 12) {
          // The bitmap is in the word: take the first free block in the same CAS.
          const bits = highOf(word);
          const bit = ctz<i32>(~bits);
          const next = (word + LIVE_ONE) | (<i64>1 << (32 + <i64>bit));
          if (atomic.cmpxchg<i64>(pageWordAt(page), word, next) == word) {
            // atomic w.r.t. termination
            const header = pageBase(page) + (<usize>bit << <usize>cls);
            initBlock(header, <usize>1 << <usize>cls, kind, cls);
            atomic.store<i32>(pend, <i32>header | PEND_ALLOCATED);
            return header + HEADER;
          }
          continue;
        }
        if (atomic.cmpxchg<i64>(pageWordAt(page), word, word + LIVE_ONE) == word) {
          atomic.store<i32>(pend, <i32>pageBase(page) | PEND_RESERVE); // atomic w.r.t. termination
          break;
        }
        continue;
      }
    }
    // A new slab page: claimed, bitmap cleared, then published already reserved for us.
    const fresh = claimPages(1, pend, claimer);
    if (fresh == 0) {
      atomic.store<i32>(pend, 0);
      return 0;
    }
    memory.fill(pageBase(fresh), 0, slabHeaderBytes(cls));
    if (cls >= 12) {
      const header = pageBase(fresh);
      const slab: i64 = P_SLAB | (<i64>cls << 4) | LIVE_ONE | (<i64>1 << 32);
      // atomic w.r.t. termination
      atomic.store<i64>(pageWordAt(fresh), slab);
      initBlock(header, <usize>1 << <usize>cls, kind, cls);
      atomic.store<i32>(pend, <i32>header | PEND_ALLOCATED);
      atomic.store<i32>(currentAt, <i32>fresh);
      return header + HEADER;
    }
    // atomic w.r.t. termination
    atomic.store<i64>(pageWordAt(fresh), P_SLAB | (<i64>cls << 4) | LIVE_ONE);
    atomic.store<i32>(pend, <i32>pageBase(fresh) | PEND_RESERVE);
    atomic.store<i32>(currentAt, <i32>fresh);
    page = fresh;
    break;
  }
  // 2. Take a bit. The reservation guarantees one is free (live counts reservations).
  const base = pageBase(page);
  const words = (capacity + 31) >> 5;
  while (true) {
    for (let w = 0; w < words; w++) {
      const at = base + (<usize>w << 2);
      const bits = atomic.load<i32>(at);
      if (bits == -1) continue;
      const bit = ctz<i32>(~bits);
      const index = (w << 5) + bit;
      if (index >= capacity) continue;
      const old = atomic.or<i32>(at, 1 << bit);
      if ((old & (1 << bit)) == 0) {
        // atomic w.r.t. termination
        const header = base + slabHeaderBytes(cls) + (<usize>index << <usize>cls);
        initBlock(header, <usize>1 << <usize>cls, kind, cls);
        atomic.store<i32>(pend, <i32>header | PEND_ALLOCATED);
        return header + HEADER;
      }
    }
  }
}

function allocLarge(pages: u32, kind: i32, pend: usize, claimer: i32): usize {
  const first = claimPages(pages, pend, claimer);
  if (first == 0) {
    atomic.store<i32>(pend, 0);
    return 0;
  }
  for (let i: u32 = 1; i < pages; i++) atomic.store<i64>(pageWordAt(first + i), P_TAIL | (<i64>first << 32));
  const header = pageBase(first);
  const bytes = <usize>pages << PAGE_SHIFT;
  memory.fill(header + HEADER, 0, bytes - HEADER);
  // atomic w.r.t. termination
  atomic.store<i64>(pageWordAt(first), P_LARGE | (<i64>pages << 32));
  atomic.store<i32>(header, tagFor(kind, LARGE_CLASS));
  atomic.store<i32>(header + 4, 0);
  const generation = atomic.add<i32>(ARENA + A_GENERATION, 1) + 1;
  atomic.store<i64>(header + 8, (<i64>(generation == 0 ? 1 : generation) << 32) | 1);
  count(kind, bytes, 1);
  atomic.store<i32>(pend, <i32>header | PEND_ALLOCATED);
  return header + HEADER;
}

// ---------------------------------------------------------------- freeing

/** Bytes of the block whose header is at `header` (its class, or its pages). */
export function blockBytes(header: usize): usize {
  const cls = atomic.load<i32>(header) & 0xff;
  if (cls != LARGE_CLASS) return <usize>1 << <usize>cls;
  return <usize>highOf(atomic.load<i64>(pageWordAt(<u32>(header >> PAGE_SHIFT)))) << PAGE_SHIFT;
}

/**
 * Gives a block back to its page. The caller set *pend = PEND_FREE | header (in straight-line
 * code with the CAS that dropped the last reference); this clears it. Safe to call again for
 * the same block after an interruption (the reaper does): each step checks whether it is done.
 */
export function arenaFree(header: usize, pend: usize): void {
  const page = <u32>(header >> PAGE_SHIFT);
  const at = pageWordAt(page);
  const word = atomic.load<i64>(at);
  const state = stateOf(word);
  if (state == P_LARGE) {
    if (pageBase(page) != header) return;
    const pages = <u32>highOf(word);
    for (let i: u32 = 1; i < pages; i++) {
      const tail = pageWordAt(page + i);
      if (atomic.load<i64>(tail) == (P_TAIL | (<i64>page << 32))) atomic.store<i64>(tail, P_FREE);
    }
    // atomic w.r.t. termination
    atomic.store<i64>(at, P_FREE);
    count(kindAt(header), <usize>pages << PAGE_SHIFT, -1);
    atomic.store<i32>(pend, 0);
    lowerScanFrom(page);
    return;
  }
  if (state != P_SLAB) {
    atomic.store<i32>(pend, 0);
    return;
  }
  const cls = classOf(word);
  const offset = header - pageBase(page) - slabHeaderBytes(cls);
  const index = <i32>(offset >> <usize>cls);
  if (cls >= 12) {
    const bit: i64 = <i64>1 << (32 + <i64>index);
    while (true) {
      const w = atomic.load<i64>(at);
      if ((w & bit) == 0) break; // already given back
      if (atomic.cmpxchg<i64>(at, w, (w - LIVE_ONE) & ~bit) == w) {
        // atomic w.r.t. termination
        count(kindAt(header), <usize>1 << <usize>cls, -1);
        break;
      }
    }
    atomic.store<i32>(pend, 0);
    return;
  }
  const bitAt = pageBase(page) + (<usize>(index >> 5) << 2);
  const mask = 1 << (index & 31);
  if ((atomic.load<i32>(pend) & PEND_OP_MASK) == PEND_FREE) {
    const old = atomic.and<i32>(bitAt, ~mask);
    // atomic w.r.t. termination
    if ((old & mask) != 0) {
      count(kindAt(header), <usize>1 << <usize>cls, -1);
      atomic.store<i32>(pend, <i32>header | PEND_FREE_LIVE);
    } else {
      atomic.store<i32>(pend, 0); // it was already free: nothing more to undo
      return;
    }
  }
  // atomic w.r.t. termination
  atomic.sub<i64>(at, LIVE_ONE);
  atomic.store<i32>(pend, 0);
}

function lowerScanFrom(page: u32): void {
  while (true) {
    const from = atomic.load<i32>(ARENA + A_SCAN_FROM);
    if (<u32>from <= page || atomic.cmpxchg<i32>(ARENA + A_SCAN_FROM, from, <i32>page) == from) return;
  }
}

/**
 * Finishes or undoes the step a stopped thread was in, from its pending word (the reaper
 * calls this once the thread can no longer run). `ownerRecorded` says whether the block of a
 * PEND_ALLOCATED step reached its owner (the caller looked); if not, it is freed. Clears *pend.
 */
export function arenaRecover(pend: usize, claimer: i32, ownerRecorded: bool): void {
  const word = atomic.load<i32>(pend);
  const op = word & PEND_OP_MASK;
  const address = <usize>(word & ~PEND_OP_MASK);
  if (op == PEND_RESERVE) {
    atomic.sub<i64>(pageWordAt(<u32>(address >> PAGE_SHIFT)), LIVE_ONE);
  } else if (op == PEND_CLAIM) {
    unclaimPages(<u32>(address >> PAGE_SHIFT), claimer);
  } else if (op == PEND_ALLOCATED) {
    if (!ownerRecorded) {
      // Nobody holds it: drop its one reference and free it.
      const gen = atomic.load<i64>(address + 8) >>> 32;
      atomic.store<i64>(address + 8, ((gen + 1) & 0xffffffff) << 32);
      atomic.store<i32>(pend, <i32>address | PEND_FREE);
      arenaFree(address, pend);
    }
  } else if (op == PEND_FREE || op == PEND_FREE_LIVE) {
    arenaFree(address, pend);
  }
  atomic.store<i32>(pend, 0);
}

// ---------------------------------------------------------------- validation

/** E_* unless p is the payload of a block that is allocated right now (any kind, any generation). */
export function blockAt(p: i32): i32 {
  if (!ready()) return E_UNINITIALIZED;
  const payload = <usize><u32>p;
  const heapStart = <usize>atomic.load<i32>(ARENA + A_HEAP_START) << PAGE_SHIFT;
  const top = <usize>atomic.load<i32>(ARENA + A_TOP) << PAGE_SHIFT;
  if ((payload & 15) != 0 || payload < heapStart + HEADER || payload >= top) return E_RANGE;
  const header = payload - HEADER;
  const page = <u32>(header >> PAGE_SHIFT);
  const word = atomic.load<i64>(pageWordAt(page));
  const state = stateOf(word);
  if (state == P_LARGE) {
    if (header != pageBase(page) || (atomic.load<i32>(header) & 0xff) != LARGE_CLASS) return E_NOT_BLOCK;
  } else if (state == P_SLAB) {
    const cls = classOf(word);
    const headerBytes = slabHeaderBytes(cls);
    const offset = header - pageBase(page);
    if (offset < headerBytes || ((offset - headerBytes) & ((<usize>1 << <usize>cls) - 1)) != 0) return E_NOT_BLOCK;
    const index = <i32>((offset - headerBytes) >> <usize>cls);
    if (index >= slabBlocks(cls)) return E_NOT_BLOCK;
    const taken = cls >= 12
      ? (highOf(word) & (1 << index)) != 0
      : (atomic.load<i32>(pageBase(page) + (<usize>(index >> 5) << 2)) & (1 << (index & 31))) != 0;
    // On the grid but not taken: a block that was freed (its handle is stale), not a forgery.
    if (!taken) return E_STALE;
    if ((atomic.load<i32>(header) & 0xff) != cls) return E_NOT_BLOCK;
  } else if (state == P_FREE) {
    return E_STALE; // its page went back to the arena with everything on it
  } else {
    return E_NOT_BLOCK;
  }
  if ((atomic.load<i32>(header) >>> 16) != TAG_MAGIC) return E_NOT_BLOCK;
  return OK;
}

/** The kind byte of a block blockAt() accepted. */
export function blockKind(p: usize): i32 {
  return (atomic.load<i32>(p - HEADER) >> 8) & 0xff;
}

/** Payload bytes of a block blockAt() accepted. */
export function block_capacity(p: i32): i32 {
  return <i32>(blockBytes(<usize><u32>p - HEADER) - HEADER);
}

export function block_generation(p: i32): i32 {
  return <i32>(atomic.load<i64>(<usize><u32>p - HEADER + 8) >>> 32);
}

export function block_refs(p: i32): i32 {
  return <i32>atomic.load<i64>(<usize><u32>p - HEADER + 8);
}

// ---------------------------------------------------------------- references

/**
 * Takes one more reference on the block at payload p if it is still of `generation`:
 * true, or false when it was freed meanwhile. The caller validated p (blockAt) or holds a
 * reference already; it records the new one in straight-line code right after.
 */
export function blockRetain(p: usize, generation: i32): bool {
  const at = p - HEADER + 8;
  while (true) {
    const word = atomic.load<i64>(at);
    if (<i32>(word >>> 32) != generation || <i32>word <= 0) return false;
    if (atomic.cmpxchg<i64>(at, word, word + 1) == word) return true;
  }
}

/**
 * Drops one reference on the block at payload p: true if it was the last one — the
 * generation moved on, so every handle to it is stale, and the caller must finalize and
 * free it (refs.ts). The caller records the drop in straight-line code right after.
 */
export function blockDrop(p: usize): bool {
  const at = p - HEADER + 8;
  while (true) {
    const word = atomic.load<i64>(at);
    const refs = <i32>word;
    if (refs <= 0) return false; // not held: nothing to drop (a bug elsewhere must not free twice)
    if (refs > 1) {
      if (atomic.cmpxchg<i64>(at, word, word - 1) == word) return false;
      continue;
    }
    let next = <i32>(word >>> 32) + 1;
    if (next == 0) next = 1;
    if (atomic.cmpxchg<i64>(at, word, <i64>next << 32) == word) return true;
  }
}

/** The payload of the first allocated block after payload p (0: from the start), or 0 at the end. Reads only. */
export function arena_next_block(p: i32): i32 {
  if (!ready()) return 0;
  const heapStart = <u32>atomic.load<i32>(ARENA + A_HEAP_START);
  const top = <u32>atomic.load<i32>(ARENA + A_TOP);
  let page = p == 0 ? heapStart : <u32>((<usize><u32>p - HEADER) >> PAGE_SHIFT);
  let after: usize = p == 0 ? 0 : <usize><u32>p - HEADER;
  while (page < top) {
    const word = atomic.load<i64>(pageWordAt(page));
    const state = stateOf(word);
    if (state == P_LARGE) {
      if (pageBase(page) > after || after == 0) return <i32>(pageBase(page) + HEADER);
      page += max<u32>(1, <u32>highOf(word));
      continue;
    }
    if (state == P_SLAB) {
      const cls = classOf(word);
      const capacity = slabBlocks(cls);
      for (let i = 0; i < capacity; i++) {
        const header = pageBase(page) + slabHeaderBytes(cls) + (<usize>i << <usize>cls);
        if (after != 0 && header <= after) continue;
        const set = cls >= 12
          ? (highOf(word) & (1 << i)) != 0
          : (atomic.load<i32>(pageBase(page) + (<usize>(i >> 5) << 2)) & (1 << (i & 31))) != 0;
        if (set) return <i32>(header + HEADER);
      }
    }
    page++;
  }
  return 0;
}

// ---------------------------------------------------------------- consistency check (tests)

/**
 * Walks every page and block and checks the invariants: bitmaps agree with live counts and
 * headers, counters agree with what is allocated, no page is left CLAIMED. Returns 0 when all
 * hold, otherwise a code naming the first broken one (for tests and diagnostics; it reads
 * without stopping anyone, so call it when no thread is allocating).
 */
export function arena_check(): i32 {
  if (!ready()) return E_UNINITIALIZED;
  const heapStart = <u32>atomic.load<i32>(ARENA + A_HEAP_START);
  const top = <u32>atomic.load<i32>(ARENA + A_TOP);
  let blocks = 0;
  let bytes: i64 = 0;
  let internalBlocks = 0;
  let internalBytes: i64 = 0;
  let page = heapStart;
  while (page < top) {
    const word = atomic.load<i64>(pageWordAt(page));
    const state = stateOf(word);
    if (state == P_CLAIMED) return 1;
    if (state == P_TAIL) return 2; // a tail not reached from its LARGE page
    if (state == P_LARGE) {
      const pages = <u32>highOf(word);
      if (pages == 0 || page + pages > top) return 3;
      for (let i: u32 = 1; i < pages; i++) {
        if (atomic.load<i64>(pageWordAt(page + i)) != (P_TAIL | (<i64>page << 32))) return 4;
      }
      if (<i32>atomic.load<i64>(pageBase(page) + 8) <= 0) return 5; // allocated, yet no reference
      if (kindAt(pageBase(page)) >= FIRST_INTERNAL_KIND) {
        internalBlocks++;
        internalBytes += <i64>pages << PAGE_SHIFT;
      } else {
        blocks++;
        bytes += <i64>pages << PAGE_SHIFT;
      }
      page += pages;
      continue;
    }
    if (state == P_SLAB) {
      const cls = classOf(word);
      if (cls < MIN_CLASS || cls > MAX_SLAB_CLASS) return 6;
      const capacity = slabBlocks(cls);
      let taken = 0;
      for (let i = 0; i < capacity; i++) {
        const set = cls >= 12
          ? (highOf(word) & (1 << i)) != 0
          : (atomic.load<i32>(pageBase(page) + (<usize>(i >> 5) << 2)) & (1 << (i & 31))) != 0;
        if (!set) continue;
        taken++;
        const header = pageBase(page) + slabHeaderBytes(cls) + (<usize>i << <usize>cls);
        if ((atomic.load<i32>(header) & 0xff) != cls || (atomic.load<i32>(header) >>> 16) != TAG_MAGIC) return 7;
        if (<i32>atomic.load<i64>(header + 8) <= 0) return 8;
        if (kindAt(header) >= FIRST_INTERNAL_KIND) {
          internalBlocks++;
          internalBytes += <i64>1 << cls;
        } else {
          blocks++;
          bytes += <i64>1 << cls;
        }
      }
      if (taken != liveOf(word)) return 9;
      if (cls < 12) {
        // Bits past the last block must never be set.
        const words = (capacity + 31) >> 5;
        const spare = (words << 5) - capacity;
        if (spare > 0 && (atomic.load<i32>(pageBase(page) + (<usize>(words - 1) << 2)) >>> (32 - spare)) != 0) return 10;
      }
    }
    page++;
  }
  if (blocks != atomic.load<i32>(ARENA + A_BLOCKS)) return 11;
  if (bytes != <i64>atomic.load<i32>(ARENA + A_BYTES)) return 12;
  if (internalBlocks != atomic.load<i32>(ARENA + A_INTERNAL_BLOCKS)) return 13;
  if (internalBytes != <i64>atomic.load<i32>(ARENA + A_INTERNAL_BYTES)) return 14;
  return 0;
}
