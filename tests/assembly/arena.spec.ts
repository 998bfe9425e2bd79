import {
  ARENA, HEAP_START, HEADER,
  OK, E_RANGE, E_NOT_BLOCK, E_KIND, E_STALE, E_UNINITIALIZED,
  arena_init, arena_ready, arena_blocks, arena_bytes, arena_top, arena_max_pages,
  block_alloc, block_check, block_open, block_release, block_capacity, block_generation, block_refs,
} from "../../assembly/arena";
import { MEMORY_BASE } from "./support";

// This file's memory has 32 pages (see as-pect.config.mjs); the cap set by the first
// arena_init below equals that, so any allocation that would need memory.grow fails.
const CAP_PAGES: i32 = 32;
const K: i32 = 7; // the kind used by most tests here
const GEN_WORD: usize = 8; // header offset of the i64 generation:refcount word

function headerOf(p: i32): usize {
  return <usize>p - HEADER;
}

/** Allocates or fails the test. */
function mustAlloc(payload: i32, kind: i32 = K): i32 {
  const p = block_alloc(payload, kind);
  expect(p).not.toBe(0, "block_alloc(" + payload.toString() + ") returned 0");
  return p;
}

function isZeroed(p: i32, bytes: i32): bool {
  for (let i = 0; i < bytes; i++) {
    if (load<u8>(<usize>p + <usize>i) != 0) return false;
  }
  return true;
}

describe("arena before arena_init", () => {
  test("each spec file gets a fresh memory: the arena is not ready yet", () => {
    expect(arena_ready()).toBe(0);
    expect(load<i32>(ARENA)).toBe(0);
  });

  test("block_alloc returns 0 and block_check reports E_UNINITIALIZED", () => {
    expect(block_alloc(16, K)).toBe(0);
    expect(block_check(<i32>HEAP_START + <i32>HEADER, K, 1)).toBe(E_UNINITIALIZED);
    expect(block_open(<i32>HEAP_START + <i32>HEADER, K, 1)).toBe(E_UNINITIALIZED);
  });
});

describe("arena_init", () => {
  test("the first call initializes and returns 1; later calls return 0 and change nothing", () => {
    expect(arena_init(CAP_PAGES)).toBe(1);
    expect(arena_ready()).toBe(1);
    expect(arena_top()).toBe(<i32>HEAP_START);
    expect(arena_max_pages()).toBe(CAP_PAGES);
    expect(arena_blocks()).toBe(0);
    expect(arena_bytes()).toBe(0);
    expect(arena_init(65536)).toBe(0);
    expect(arena_init(1)).toBe(0);
    expect(arena_max_pages()).toBe(CAP_PAGES);
    expect(arena_top()).toBe(<i32>HEAP_START);
  });
});

describe("memory layout (--memoryBase keeps as-pect above the arena)", () => {
  test("as-pect's static data and heap live at or above MEMORY_BASE", () => {
    expect(changetype<usize>("a static string")).toBeGreaterThanOrEqual(MEMORY_BASE);
    expect(__heap_base).toBeGreaterThanOrEqual(MEMORY_BASE);
    const buf = new ArrayBuffer(64);
    expect(changetype<usize>(buf)).toBeGreaterThanOrEqual(MEMORY_BASE);
  });

  test("filling 512 KiB of arena blocks leaves as-pect's objects intact", () => {
    const before = "as-pect object " + (12345).toString();
    const numbers = new Array<i32>(0);
    for (let i = 0; i < 100; i++) numbers.push(i * i);
    const blocks0 = arena_blocks();
    const bytes0 = arena_bytes();
    const ps = new Array<i32>(0);
    for (let i = 0; i < 8; i++) {
      const p = mustAlloc(65536 - <i32>HEADER); // exactly one 64 KiB block each
      memory.fill(<usize>p, 0xa5, 65536 - HEADER);
      ps.push(p);
    }
    expect(arena_top()).toBeLessThan(<i32>MEMORY_BASE);
    expect(arena_blocks()).toBe(blocks0 + 8);
    expect(arena_bytes()).toBe(bytes0 + 8 * 65536);
    expect(before).toBe("as-pect object 12345");
    let sum = 0;
    for (let i = 0; i < numbers.length; i++) sum += numbers[i];
    expect(sum).toBe(328350);
    for (let i = 0; i < ps.length; i++) expect(block_release(ps[i], block_generation(ps[i]))).toBe(1);
    expect(arena_blocks()).toBe(blocks0);
    expect(arena_bytes()).toBe(bytes0);
  });
});

