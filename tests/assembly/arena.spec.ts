// arena.ts: pages, slab classes, large blocks, validation through the page table, exhaustion and
// reclaiming, and the pending-step recovery a stopped thread's reaper runs (arenaRecover via
// thread_reap). Blocks here are mostly raw (arenaAlloc/arenaFree as refs.ts drives them) so the
// figures move by exactly the block under test; refs.spec.ts covers who holds them.
import {
  ARENA, HEADER, PAGE, MAX_BLOCK_BYTES, MIN_CLASS, MAX_SLAB_CLASS,
  OK, E_RANGE, E_NOT_BLOCK, E_KIND, E_STALE, E_UNINITIALIZED,
  PEND_RESERVE, PEND_CLAIM, PEND_ALLOCATED, PEND_FREE, PEND_FREE_LIVE,
  arena_init, arena_ready, arena_blocks, arena_bytes, arena_internal_blocks, arena_internal_bytes, arena_top,
  arena_max_pages, arena_heap_start, arena_capacity_for, arena_check, arena_next_block,
  arenaAlloc, arenaFree, arenaRecover, blockAt, blockDrop, blockRetain, block_capacity, block_generation, block_refs,
} from "../../assembly/arena";
import { block_alloc, block_check, block_release, thread_attach, thread_ref_count, thread_reserve } from "../../assembly/refs";
import { T_TABLE, commitRef, dropRef, pickRef, reserveRefs, slotAt, thread_state, DEAD } from "../../assembly/threads";
import { thread_detach } from "../../assembly/reaper";
import { KIND_VALUE, KIND_SHARED_ARRAY, KIND_REFTABLE, KIND_SCRATCH } from "../../assembly/kinds";
import {
  MEMORY_BASE, P_FREE, P_CLAIMED, P_SLAB, P_LARGE, P_TAIL, LIVE_ONE, A_TOP, A_BLOCKS, A_BYTES, A_CURRENT,
  Figures, expectFigures, setup, me, alloc, spawn, kill, forget, indexOf, pendOf, claimerOf, rawAlloc, rawFree,
  pageOf, pageWordAt, pageWord, pageState, pageClass, pageLive, pageHigh, topPage, slabHeaderBytes, slabBlocks,
} from "./support";

/** This file's arena: 40 pages (the tables take 3, so 37 heap pages, 2.3 MiB). */
const CAP: i32 = 40;
const K: i32 = KIND_SHARED_ARRAY;
const GENERATION: usize = ARENA + 24;

function pageBase(page: u32): usize {
  return <usize>page << 16;
}
function headerOf(p: i32): usize {
  return <usize><u32>p - HEADER;
}
function isZeroed(p: i32, bytes: i32): bool {
  for (let i = 0; i < bytes; i++) if (load<u8>(<usize><u32>p + <usize>i) != 0) return false;
  return true;
}
function isFreeWord(word: i64): bool {
  return (word & 15) == P_FREE || ((word & 15) == P_SLAB && (word & (0xfff << 9)) == 0);
}
function heapStartPage(): u32 {
  return <u32>(arena_heap_start() >> 16);
}
/** Bitmap bit of a slab block (class < 12: in the page's first bytes; else in the page word). */
function bitSet(p: i32): bool {
  const page = pageOf(p);
  const cls = pageClass(page);
  const index = <i32>((headerOf(p) - pageBase(page) - <usize>slabHeaderBytes(cls)) >> <usize>cls);
  if (cls >= 12) return (pageHigh(page) & (1 << index)) != 0;
  return (atomic.load<i32>(pageBase(page) + (<usize>(index >> 5) << 2)) & (1 << (index & 31))) != 0;
}
/**
 * n pages in a row that an allocator could claim now, as claimPages finds them: from the heap
 * start, extending the top (by hand, as claimPages does) when the run reaches it.
 */
function freeRun(n: u32): u32 {
  const top = topPage();
  let run: u32 = 0;
  let first = heapStartPage();
  for (let page = heapStartPage(); page < top; page++) {
    if (isFreeWord(pageWord(page))) {
      if (run == 0) first = page;
      if (++run == n) return first;
    } else {
      run = 0;
    }
  }
  if (run == 0) first = top;
  assert(first + n <= <u32>CAP, "freeRun: the arena is full");
  if (first + n > top) atomic.store<i32>(A_TOP, <i32>(first + n));
  return first;
}
/** The longest run of claimable pages below the cap (pages past the top are free). */
function longestFreeRun(): u32 {
  let best: u32 = 0;
  let run: u32 = 0;
  for (let page = heapStartPage(); page < <u32>CAP; page++) {
    if (page >= topPage() || isFreeWord(pageWord(page))) {
      run++;
      if (run > best) best = run;
    } else {
      run = 0;
    }
  }
  return best;
}

/** Fills every place in the arena, biggest blocks first; returns them. */
function fillArena(): Array<i32> {
  const ps = new Array<i32>(0);
  for (let size = 65536 - 16; size >= 16; size = ((size + 16) >> 1) - 16) {
    while (true) {
      const p = rawAlloc(size, K);
      if (p == 0) break;
      ps.push(p);
    }
  }
  return ps;
}

