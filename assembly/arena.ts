// Thread-safe block allocator over the one shared memory. Every instance of the module
// runs this code over the same bytes, so all state lives in the arena header, never in
// globals or static data (a second instantiation would reset those).
//
// Layout: [0, ARENA) unused (address 0 is never a valid handle) | arena header |
// blocks from HEAP_START, each 2^class bytes with a 16-byte header:
//   +0  i32 tag = TAG_MAGIC << 16 | kind << 8 | class
//   +4  i32 spare
//   +8  i64 generation (high 32) : reference count (low 32), changed only by CAS
// Handles name the payload (header + 16) plus its generation.

export const ARENA: usize = 1024;
export const HEAP_START: usize = 2048;
export const HEADER: usize = 16;

const A_MAGIC: usize = 0;
const A_LOCK: usize = 4;
const A_MAX_PAGES: usize = 8;
const A_TOP: usize = 12;
const A_BLOCKS: usize = 20;
const A_BYTES: usize = 24;
const A_FREE: usize = 32; // 32 free-list heads, one per size class

const MAGIC: i32 = 0x534c4b46; // "FKLS"
const INITIALIZING: i32 = 1;
const TAG_MAGIC: i32 = 0xf0b1;
const MIN_CLASS: i32 = 5; // 32 bytes
const MAX_CLASS: i32 = 30; // 1 GiB
const PAGE: usize = 65536;

export const OK: i32 = 0;
export const E_RANGE: i32 = -1;
export const E_NOT_BLOCK: i32 = -2;
export const E_KIND: i32 = -3;
export const E_STALE: i32 = -4;
export const E_UNINITIALIZED: i32 = -5;

/** Sets up the header once; later callers (other instances) wait for it. Returns 1 if this call did it. */
export function arena_init(maxPages: i32): i32 {
  if (<usize>memory.size() * PAGE < HEAP_START) return E_RANGE;
  if (atomic.cmpxchg<i32>(ARENA + A_MAGIC, 0, INITIALIZING) == 0) {
    atomic.store<i32>(ARENA + A_MAX_PAGES, maxPages);
    atomic.store<i32>(ARENA + A_TOP, <i32>HEAP_START);
    atomic.store<i32>(ARENA + A_MAGIC, MAGIC);
    return 1;
  }
  while (atomic.load<i32>(ARENA + A_MAGIC) != MAGIC) {}
  return 0;
}

export function arena_ready(): i32 {
  return atomic.load<i32>(ARENA + A_MAGIC) == MAGIC ? 1 : 0;
}

export function arena_blocks(): i32 { return atomic.load<i32>(ARENA + A_BLOCKS); }
export function arena_bytes(): i32 { return atomic.load<i32>(ARENA + A_BYTES); }
export function arena_top(): i32 { return atomic.load<i32>(ARENA + A_TOP); }
export function arena_max_pages(): i32 { return atomic.load<i32>(ARENA + A_MAX_PAGES); }

// The allocator lock only guards a few loads and stores, so it spins and never parks:
// that keeps allocation legal on threads that may not block (a browser's main thread).
function lockArena(): void {
  while (atomic.cmpxchg<i32>(ARENA + A_LOCK, 0, 1) != 0) {}
}
function unlockArena(): void {
  atomic.store<i32>(ARENA + A_LOCK, 0);
}

/** Holds the allocator still so a walk over every block sees only complete headers. */
export function heap_lock(): void { lockArena(); }
export function heap_unlock(): void { unlockArena(); }
export function heap_top(): i32 { return atomic.load<i32>(ARENA + A_TOP); }

function classFor(total: usize): i32 {
  let cls = MIN_CLASS;
  while (cls <= MAX_CLASS && (<usize>1 << cls) < total) cls++;
  return cls;
}

/** Allocates a zeroed block for `payload` bytes of `kind`; returns its payload address or 0 when memory is exhausted. */
export function block_alloc(payload: i32, kind: i32): i32 {
  if (arena_ready() == 0) return 0;
  if (payload < 0 || kind <= 0 || kind > 255) return 0;
  const cls = classFor(<usize>payload + HEADER);
  if (cls > MAX_CLASS) return 0;
  const size: usize = <usize>1 << cls;
  let header: usize = 0;
  let generation: i32 = 1;
  lockArena();
  const head = atomic.load<i32>(ARENA + A_FREE + (<usize>cls << 2));
  if (head != 0) {
    header = <usize>head;
    atomic.store<i32>(ARENA + A_FREE + (<usize>cls << 2), atomic.load<i32>(header + HEADER));
    generation = <i32>(atomic.load<i64>(header + 8) >>> 32);
  } else {
    const top = <usize>atomic.load<i32>(ARENA + A_TOP);
    const end64 = <u64>top + <u64>size;
    if (end64 > <u64>0xffff0000) {
      unlockArena();
      return 0;
    }
    const end = <usize>end64;
    const have = <usize>memory.size() * PAGE;
    if (end > have) {
      const need = <i32>((end - have + PAGE - 1) / PAGE);
      if (memory.size() + need > atomic.load<i32>(ARENA + A_MAX_PAGES) || memory.grow(need) < 0) {
        unlockArena();
        return 0;
      }
    }
    header = top;
    atomic.store<i32>(ARENA + A_TOP, <i32>end);
  }
  memory.fill(header + HEADER, 0, size - HEADER);
  atomic.store<i32>(header, (TAG_MAGIC << 16) | (kind << 8) | cls);
  atomic.store<i64>(header + 8, (<i64>generation << 32) | 1);
  atomic.add<i32>(ARENA + A_BLOCKS, 1);
  atomic.add<i32>(ARENA + A_BYTES, <i32>size);
  unlockArena();
  return <i32>(header + HEADER);
}