describe("block_alloc", () => {
  test("payloads are 16-aligned, at or above HEAP_START + HEADER, with one reference", () => {
    for (let i = 0; i < 20; i++) {
      const p = mustAlloc(i * 13);
      expect(p & 15).toBe(0);
      expect(p).toBeGreaterThanOrEqual(<i32>(HEAP_START + HEADER));
      const g = block_generation(p);
      expect(g).toBeGreaterThanOrEqual(1);
      expect(block_refs(p)).toBe(1);
      expect(block_check(p, K, g)).toBe(OK);
      expect(block_release(p, g)).toBe(1);
    }
  });

  test("size classes: payload + 16 rounded up to a power of two, at least 32", () => {
    const payloads: i32[] = [0, 1, 16, 17, 48, 49, 112, 113, 1000, 1008, 1009, 4080];
    const sizes: i32[] = [32, 32, 32, 64, 64, 128, 128, 256, 1024, 1024, 2048, 4096];
    for (let i = 0; i < payloads.length; i++) {
      const top0 = arena_top();
      const bytes0 = arena_bytes();
      const p = block_alloc(payloads[i], 200 + i);
      expect(p).not.toBe(0);
      const size = block_capacity(p) + <i32>HEADER;
      expect(size).toBe(sizes[i], "class for payload " + payloads[i].toString());
      expect(block_capacity(p)).toBeGreaterThanOrEqual(payloads[i]);
      expect(arena_bytes() - bytes0).toBe(sizes[i]);
      // Fresh classes come from the bump pointer, so top moves by exactly one block.
      if (arena_top() != top0) expect(arena_top() - top0).toBe(sizes[i]);
      expect(block_release(p, block_generation(p))).toBe(1);
    }
  });

  test("blocks are zeroed, including memory dirtied by a previous owner", () => {
    const p = mustAlloc(200);
    expect(isZeroed(p, block_capacity(p))).toBe(true);
    memory.fill(<usize>p, 0xff, <usize>block_capacity(p));
    expect(block_release(p, block_generation(p))).toBe(1);
    const q = mustAlloc(200);
    expect(q).toBe(p); // reused from the free list
    expect(isZeroed(q, block_capacity(q))).toBe(true);
    expect(block_release(q, block_generation(q))).toBe(1);
  });

  test("the block's tag records its kind: any kind 1..255 is accepted", () => {
    const a = mustAlloc(8, 1);
    const b = mustAlloc(8, 255);
    const ga = block_generation(a);
    const gb = block_generation(b);
    expect(block_check(a, 1, ga)).toBe(OK);
    expect(block_check(b, 255, gb)).toBe(OK);
    expect(block_release(a, ga)).toBe(1);
    expect(block_release(b, gb)).toBe(1);
  });

  test("rejects kind 0, negative kinds, kind 256 and negative payloads without side effects", () => {
    const top0 = arena_top();
    const blocks0 = arena_blocks();
    const bytes0 = arena_bytes();
    expect(block_alloc(16, 0)).toBe(0);
    expect(block_alloc(16, -1)).toBe(0);
    expect(block_alloc(16, 256)).toBe(0);
    expect(block_alloc(-1, K)).toBe(0);
    expect(block_alloc(i32.MIN_VALUE, K)).toBe(0);
    expect(arena_top()).toBe(top0);
    expect(arena_blocks()).toBe(blocks0);
    expect(arena_bytes()).toBe(bytes0);
  });

  test("payloads beyond the largest class (1 GiB) return 0", () => {
    const top0 = arena_top();
    expect(block_alloc((1 << 30) - <i32>HEADER + 1, K)).toBe(0);
    expect(block_alloc(1 << 30, K)).toBe(0);
    expect(block_alloc(i32.MAX_VALUE, K)).toBe(0);
    expect(arena_top()).toBe(top0);
  });

  test("arena_init's page cap: an allocation that would grow memory past it returns 0", () => {
    const top0 = arena_top();
    const blocks0 = arena_blocks();
    const bytes0 = arena_bytes();
    expect(<i32>memory.size()).toBeGreaterThanOrEqual(CAP_PAGES);
    expect(block_alloc(4 << 20, K)).toBe(0); // an 8 MiB block cannot fit in the 2 MiB memory
    expect(block_alloc((1 << 30) - <i32>HEADER, K)).toBe(0); // the largest class
    expect(arena_top()).toBe(top0);
    expect(arena_blocks()).toBe(blocks0);
    expect(arena_bytes()).toBe(bytes0);
    // and the allocator still works afterwards (its spin lock was released)
    const p = mustAlloc(16);
    expect(block_release(p, block_generation(p))).toBe(1);
  });
});