describe("before arena_init", () => {
  test("each spec file gets a fresh memory: the arena is not ready", () => {
    expect(arena_ready()).toBe(0);
    expect(load<i32>(ARENA)).toBe(0);
    expect(arena_check()).toBe(E_UNINITIALIZED);
    expect(arena_next_block(0)).toBe(0);
  });

  test("validation says E_UNINITIALIZED; allocation returns 0 and records nothing", () => {
    expect(blockAt(4 * <i32>PAGE + 16)).toBe(E_UNINITIALIZED);
    expect(block_check(4 * <i32>PAGE + 16, K, 1)).toBe(E_UNINITIALIZED);
    const id = thread_attach(); // the thread table needs no arena
    expect(id).toBeGreaterThan(0);
    expect(arenaAlloc(16, K, pendOf(id), claimerOf(id))).toBe(0);
    expect(atomic.load<i32>(pendOf(id))).toBe(0);
    expect(block_alloc(16, K, id)).toBe(0);
    expect(thread_ref_count(id)).toBe(0);
    expect(thread_detach(id)).toBe(1);
    expect(thread_state(id)).toBe(DEAD);
  });

  test("a cap too small to hold the tables: E_RANGE, and the arena stays uninitialized", () => {
    expect(arena_init(2)).toBe(E_RANGE); // the tables alone reach into page 2
    expect(arena_ready()).toBe(0);
    expect(load<i32>(ARENA)).toBe(0);
  });
});

describe("arena_init", () => {
  test("the first call sets up the header and returns 1; later calls return 0 and change nothing", () => {
    expect(arena_init(CAP)).toBe(1);
    expect(arena_ready()).toBe(1);
    expect(arena_max_pages()).toBe(CAP);
    // thread table [2048, 133120), page table 8 bytes a page: the heap starts at the next page
    expect(arena_heap_start()).toBe(3 * <i32>PAGE);
    expect(arena_top()).toBe(arena_heap_start());
    expect(arena_blocks()).toBe(0);
    expect(arena_bytes()).toBe(0);
    expect(arena_internal_blocks()).toBe(0);
    expect(arena_internal_bytes()).toBe(0);
    expect(arena_check()).toBe(0);
    expect(arena_init(65535)).toBe(0);
    expect(arena_init(4)).toBe(0);
    expect(arena_max_pages()).toBe(CAP);
    expect(setup(CAP)).toBeGreaterThan(0);
  });

  test("as-pect's static data and heap live at or above MEMORY_BASE; the arena's cap ends below it", () => {
    expect(changetype<usize>("a static string")).toBeGreaterThanOrEqual(MEMORY_BASE);
    expect(__heap_base).toBeGreaterThanOrEqual(MEMORY_BASE);
    expect(changetype<usize>(new ArrayBuffer(64))).toBeGreaterThanOrEqual(MEMORY_BASE);
    expect(<usize>arena_max_pages() * PAGE).toBeLessThanOrEqual(MEMORY_BASE);
  });
});