/** E_RANGE unless p could be a block's payload (aligned, inside the heap); otherwise the header's tag check. */
function checkAddress(p: i32): i32 {
  if (arena_ready() == 0) return E_UNINITIALIZED;
  const payload = <usize>p;
  const top = <usize>atomic.load<i32>(ARENA + A_TOP);
  // Compare without adding to p, so addresses near 2^32 cannot wrap into range.
  if ((payload & 15) != 0 || payload < HEAP_START + HEADER || payload >= top || top - payload < 32 - HEADER) return E_RANGE;
  const header = payload - HEADER;
  const tag = atomic.load<i32>(header);
  if ((tag >>> 16) != TAG_MAGIC) return E_NOT_BLOCK;
  const cls = tag & 0xff;
  if (cls < MIN_CLASS || cls > MAX_CLASS || (<usize>1 << cls) > top - header) return E_NOT_BLOCK;
  return OK;
}

/** True if p names a block of `kind` that someone still holds (any generation). */
export function block_live(p: i32, kind: i32): i32 {
  if (checkAddress(p) != OK) return 0;
  const header = <usize>p - HEADER;
  if (((atomic.load<i32>(header) >> 8) & 0xff) != kind) return 0;
  return <i32>atomic.load<i64>(header + 8) > 0 ? 1 : 0;
}

/** Checks that p names a live block of `kind` and `generation`; returns OK or an E_* code. */
export function block_check(p: i32, kind: i32, generation: i32): i32 {
  const status = checkAddress(p);
  if (status != OK) return status;
  const header = <usize>p - HEADER;
  const tag = atomic.load<i32>(header);
  const word = atomic.load<i64>(header + 8);
  if (<i32>(word >>> 32) != generation || <i32>word == 0) return E_STALE;
  if (((tag >> 8) & 0xff) != kind) return E_KIND;
  return OK;
}

/** Validates a handle and takes a reference on its block, atomically with respect to frees. */
export function block_open(p: i32, kind: i32, generation: i32): i32 {
  const status = block_check(p, kind, generation);
  if (status != OK) return status;
  const at = <usize>p - HEADER + 8;
  while (true) {
    const word = atomic.load<i64>(at);
    if (<i32>(word >>> 32) != generation || <i32>word == 0) return E_STALE;
    if (atomic.cmpxchg<i64>(at, word, word + 1) == word) return OK;
  }
}

/** Payload bytes of a block that block_check accepted. */
export function block_capacity(p: i32): i32 {
  return (1 << (atomic.load<i32>(<usize>p - HEADER) & 0xff)) - <i32>HEADER;
}

export function block_generation(p: i32): i32 {
  return <i32>(atomic.load<i64>(<usize>p - HEADER + 8) >>> 32);
}

export function block_refs(p: i32): i32 {
  return <i32>atomic.load<i64>(<usize>p - HEADER + 8);
}

/**
 * Drops one reference. Returns 1 if that freed the block, 0 if others still hold it,
 * E_STALE if the handle no longer owns a reference (double release).
 */
export function block_release(p: i32, generation: i32): i32 {
  const address = checkAddress(p);
  if (address != OK) return address;
  const status = block_check(p, (atomic.load<i32>(<usize>p - HEADER) >> 8) & 0xff, generation);
  if (status != OK) return status;
  const header = <usize>p - HEADER;
  while (true) {
    const word = atomic.load<i64>(header + 8);
    const refs = <i32>word;
    if (<i32>(word >>> 32) != generation || refs == 0) return E_STALE;
    if (refs > 1) {
      if (atomic.cmpxchg<i64>(header + 8, word, word - 1) == word) return 0;
      continue;
    }
    // Last reference: bump the generation so every outstanding handle becomes stale.
    let next = generation + 1;
    if (next == 0) next = 1;
    if (atomic.cmpxchg<i64>(header + 8, word, <i64>next << 32) != word) continue;
    const cls = atomic.load<i32>(header) & 0xff;
    lockArena();
    atomic.store<i32>(header + HEADER, atomic.load<i32>(ARENA + A_FREE + (<usize>cls << 2)));
    atomic.store<i32>(ARENA + A_FREE + (<usize>cls << 2), <i32>header);
    atomic.sub<i32>(ARENA + A_BLOCKS, 1);
    atomic.sub<i32>(ARENA + A_BYTES, 1 << cls);
    unlockArena();
    return 1;
  }
}