describe("block_check / block_open", () => {
  test("wrong kind: E_KIND, and block_open takes no reference", () => {
    const p = mustAlloc(16);
    const g = block_generation(p);
    expect(block_check(p, K + 1, g)).toBe(E_KIND);
    expect(block_open(p, K + 1, g)).toBe(E_KIND);
    expect(block_open(p, 0, g)).toBe(E_KIND);
    expect(block_refs(p)).toBe(1);
    expect(block_release(p, g)).toBe(1);
  });

  test("wrong generation: E_STALE", () => {
    const p = mustAlloc(16);
    const g = block_generation(p);
    expect(block_check(p, K, g + 1)).toBe(E_STALE);
    expect(block_check(p, K, g - 1)).toBe(E_STALE);
    expect(block_open(p, K, g + 1)).toBe(E_STALE);
    expect(block_refs(p)).toBe(1);
    expect(block_release(p, g)).toBe(1);
    // freed: the old handle is stale even with the right kind (stale is checked before kind)
    expect(block_check(p, K, g)).toBe(E_STALE);
    expect(block_check(p, K + 1, g)).toBe(E_STALE);
    // and the new generation has no references, so it is stale too until reallocated
    expect(block_check(p, K, g + 1)).toBe(E_STALE);
  });

  test("misaligned, below the heap, or at/beyond the top: E_RANGE", () => {
    const p = mustAlloc(16);
    expect(block_check(p + 8, K, 1)).toBe(E_RANGE);
    expect(block_check(p + 1, K, 1)).toBe(E_RANGE);
    expect(block_check(p - 4, K, 1)).toBe(E_RANGE);
    expect(block_check(0, K, 1)).toBe(E_RANGE);
    expect(block_check(16, K, 1)).toBe(E_RANGE);
    expect(block_check(<i32>ARENA + 16, K, 1)).toBe(E_RANGE);
    expect(block_check(<i32>HEAP_START, K, 1)).toBe(E_RANGE); // header would be below HEAP_START
    expect(block_check(arena_top() + <i32>HEADER, K, 1)).toBe(E_RANGE);
    expect(block_check(arena_top() + 4096, K, 1)).toBe(E_RANGE);
    expect(block_check(<i32>MEMORY_BASE, K, 1)).toBe(E_RANGE);
    expect(block_check(0x7ffffff0, K, 1)).toBe(E_RANGE);
    expect(block_check(-32, K, 1)).toBe(E_RANGE); // 0xffffffe0
    expect(block_open(p + 8, K, 1)).toBe(E_RANGE);
    expect(block_open(arena_top() + <i32>HEADER, K, 1)).toBe(E_RANGE);
    expect(block_refs(p)).toBe(1);
    expect(block_release(p, block_generation(p))).toBe(1);
  });

  // BUG (reported): for p = 0xfffffff0 (i32 -16, which the host's handle check lets through),
  // `header + 32` wraps to 0 in 32-bit arithmetic, the range check passes, and the tag load
  // traps ("memory access out of bounds") instead of returning E_RANGE.
  it("an address whose header + 32 wraps around 2^32 is E_RANGE, not a trap", () => {
    expect(block_check(-16, K, 1)).toBe(E_RANGE);
    expect(block_open(-16, K, 1)).toBe(E_RANGE);
  });

  test("an aligned address inside the heap that is not a block: E_NOT_BLOCK", () => {
    const p = mustAlloc(1000); // one 1 KiB block; its payload is zeroed
    expect(block_check(p + 64, K, 1)).toBe(E_NOT_BLOCK);
    expect(block_open(p + 64, K, 1)).toBe(E_NOT_BLOCK);
    // forged tags inside the payload: right magic, impossible classes
    const forged = <usize>p + 128; // a fake header
    const fp = <i32>forged + <i32>HEADER;
    store<i32>(forged, (0xf0b1 << 16) | (K << 8) | 4); // class 4 < MIN_CLASS
    expect(block_check(fp, K, 1)).toBe(E_NOT_BLOCK);
    store<i32>(forged, (0xf0b1 << 16) | (K << 8) | 31); // class 31 > MAX_CLASS
    expect(block_check(fp, K, 1)).toBe(E_NOT_BLOCK);
    store<i32>(forged, (0xf0b1 << 16) | (K << 8) | 29); // would extend past the top
    expect(block_check(fp, K, 1)).toBe(E_NOT_BLOCK);
    store<i32>(forged, (0xf0b2 << 16) | (K << 8) | 5); // wrong magic
    expect(block_check(fp, K, 1)).toBe(E_NOT_BLOCK);
    expect(block_release(p, block_generation(p))).toBe(1);
  });
});