describe("size classes", () => {
  beforeAll(() => { setup(CAP); thread_reserve(me(), 16); });

  test("arena_capacity_for: payload + 16 rounded up to a power of two from 32 to 32 KiB, then whole pages", () => {
    expect(arena_capacity_for(0)).toBe(16);
    expect(arena_capacity_for(16)).toBe(16);
    for (let c = MIN_CLASS; c <= MAX_SLAB_CLASS; c++) {
      expect(arena_capacity_for((1 << c) - 16)).toBe((1 << c) - 16, "fits class " + c.toString());
      if (c < MAX_SLAB_CLASS) expect(arena_capacity_for((1 << c) - 15)).toBe((1 << (c + 1)) - 16);
    }
    expect(arena_capacity_for(32768 - 15)).toBe(65536 - 16);
    expect(arena_capacity_for(65536 - 16)).toBe(65536 - 16);
    expect(arena_capacity_for(65536 - 15)).toBe(2 * 65536 - 16);
    expect(arena_capacity_for(MAX_BLOCK_BYTES - 16)).toBe(MAX_BLOCK_BYTES - 16);
    expect(arena_capacity_for(MAX_BLOCK_BYTES - 15)).toBe(0);
    expect(arena_capacity_for(-1)).toBe(0);
  });

  test("every slab class: its page says SLAB of that class, the block lies on the page's grid and is counted", () => {
    for (let c = MIN_CLASS; c <= MAX_SLAB_CLASS; c++) {
      const before = new Figures();
      const p = rawAlloc((1 << c) - 16, K);
      expect(p).not.toBe(0);
      expect(p & 15).toBe(0);
      expect(block_capacity(p)).toBe((1 << c) - 16);
      const page = pageOf(p);
      expect(pageState(page)).toBe(P_SLAB);
      expect(pageClass(page)).toBe(c);
      const offset = <i32>(headerOf(p) - pageBase(page)) - slabHeaderBytes(c);
      expect(offset).toBeGreaterThanOrEqual(0, "past the bitmap, class " + c.toString());
      expect(offset & ((1 << c) - 1)).toBe(0, "on the grid, class " + c.toString());
      expect(bitSet(p)).toBe(true);
      expect(block_refs(p)).toBe(1);
      expect(blockAt(p)).toBe(OK);
      expect(arena_blocks()).toBe(before.blocks + 1);
      expect(arena_bytes()).toBe(before.bytes + (1 << c));
      expect(arena_check()).toBe(0);
      rawFree(p);
      expect(bitSet(p)).toBe(false);
      expectFigures(before, "class " + c.toString());
    }
  });

  test("large blocks: whole pages, the first LARGE, the others TAIL naming it; freed pages are FREE again", () => {
    for (let n: u32 = 1; n <= 4; n++) {
      const before = new Figures();
      const p = rawAlloc(<i32>(n << 16) - 16, K);
      expect(p).not.toBe(0);
      const first = pageOf(p);
      expect(<usize>p).toBe(pageBase(first) + HEADER);
      expect(block_capacity(p)).toBe(<i32>(n << 16) - 16);
      expect(pageState(first)).toBe(P_LARGE);
      expect(pageHigh(first)).toBe(<i32>n);
      for (let i: u32 = 1; i < n; i++) expect(pageWord(first + i)).toBe(P_TAIL | (<i64>first << 32));
      expect(arena_bytes()).toBe(before.bytes + <i32>(n << 16));
      expect(arena_check()).toBe(0);
      rawFree(p);
      for (let i: u32 = 0; i < n; i++) expect(pageWord(first + i)).toBe(P_FREE);
      expectFigures(before, "large " + n.toString());
    }
  });

  test("a slab page holds exactly its class's blocks, and pages fill one after the other", () => {
    const classes: i32[] = [5, 9, 11, 12, 15];
    for (let k = 0; k < classes.length; k++) {
      const c = classes[k];
      const before = new Figures();
      const per = slabBlocks(c);
      const ps = new Array<i32>(0);
      for (let i = 0; i < 2 * per + 1; i++) ps.push(rawAlloc((1 << c) - 16, K));
      let pages = 1;
      for (let i = 1; i < ps.length; i++) {
        expect(ps[i]).not.toBe(0);
        if (pageOf(ps[i]) != pageOf(ps[i - 1])) {
          expect(pageLive(pageOf(ps[i - 1]))).toBe(per, "a page is left only when full, class " + c.toString());
          pages++;
        }
      }
      expect(pages).toBe(3);
      expect(pageLive(pageOf(ps[ps.length - 1]))).toBe(1);
      expect(arena_check()).toBe(0);
      for (let i = 0; i < ps.length; i++) rawFree(ps[i]);
      expectFigures(before, "class " + c.toString());
    }
  });

  test("kinds 1-255 are accepted and recorded; kind 0, 256, negative payloads and > 1 GiB are refused", () => {
    const before = new Figures();
    const a = rawAlloc(8, 1);
    const b = rawAlloc(8, 255);
    expect((load<i32>(headerOf(a)) >> 8) & 0xff).toBe(1);
    expect((load<i32>(headerOf(b)) >> 8) & 0xff).toBe(255);
    rawFree(a);
    rawFree(b);
    expect(rawAlloc(16, 0)).toBe(0);
    expect(rawAlloc(16, -1)).toBe(0);
    expect(rawAlloc(16, 256)).toBe(0);
    expect(rawAlloc(-1, K)).toBe(0);
    expect(rawAlloc(i32.MIN_VALUE, K)).toBe(0);
    expect(rawAlloc(MAX_BLOCK_BYTES - 15, K)).toBe(0);
    expect(rawAlloc(i32.MAX_VALUE, K)).toBe(0);
    expect(rawAlloc(MAX_BLOCK_BYTES - 16, K)).toBe(0); // valid, but far past this arena's cap
    expectFigures(before);
    expect(pageState(topPage())).toBe(P_FREE);
  });

  test("the module's own kinds (16 and up) are counted apart from the program's", () => {
    const before = new Figures();
    const p = rawAlloc(100, KIND_REFTABLE);
    expect(arena_blocks()).toBe(before.blocks);
    expect(arena_bytes()).toBe(before.bytes);
    expect(arena_internal_blocks()).toBe(before.internalBlocks + 1);
    expect(arena_internal_bytes()).toBe(before.internalBytes + 128);
    expect(arena_check()).toBe(0);
    rawFree(p);
    expectFigures(before);
  });
});

describe("reuse: zeroed payloads and new generations", () => {
  beforeAll(() => { setup(CAP); thread_reserve(me(), 16); });

  test("a block is zeroed even where its previous owner wrote, in every kind of page", () => {
    const sizes: i32[] = [16, 200, 1000, 4000, 32000, 100000];
    for (let k = 0; k < sizes.length; k++) {
      const p = rawAlloc(sizes[k], K);
      const capacity = block_capacity(p);
      expect(isZeroed(p, capacity)).toBe(true);
      memory.fill(<usize>p, 0xff, <usize>capacity);
      rawFree(p);
      const q = rawAlloc(sizes[k], K);
      expect(q).toBe(p, "the lowest free place is taken again, size " + sizes[k].toString());
      expect(isZeroed(q, capacity)).toBe(true, "zeroed, size " + sizes[k].toString());
      rawFree(q);
    }
    expect(arena_check()).toBe(0);
  });

  test("every new block takes a new generation; freeing moves the old one on, so its handle is E_STALE", () => {
    const sizes: i32[] = [16, 1000, 8000, 70000];
    for (let k = 0; k < sizes.length; k++) {
      const p = alloc(sizes[k], K);
      const g = block_generation(p);
      expect(g).not.toBe(0);
      expect(block_check(p, K, g)).toBe(OK);
      expect(block_release(p, g, me(), indexOf(me(), <usize>p))).toBe(1);
      expect(block_generation(p)).toBe(g + 1); // no handle of the dead block validates
      expect(block_refs(p)).toBe(0);
      expect(block_check(p, K, g)).toBe(E_STALE);
      const q = alloc(sizes[k], K);
      expect(q).toBe(p);
      const h = block_generation(q);
      expect(h).not.toBe(g);
      expect(block_check(q, K, h)).toBe(OK);
      expect(block_check(q, K, g)).toBe(E_STALE, "the old handle of a reused block, size " + sizes[k].toString());
      expect(block_release(q, h, me(), indexOf(me(), <usize>q))).toBe(1);
    }
    expect(arena_check()).toBe(0);
  });

  test("the generation skips 0 when the counter wraps, and when a freed block's wraps", () => {
    atomic.store<i32>(GENERATION, -1);
    const p = rawAlloc(16, K);
    expect(block_generation(p)).toBe(1);
    expect(block_refs(p)).toBe(1);
    store<i64>(headerOf(p) + 8, (<i64>0xffffffff << 32) | 1); // generation -1, one reference
    rawFree(p);
    expect(block_generation(p)).toBe(1);
    expect(arena_check()).toBe(0);
  });

  test("blockRetain refuses another generation or a freed block; blockDrop refuses a block nobody holds", () => {
    const p = rawAlloc(16, K);
    const g = block_generation(p);
    expect(blockRetain(<usize>p, g + 1)).toBe(false);
    expect(blockRetain(<usize>p, g)).toBe(true);
    expect(block_refs(p)).toBe(2);
    expect(blockDrop(<usize>p)).toBe(false);
    rawFree(p);
    expect(blockRetain(<usize>p, g)).toBe(false);
    expect(blockRetain(<usize>p, g + 1)).toBe(false); // the new generation has no reference to add to
    expect(blockDrop(<usize>p)).toBe(false);
    expect(block_refs(p)).toBe(0);
    expect(arena_check()).toBe(0);
  });
});