describe("reference counts and generations", () => {
  test("open increments, release decrements, the last release frees and bumps the generation", () => {
    const blocks0 = arena_blocks();
    const p = mustAlloc(24);
    const g = block_generation(p);
    expect(block_refs(p)).toBe(1);
    expect(block_open(p, K, g)).toBe(OK);
    expect(block_open(p, K, g)).toBe(OK);
    expect(block_refs(p)).toBe(3);
    expect(block_release(p, g)).toBe(0);
    expect(block_refs(p)).toBe(2);
    expect(block_release(p, g)).toBe(0);
    expect(block_refs(p)).toBe(1);
    expect(arena_blocks()).toBe(blocks0 + 1);
    expect(block_release(p, g)).toBe(1);
    expect(block_refs(p)).toBe(0);
    expect(block_generation(p)).toBe(g + 1);
    expect(arena_blocks()).toBe(blocks0);
  });

  test("double release and open-after-free are E_STALE and change nothing", () => {
    const blocks0 = arena_blocks();
    const bytes0 = arena_bytes();
    const p = mustAlloc(24);
    const g = block_generation(p);
    expect(block_release(p, g)).toBe(1);
    expect(block_release(p, g)).toBe(E_STALE);
    expect(block_release(p, g + 1)).toBe(E_STALE);
    expect(block_open(p, K, g)).toBe(E_STALE);
    expect(arena_blocks()).toBe(blocks0);
    expect(arena_bytes()).toBe(bytes0);
    // the block is on the free list exactly once: two allocations get two different blocks
    const a = mustAlloc(24);
    const b = mustAlloc(24);
    expect(a).toBe(p);
    expect(b).not.toBe(p);
    expect(block_release(a, block_generation(a))).toBe(1);
    expect(block_release(b, block_generation(b))).toBe(1);
  });

  test("release with a wrong generation on a live block is E_STALE and keeps the reference", () => {
    const p = mustAlloc(24);
    const g = block_generation(p);
    expect(block_release(p, g + 1)).toBe(E_STALE);
    expect(block_release(p, g - 1)).toBe(E_STALE);
    expect(block_refs(p)).toBe(1);
    expect(block_release(p, g)).toBe(1);
  });

  test("release on a non-block / out-of-range aligned address returns an error code", () => {
    const p = mustAlloc(1000);
    expect(block_release(p + 64, 1)).toBe(E_NOT_BLOCK);
    expect(block_release(arena_top() + <i32>HEADER, 1)).toBe(E_RANGE);
    expect(block_release(p, block_generation(p))).toBe(1);
  });

  // BUG (reported): block_release reads the tag at p - 16 before validating p, so a
  // misaligned p traps ("operation does not support unaligned accesses") and p < 16 traps
  // ("memory access out of bounds") instead of returning E_RANGE.
  it("release with a misaligned or tiny address is E_RANGE, not a trap", () => {
    const p = mustAlloc(16);
    expect(block_release(p + 2, 1)).toBe(E_RANGE);
    expect(block_release(0, 1)).toBe(E_RANGE);
    expect(block_release(p, block_generation(p))).toBe(1);
  });

  test("freed blocks are reused LIFO from their class's free list, with a new generation", () => {
    const a = mustAlloc(40);
    const b = mustAlloc(40);
    const ga = block_generation(a);
    const gb = block_generation(b);
    expect(block_release(a, ga)).toBe(1);
    expect(block_release(b, gb)).toBe(1);
    const top0 = arena_top();
    const c = mustAlloc(33); // same class (64 bytes)
    const d = mustAlloc(48);
    expect(c).toBe(b);
    expect(d).toBe(a);
    expect(block_generation(c)).toBe(gb + 1);
    expect(block_generation(d)).toBe(ga + 1);
    expect(arena_top()).toBe(top0);
    // the new handle is valid, the old one is stale
    expect(block_check(c, K, gb + 1)).toBe(OK);
    expect(block_check(c, K, gb)).toBe(E_STALE);
    // a different class does not take from this free list
    const e = mustAlloc(100);
    expect(e).not.toBe(a);
    expect(e).not.toBe(b);
    expect(block_release(c, gb + 1)).toBe(1);
    expect(block_release(d, ga + 1)).toBe(1);
    expect(block_release(e, block_generation(e))).toBe(1);
  });

  test("a reused block may change kind", () => {
    const p = mustAlloc(16, 10);
    expect(block_release(p, block_generation(p))).toBe(1);
    const q = mustAlloc(16, 11);
    expect(q).toBe(p);
    expect(block_check(q, 11, block_generation(q))).toBe(OK);
    expect(block_check(q, 10, block_generation(q))).toBe(E_KIND);
    expect(block_release(q, block_generation(q))).toBe(1);
  });

  test("the generation skips 0 when it wraps", () => {
    const p = mustAlloc(16);
    store<i64>(headerOf(p) + GEN_WORD, (<i64>0xffffffff << 32) | 1); // generation -1, one ref
    expect(block_check(p, K, -1)).toBe(OK);
    expect(block_release(p, -1)).toBe(1);
    expect(block_generation(p)).toBe(1);
    const q = mustAlloc(16);
    expect(q).toBe(p);
    expect(block_generation(q)).toBe(1);
    expect(block_release(q, 1)).toBe(1);
  });

  test("10,000 alloc/free cycles return arena_blocks, arena_bytes and the top to their start", () => {
    const blocks0 = arena_blocks();
    const bytes0 = arena_bytes();
    // warm every class used below so the top stops moving
    const warm = new Array<i32>(0);
    for (let s = 0; s < 6; s++) warm.push(mustAlloc(s * 50 + 3));
    for (let i = 0; i < warm.length; i++) block_release(warm[i], block_generation(warm[i]));
    const top0 = arena_top();
    for (let i = 0; i < 10000; i++) {
      const a = block_alloc((i % 6) * 50 + 3, K);
      const b = block_alloc(((i + 3) % 6) * 50 + 3, K);
      if (a == 0 || b == 0) {
        expect(a).not.toBe(0);
        expect(b).not.toBe(0);
        break;
      }
      const ga = block_generation(a);
      if (block_open(a, K, ga) != OK || block_release(a, ga) != 0) {
        expect(block_open(a, K, ga)).toBe(OK, "open failed at cycle " + i.toString());
        break;
      }
      block_release(b, block_generation(b));
      block_release(a, ga);
    }
    expect(arena_blocks()).toBe(blocks0);
    expect(arena_bytes()).toBe(bytes0);
    expect(arena_top()).toBe(top0);
  });
});