describe("validation through the page table", () => {
  beforeAll(() => { setup(CAP); thread_reserve(me(), 16); });

  test("misaligned, below the heap, at or past the top, or wrapping: E_RANGE", () => {
    const p = rawAlloc(16, K);
    expect(blockAt(p + 8)).toBe(E_RANGE);
    expect(blockAt(p + 1)).toBe(E_RANGE);
    expect(blockAt(p - 4)).toBe(E_RANGE);
    expect(blockAt(0)).toBe(E_RANGE);
    expect(blockAt(16)).toBe(E_RANGE);
    expect(blockAt(<i32>ARENA + 16)).toBe(E_RANGE);
    expect(blockAt(<i32>slotAt(me()) + 16)).toBe(E_RANGE); // a thread slot
    expect(blockAt(arena_heap_start())).toBe(E_RANGE); // its header would be below the heap
    expect(blockAt(arena_top() + 16)).toBe(E_RANGE);
    expect(blockAt(<i32>MEMORY_BASE)).toBe(E_RANGE);
    expect(blockAt(0x7ffffff0)).toBe(E_RANGE);
    expect(blockAt(-16)).toBe(E_RANGE);
    expect(block_check(p + 8, K, block_generation(p))).toBe(E_RANGE);
    rawFree(p);
  });

  test("a header forged inside a large block's payload, or at one of its tail pages, is E_NOT_BLOCK", () => {
    const p = rawAlloc(3 * 65536 - 16, K);
    const g = block_generation(p);
    // A perfect copy of a real header (tag, generation, one reference), at every kind of place.
    const tag = load<i32>(headerOf(p));
    const at: usize[] = [<usize>p + 1024, <usize>p + 65536 - 32, pageBase(pageOf(p) + 1), pageBase(pageOf(p) + 2) + 512];
    for (let i = 0; i < at.length; i++) {
      store<i32>(at[i], tag);
      store<i64>(at[i] + 8, (<i64>g << 32) | 1);
      expect(blockAt(<i32>(at[i] + HEADER))).toBe(E_NOT_BLOCK, "forgery " + i.toString());
      expect(block_check(<i32>(at[i] + HEADER), K, g)).toBe(E_NOT_BLOCK);
    }
    // A slab class tag inside it is no better.
    store<i32>(at[0], (0xf0b1 << 16) | (K << 8) | 5);
    expect(blockAt(<i32>(at[0] + HEADER))).toBe(E_NOT_BLOCK);
    expect(blockAt(p)).toBe(OK);
    rawFree(p);
  });

  test("a header forged inside a slab block's payload, or in a page's bitmap, is E_NOT_BLOCK", () => {
    const p = rawAlloc(496, K); // class 9: 512-byte blocks
    const g = block_generation(p);
    expect(pageClass(pageOf(p))).toBe(9);
    const offsets: i32[] = [0, 16, 224, 480];
    for (let i = 0; i < offsets.length; i++) {
      const h = <usize>p + <usize>offsets[i];
      store<i32>(h, (0xf0b1 << 16) | (K << 8) | 9);
      store<i64>(h + 8, (<i64>g << 32) | 1);
      expect(blockAt(<i32>h + 16)).toBe(E_NOT_BLOCK, "forged at payload + " + offsets[i].toString());
    }
    memory.fill(<usize>p, 0, 496);
    const small = rawAlloc(16, K); // class 5: its page keeps a 256-byte bitmap first
    const base = pageBase(pageOf(small));
    expect(blockAt(<i32>base + 16)).toBe(E_NOT_BLOCK);
    expect(blockAt(<i32>base + 240)).toBe(E_NOT_BLOCK);
    // a real block whose header was overwritten is refused too
    const tag = load<i32>(headerOf(small));
    store<i32>(headerOf(small), tag ^ (1 << 20)); // the magic
    expect(blockAt(small)).toBe(E_NOT_BLOCK);
    store<i32>(headerOf(small), (tag & ~0xff) | 6); // a class the page does not have
    expect(blockAt(small)).toBe(E_NOT_BLOCK);
    store<i32>(headerOf(small), tag);
    expect(blockAt(small)).toBe(OK);
    rawFree(small);
    rawFree(p);
    expect(arena_check()).toBe(0);
  });

  test("a grid place whose block was freed is E_STALE, even with a perfect header left in it", () => {
    const p = rawAlloc(100, K);
    const q = rawAlloc(100, K); // keeps the page a slab of this class
    const g = block_generation(p);
    const tag = load<i32>(headerOf(p));
    rawFree(p);
    expect(blockAt(p)).toBe(E_STALE);
    store<i32>(headerOf(p), tag);
    store<i64>(headerOf(p) + 8, (<i64>g << 32) | 1);
    expect(blockAt(p)).toBe(E_STALE);
    expect(block_check(p, K, g)).toBe(E_STALE);
    store<i64>(headerOf(p) + 8, 0);
    const big = rawAlloc(65536, K);
    rawFree(big);
    expect(blockAt(big)).toBe(E_STALE); // its pages went back to the arena
    const w = rawAlloc(5000, K); // class 13: the bitmap is in the page word
    rawFree(w);
    expect(blockAt(w)).toBe(E_STALE);
    rawFree(q);
    expect(arena_check()).toBe(0);
  });

  test("a page being claimed is not a block; a wrong kind is E_KIND; a wrong generation E_STALE", () => {
    const p = rawAlloc(3000, K);
    const g = block_generation(p);
    expect(block_check(p, K, g)).toBe(OK);
    expect(block_check(p, K + 1, g)).toBe(E_KIND);
    expect(block_check(p, K, g + 1)).toBe(E_STALE);
    expect(block_check(p, K, g - 1)).toBe(E_STALE);
    const page = pageOf(p);
    const word = pageWord(page);
    atomic.store<i64>(pageWordAt(page), P_CLAIMED | (<i64>7 << 32));
    expect(blockAt(p)).toBe(E_NOT_BLOCK);
    expect(arena_check()).toBe(1); // and the check sees the claimed page
    atomic.store<i64>(pageWordAt(page), word);
    rawFree(p);
    expect(arena_check()).toBe(0);
  });
});

describe("arena_next_block", () => {
  beforeAll(() => { setup(CAP); thread_reserve(me(), 16); });

  test("walks every allocated block once, in address order, slabs and large blocks alike", () => {
    const sizes: i32[] = [16, 16, 3000, 70000, 40, 9000, 16];
    const ps = new Array<i32>(0);
    for (let i = 0; i < sizes.length; i++) ps.push(rawAlloc(sizes[i], KIND_VALUE));
    let seen = 0;
    let last = 0;
    let p = arena_next_block(0);
    while (p != 0) {
      expect(<u32>p).toBeGreaterThan(<u32>last);
      expect(blockAt(p)).toBe(OK);
      if (((load<i32>(headerOf(p)) >> 8) & 0xff) == KIND_VALUE) seen++;
      last = p;
      p = arena_next_block(p);
    }
    expect(seen).toBe(sizes.length);
    for (let i = 0; i < ps.length; i++) rawFree(ps[i]);
    expect(arena_check()).toBe(0);
  });
});

describe("claiming pages", () => {
  beforeAll(() => { setup(CAP); thread_reserve(me(), 16); });

  test("a claim that loses a page to another thread gives back what it took and looks further on", () => {
    const before = new Figures();
    // Every claimable page below the top is being claimed by someone else right now...
    const other: i64 = P_CLAIMED | (<i64>999 << 32);
    const taken = new Array<u32>(0);
    const top = topPage();
    for (let page = heapStartPage(); page < top; page++) {
      if (isFreeWord(pageWord(page))) {
        taken.push(page);
        atomic.store<i64>(pageWordAt(page), other);
      }
    }
    // ... and so is the second page past the top: a 2-page claim from the top gets one, then loses.
    atomic.store<i64>(pageWordAt(top + 1), other);
    const p = rawAlloc(2 * 65536 - 16, K);
    expect(p).not.toBe(0);
    expect(pageOf(p)).toBe(top + 2);
    expect(pageWord(top)).toBe(P_FREE); // given back
    expect(atomic.load<i32>(pendOf(me()))).toBe(0);
    atomic.store<i64>(pageWordAt(top + 1), P_FREE);
    for (let i = 0; i < taken.length; i++) atomic.store<i64>(pageWordAt(taken[i]), P_FREE);
    rawFree(p);
    expectFigures(before);
  });
});

describe("exhaustion and reclaiming pages", () => {
  beforeAll(() => { setup(CAP); thread_reserve(me(), 64); });

  test("filling the arena with 32-byte blocks: then every allocation returns 0 and leaves no trace", () => {
    const before = new Figures();
    const ps = new Array<i32>(0);
    while (true) {
      const p = rawAlloc(16, K);
      if (p == 0) break;
      ps.push(p);
    }
    expect(ps.length).toBeGreaterThan(30 * 2040);
    expect(arena_top()).toBe(CAP * <i32>PAGE); // the top reached the cap, never past it
    expect(arena_check()).toBe(0);
    const top = arena_top();
    const sizes: i32[] = [16, 48, 1000, 5000, 40000, 65520, 200000];
    for (let i = 0; i < sizes.length; i++) {
      expect(arenaAlloc(sizes[i], K, pendOf(me()), claimerOf(me()))).toBe(0, "size " + sizes[i].toString());
      expect(atomic.load<i32>(pendOf(me()))).toBe(0); // no step left pending
    }
    expect(block_alloc(16, K, me())).toBe(0); // room in its table, none in the arena
    expect(arena_top()).toBe(top);
    expect(arena_check()).toBe(0); // no page left CLAIMED by the failed attempts
    expect(arena_blocks()).toBe(before.blocks + ps.length);
    // Freeing every other block frees no page: nothing bigger fits yet.
    for (let i = 0; i < ps.length; i += 2) rawFree(ps[i]);
    const extra = rawAlloc(16, K); // a 32-byte place is there
    expect(extra).not.toBe(0);
    expect(arenaAlloc(65520, K, pendOf(me()), claimerOf(me()))).toBe(0);
    expect(arenaAlloc(48, K, pendOf(me()), claimerOf(me()))).toBe(0);
    expect(arena_check()).toBe(0);
    // Then the rest: every page is reclaimed, whatever its class was.
    for (let i = 1; i < ps.length; i += 2) rawFree(ps[i]);
    rawFree(extra);
    expectFigures(before, "after freeing everything");
    // Every page is claimable again but the one holding the spec's reference table.
    let claimable = 0;
    for (let page = heapStartPage(); page < <u32>CAP; page++) if (isFreeWord(pageWord(page))) claimable++;
    expect(claimable).toBe(CAP - 3 - 1);
    const run = longestFreeRun();
    expect(run).toBeGreaterThanOrEqual(<u32>(CAP - 4) / 2);
    const big = rawAlloc(<i32>(run << 16) - 16, K);
    expect(big).not.toBe(0);
    rawFree(big);
    const b64 = rawAlloc(48, K);
    expect(b64).not.toBe(0);
    expect(pageClass(pageOf(b64))).toBe(6);
    rawFree(b64);
    expectFigures(before, "at the end");
  });

  test("a thread whose table is full cannot even grow it when the arena is full: 0, nothing recorded", () => {
    const v = spawn();
    for (let i = 0; i < 32; i++) alloc(16, K, v); // its first table (32 entries) is full
    const used = thread_ref_count(v);
    const ps = fillArena();
    const before = new Figures();
    expect(block_alloc(16, K, v)).toBe(0);
    expect(thread_ref_count(v)).toBe(used);
    expect(atomic.load<i32>(pendOf(v))).toBe(0);
    expectFigures(before);
    for (let i = 0; i < ps.length; i++) rawFree(ps[i]);
    kill(v);
    forget(v);
    expect(arena_check()).toBe(0);
  });
});

// The victim of each pending-step test, and the figures from before it existed.
let v: i32 = 0;
let before: Figures | null = null;
function startVictim(): void {
  setup(CAP);
  thread_reserve(me(), 16);
  before = new Figures();
  v = spawn();
}
function endVictim(): void {
  expect(thread_state(v)).toBe(DEAD);
  expect(atomic.load<i32>(pendOf(v))).toBe(0);
  forget(v);
  expectFigures(before!, "after the reap");
}

describe("pending-step recovery: thread_reap finishes or undoes the step a stopped thread was in", () => {
  // Each test drives a victim thread's state to where an interrupted step would leave it, checks
  // that the arena is then inconsistent (where it is), reaps the victim, and expects every
  // invariant to hold and every figure to be back where it was before the victim existed.
  beforeEach(startVictim);
  afterEach(endVictim);

  test("PEND_RESERVE on a page in use: the reservation (live + 1, no bit) is given back", () => {
    const p = alloc(40, K, v); // class 6, on the page allocations of that class use now
    const page = pageOf(p);
    const live = pageLive(page);
    atomic.add<i64>(pageWordAt(page), LIVE_ONE); // the CAS of step 1 ...
    atomic.store<i32>(pendOf(v), <i32>pageBase(page) | PEND_RESERVE); // ... and its record
    expect(arena_check()).toBe(9); // live count ≠ taken bits
    kill(v);
    expect(pageLive(page)).toBe(live - 1); // the reservation, and v's block, went
  });

  test("PEND_RESERVE on a fresh page: published already reserved, nothing taken", () => {
    alloc(16, K, v); // v has a table
    const page = freeRun(1);
    memory.fill(pageBase(page), 0, 128); // class 6's bitmap
    atomic.store<i64>(pageWordAt(page), P_SLAB | (<i64>6 << 4) | LIVE_ONE);
    atomic.store<i32>(pendOf(v), <i32>pageBase(page) | PEND_RESERVE);
    atomic.store<i32>(A_CURRENT + 4, <i32>page);
    expect(arena_check()).toBe(9);
    kill(v);
    expect(pageLive(page)).toBe(0);
    expect(isFreeWord(pageWord(page))).toBe(true);
  });

  test("PEND_CLAIM halfway through a run: the pages claimed so far are freed", () => {
    const first = freeRun(3);
    const claimed: i64 = P_CLAIMED | (<i64>claimerOf(v) << 32);
    atomic.store<i32>(pendOf(v), <i32>pageBase(first) | PEND_CLAIM);
    atomic.store<i64>(pageWordAt(first), claimed);
    atomic.store<i64>(pageWordAt(first + 1), claimed);
    expect(arena_check()).toBe(1);
    kill(v);
    for (let i: u32 = 0; i < 3; i++) expect(pageWord(first + i)).toBe(P_FREE);
  });

  test("PEND_CLAIM of a large block set up halfway (some pages TAIL already): all freed", () => {
    const first = freeRun(4);
    const claimed: i64 = P_CLAIMED | (<i64>claimerOf(v) << 32);
    atomic.store<i32>(pendOf(v), <i32>pageBase(first) | PEND_CLAIM);
    for (let i: u32 = 0; i < 4; i++) atomic.store<i64>(pageWordAt(first + i), claimed);
    atomic.store<i64>(pageWordAt(first + 1), P_TAIL | (<i64>first << 32));
    atomic.store<i64>(pageWordAt(first + 2), P_TAIL | (<i64>first << 32));
    expect(arena_check()).toBe(1);
    kill(v);
    for (let i: u32 = 0; i < 4; i++) expect(pageWord(first + i)).toBe(P_FREE);
  });

  test("PEND_CLAIM with every tail set and the first page not yet LARGE: all freed", () => {
    const first = freeRun(3);
    atomic.store<i32>(pendOf(v), <i32>pageBase(first) | PEND_CLAIM);
    atomic.store<i64>(pageWordAt(first), P_CLAIMED | (<i64>claimerOf(v) << 32));
    atomic.store<i64>(pageWordAt(first + 1), P_TAIL | (<i64>first << 32));
    atomic.store<i64>(pageWordAt(first + 2), P_TAIL | (<i64>first << 32));
    kill(v);
    for (let i: u32 = 0; i < 3; i++) expect(pageWord(first + i)).toBe(P_FREE);
  });

  test("PEND_CLAIM stopped while giving back a run it lost: the pages still claimed are freed", () => {
    // claimPages gives back from the last page it took down to the first, so what is left
    // claimed always starts at the page the pending word names.
    const first = freeRun(4);
    const claimed: i64 = P_CLAIMED | (<i64>claimerOf(v) << 32);
    atomic.store<i32>(pendOf(v), <i32>pageBase(first) | PEND_CLAIM);
    atomic.store<i64>(pageWordAt(first), claimed);
    atomic.store<i64>(pageWordAt(first + 1), claimed);
    // first + 2 was given back already; first + 3 is another thread's (the page it lost)
    atomic.store<i64>(pageWordAt(first + 3), P_CLAIMED | (<i64>999 << 32));
    kill(v);
    for (let i: u32 = 0; i < 3; i++) expect(pageWord(first + i)).toBe(P_FREE);
    expect(pageWord(first + 3)).toBe(P_CLAIMED | (<i64>999 << 32)); // not v's: untouched
    atomic.store<i64>(pageWordAt(first + 3), P_FREE);
  });

  test("PEND_CLAIM leaves another thread's claimed pages and other blocks alone", () => {
    const first = freeRun(1);
    atomic.store<i32>(pendOf(v), <i32>pageBase(first) | PEND_CLAIM);
    atomic.store<i64>(pageWordAt(first), P_CLAIMED | (<i64>(claimerOf(v) + 1) << 32)); // not v's tag
    const q = rawAlloc(65536 - 16, K, me()); // a large block elsewhere
    const qWord = pageWord(pageOf(q));
    kill(v);
    expect(pageWord(first)).toBe(P_CLAIMED | (<i64>(claimerOf(v) + 1) << 32));
    expect(pageWord(pageOf(q))).toBe(qWord);
    atomic.store<i64>(pageWordAt(first), P_FREE);
    rawFree(q);
  });

  test("PEND_ALLOCATED for a block nobody recorded (slab, page-word bitmap, large): freed", () => {
    const sizes: i32[] = [100, 6000, 100000];
    for (let i = 0; i < sizes.length; i++) {
      const p = <i32>arenaAlloc(sizes[i], K, pendOf(v), claimerOf(v));
      expect(p).not.toBe(0);
      expect(atomic.load<i32>(pendOf(v))).toBe(<i32>headerOf(p) | PEND_ALLOCATED);
      // recover this one at once (a thread has one pending step at a time)
      arenaRecover(pendOf(v), claimerOf(v), false);
      expect(blockAt(p)).toBe(E_STALE);
      expect(atomic.load<i32>(pendOf(v))).toBe(0);
      expect(arena_check()).toBe(0);
    }
    const last = <i32>arenaAlloc(300, K, pendOf(v), claimerOf(v)); // and through thread_reap
    expect(arena_blocks()).toBe(before!.blocks + 1);
    kill(v);
    expect(blockAt(last)).toBe(E_STALE);
  });

  test("PEND_ALLOCATED for a block already recorded in the table: dropped once, with the table", () => {
    const slot = slotAt(v);
    expect(reserveRefs(slot, 1)).toBe(true);
    const table = <usize>atomic.load<i32>(slot + T_TABLE);
    const index = pickRef(table);
    const p = <i32>arenaAlloc(100, K, pendOf(v), claimerOf(v));
    commitRef(slot, table, index, <usize>p); // recorded; the pending word not cleared yet
    kill(v);
    expect(blockAt(p)).toBe(E_STALE);
    expect(block_refs(p)).toBe(0);
  });

  test("PEND_FREE of a slab block, its bit still set: freed", () => {
    const p = alloc(100, K, v);
    const slot = slotAt(v);
    const index = indexOf(v, <usize>p);
    expect(blockDrop(<usize>p)).toBe(true);
    dropRef(<usize>atomic.load<i32>(slot + T_TABLE), index);
    atomic.store<i32>(pendOf(v), <i32>headerOf(p) | PEND_FREE);
    expect(arena_check()).toBe(8); // taken, yet no reference
    kill(v);
    expect(bitSet(p)).toBe(false);
  });

  test("PEND_FREE of a block whose bitmap is in the page word: freed", () => {
    const p = alloc(10000, K, v); // class 14
    expect(blockDrop(<usize>p)).toBe(true);
    dropRef(<usize>atomic.load<i32>(slotAt(v) + T_TABLE), indexOf(v, <usize>p));
    atomic.store<i32>(pendOf(v), <i32>headerOf(p) | PEND_FREE);
    kill(v);
    expect(blockAt(p)).toBe(E_STALE);
  });

  test("PEND_FREE of a large block stopped after freeing some of its tail pages: all freed", () => {
    const p = alloc(4 * 65536 - 16, K, v);
    const first = pageOf(p);
    expect(blockDrop(<usize>p)).toBe(true);
    dropRef(<usize>atomic.load<i32>(slotAt(v) + T_TABLE), indexOf(v, <usize>p));
    atomic.store<i32>(pendOf(v), <i32>headerOf(p) | PEND_FREE);
    atomic.store<i64>(pageWordAt(first + 1), P_FREE);
    atomic.store<i64>(pageWordAt(first + 2), P_FREE);
    expect(arena_check()).toBe(4);
    kill(v);
    for (let i: u32 = 0; i < 4; i++) expect(pageWord(first + i)).toBe(P_FREE);
  });

  test("PEND_FREE_LIVE: bit cleared and counted, the page's live count not yet lowered", () => {
    const p = alloc(40, K, v);
    const page = pageOf(p);
    const live = pageLive(page);
    expect(blockDrop(<usize>p)).toBe(true);
    dropRef(<usize>atomic.load<i32>(slotAt(v) + T_TABLE), indexOf(v, <usize>p));
    atomic.store<i32>(pendOf(v), <i32>headerOf(p) | PEND_FREE);
    // arenaFree's first step, by hand: clear the bit and count the block out
    const index = <i32>((headerOf(p) - pageBase(page) - 128) >> 6);
    atomic.and<i32>(pageBase(page) + (<usize>(index >> 5) << 2), ~(1 << (index & 31)));
    atomic.sub<i32>(A_BLOCKS, 1);
    atomic.sub<i32>(A_BYTES, 64);
    atomic.store<i32>(pendOf(v), <i32>headerOf(p) | PEND_FREE_LIVE);
    expect(arena_check()).toBe(9);
    kill(v);
    expect(pageLive(page)).toBe(live - 1);
  });

  test("a PEND_FREE repeated for a block already given back changes nothing", () => {
    const p = rawAlloc(100, K, v);
    const q = rawAlloc(100, K, v); // keeps the page a slab with something on it
    rawFree(p, v);
    const f = new Figures();
    const live = pageLive(pageOf(q));
    atomic.store<i32>(pendOf(v), <i32>headerOf(p) | PEND_FREE);
    arenaFree(headerOf(p), pendOf(v));
    expect(atomic.load<i32>(pendOf(v))).toBe(0);
    expect(pageLive(pageOf(q))).toBe(live);
    expectFigures(f);
    atomic.store<i32>(pendOf(v), <i32>headerOf(p) | PEND_FREE);
    kill(v); // the reaper repeats it once more
    expect(pageLive(pageOf(q))).toBe(live);
    rawFree(q, v);
  });
});
