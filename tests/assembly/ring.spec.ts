// ring.ts: the message ring under Queue, SimpleQueue, JoinableQueue and a pipe's Channel —
// messages and chunks, wrap-around, what dead readers and dead producers leave behind, timeouts,
// maxsize, joinable counts, end of file (the CLOSED bit in the tail word), and the hand-over of a
// message's transit block from the producer's table to the ring to the consumer's table.
import {
  RING_HEADER, RING_MIN_CAPACITY, RING_JOINABLE, RING_PIPE, FIRST, LAST, MORE,
  R_TIMEOUT, R_ABANDONED, R_EOF, R_BUSY, R_WOULD_BLOCK, R_INVALID,
  ring_init, ring_chunk_max, q_put, q_put_begin, q_put_chunk, q_put_end, q_get, q_get_next, q_get_next_try, q_get_end,
  q_reading, q_poll, q_count, q_maxsize, q_capacity, q_used, q_head, q_tail, q_put_waiters_add, q_task_done, q_unfinished,
  q_join, q_eof, ringClose,
} from "../../assembly/ring";
import { OK, E_STALE, blockAt, block_generation, block_refs } from "../../assembly/arena";
import {
  block_release, thread_last_block, thread_last_index, thread_ref_count, thread_reserve, transit_new, transit_add,
} from "../../assembly/refs";
import { refAt, slotAt, T_WAIT_KIND } from "../../assembly/threads";
import { KIND_QUEUE, KIND_CHANNEL, KIND_SCRATCH, KIND_VALUE } from "../../assembly/kinds";
import { now } from "../../assembly/wait";
import { Figures, expectFigures, alloc, setup, me, spawn, kill, forget, indexOf, since } from "./support";

// Header words (ring.ts): producers blocked for room or under maxsize park on HEAD.
const HEAD: usize = 8;
const TAIL: usize = 12;

function newRing(capacity: i32, maxsize: i32 = 0, flags: i32 = 0, kind: i32 = KIND_QUEUE): i32 {
  const q = alloc(RING_HEADER + capacity, kind);
  expect(ring_init(q, capacity, maxsize, flags)).toBe(0);
  return q;
}
/** A scratch buffer of n bytes filled with bytes seed, seed+1, … */
function bytes(n: i32, seed: i32): i32 {
  const p = alloc(max(n, 8), KIND_SCRATCH);
  for (let i = 0; i < n; i++) store<u8>(<usize>p + <usize>i, <u8>(seed + i));
  return p;
}
function sameBytes(a: i32, b: i32, n: i32): bool {
  for (let i = 0; i < n; i++) if (load<u8>(<usize>a + <usize>i) != load<u8>(<usize>b + <usize>i)) return false;
  return true;
}
function release(p: i32, id: i32): i32 {
  return block_release(p, block_generation(p), id, indexOf(id, <usize>p));
}
function put(q: i32, src: i32, len: i32): i32 {
  return q_put(q, me(), src, len, 0, 0, 0);
}

let out: i32 = 0;
function buffers(): void {
  setup();
  if (out == 0) out = alloc(4096, KIND_SCRATCH);
}

describe("ring_init", () => {
  beforeAll(buffers);

  test("a capacity that is a power of two of at least 1024; a non-negative maxsize", () => {
    const q = alloc(RING_HEADER + 4096, KIND_QUEUE);
    expect(ring_init(q, 1000, 0, 0)).toBe(R_INVALID);
    expect(ring_init(q, 512, 0, 0)).toBe(R_INVALID);
    expect(ring_init(q, 3072, 0, 0)).toBe(R_INVALID);
    expect(ring_init(q, 1024, -1, 0)).toBe(R_INVALID);
    expect(ring_init(q, RING_MIN_CAPACITY, 5, 0)).toBe(0);
    expect(q_capacity(q)).toBe(1024);
    expect(q_maxsize(q)).toBe(5);
    expect(ring_chunk_max(q)).toBe(1024 / 4 - 8);
  });
});

describe("ring: messages", () => {
  beforeAll(buffers);

  test("q_put then q_get returns the same bytes, in order, and counts messages", () => {
    const q = newRing(1024);
    const a = bytes(10, 1);
    const b = bytes(33, 50);
    expect(put(q, a, 10)).toBe(1);
    expect(put(q, b, 33)).toBe(1);
    expect(q_count(q)).toBe(2);
    expect(q_used(q)).toBe(16 + 8 + 40 + 8);
    expect(q_get(q, me(), out, 0)).toBe(10);
    expect(sameBytes(out, a, 10)).toBe(true);
    expect(q_get(q, me(), out, 0)).toBe(33);
    expect(sameBytes(out, b, 33)).toBe(true);
    expect(q_count(q)).toBe(0);
    expect(q_used(q)).toBe(0);
    expect(q_reading(q, me())).toBe(0); // a whole message releases the get lock
  });

  test("an empty message is a message", () => {
    const q = newRing(1024);
    expect(put(q, out, 0)).toBe(1);
    expect(q_count(q)).toBe(1);
    expect(q_get(q, me(), out, 0)).toBe(0);
    expect(q_count(q)).toBe(0);
  });

  test("a chunk longer than a quarter of the ring is refused without changing anything", () => {
    const q = newRing(1024);
    const big = bytes(300, 1);
    expect(put(q, big, ring_chunk_max(q) + 1)).toBe(R_INVALID);
    expect(put(q, big, -1)).toBe(R_INVALID);
    expect(q_used(q)).toBe(0);
    expect(q_reading(q, me())).toBe(0);
    expect(q_put_begin(q, me(), 0)).toBe(1); // the put lock was not left held
    q_put_end(q);
  });

  test("records wrap around the end of the ring intact", () => {
    const q = newRing(1024);
    for (let round = 0; round < 200; round++) {
      const n = 1 + ((round * 37) % 240);
      const src = bytes(n, round);
      expect(put(q, src, n)).toBe(1);
      expect(q_get(q, me(), out, 0)).toBe(n);
      expect(sameBytes(out, src, n)).toBe(true, "round " + round.toString());
      release(src, me());
    }
    expect(q_head(q)).toBe(q_tail(q));
    expect(<u32>q_head(q)).toBeGreaterThan(1024 * 10); // positions run on past the capacity
  });

  test("a message in several chunks is read chunk by chunk under one hold of the get lock", () => {
    const q = newRing(1024);
    const chunk = ring_chunk_max(q);
    const a = bytes(chunk, 3);
    const b = bytes(20, 9);
    expect(q_put_begin(q, me(), 0)).toBe(1);
    expect(q_put_chunk(q, a, chunk, FIRST, 0, 0, me(), 0)).toBe(1);
    expect(q_count(q)).toBe(0); // not a message until its last chunk
    expect(q_put_chunk(q, b, 20, LAST, 0, 0, me(), 0)).toBe(1);
    q_put_end(q);
    expect(q_count(q)).toBe(1);
    expect(q_get(q, me(), out, 0)).toBe(chunk | MORE);
    expect(sameBytes(out, a, chunk)).toBe(true);
    expect(q_reading(q, me())).toBe(1);
    expect(q_get_next(q, me(), out, 0)).toBe(20);
    expect(sameBytes(out, b, 20)).toBe(true);
    q_get_end(q);
    expect(q_reading(q, me())).toBe(0);
    expect(q_count(q)).toBe(0);
  });

  test("chunks a reader left behind (it stopped mid-message, or gave up) are skipped: the next message arrives whole", () => {
    const q = newRing(1024);
    for (let round = 0; round < 2; round++) {
      const reader = spawn();
      expect(q_put_begin(q, me(), 0)).toBe(1);
      expect(q_put_chunk(q, bytes(8, 1), 8, FIRST, 0, 0, me(), 0)).toBe(1);
      expect(q_put_chunk(q, bytes(8, 2), 8, 0, 0, 0, me(), 0)).toBe(1);
      expect(q_put_chunk(q, bytes(8, 3), 8, LAST, 0, 0, me(), 0)).toBe(1);
      q_put_end(q);
      expect(q_get(q, reader, out, 0)).toBe(8 | MORE);
      if (round == 0) kill(reader); // its get lock now names a dead thread
      else q_get_end(q);
      const next = bytes(5, 40);
      expect(put(q, next, 5)).toBe(1);
      expect(q_get(q, me(), out, 0)).toBe(5);
      expect(sameBytes(out, next, 5)).toBe(true);
      expect(q_used(q)).toBe(0);
      if (round != 0) kill(reader);
      forget(reader);
    }
  });

  test("a message cut off by a new FIRST is reported abandoned", () => {
    const q = newRing(1024);
    expect(q_put_begin(q, me(), 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 1), 8, FIRST, 0, 0, me(), 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 2), 8, FIRST | LAST, 0, 0, me(), 0)).toBe(1);
    q_put_end(q);
    expect(q_get(q, me(), out, 0)).toBe(8 | MORE);
    expect(q_get_next_try(q, me(), out)).toBe(R_ABANDONED);
    q_get_end(q);
    expect(q_get(q, me(), out, 0)).toBe(8); // the message after it is intact
  });
});

describe("ring: producers that stop mid-message", () => {
  beforeAll(buffers);

  test("q_get_next honours its timeout while the producer still runs, and keeps the get lock", () => {
    const q = newRing(1024);
    const producer = spawn();
    expect(q_put_begin(q, producer, 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 1), 8, FIRST, 0, 0, producer, 0)).toBe(1);
    expect(q_get(q, me(), out, 0)).toBe(8 | MORE);
    expect(q_get_next_try(q, me(), out)).toBe(R_WOULD_BLOCK);
    let t0 = now();
    expect(q_get_next(q, me(), out, 0)).toBe(R_TIMEOUT);
    expect(since(t0)).toBeLessThan(100.0);
    t0 = now();
    expect(q_get_next(q, me(), out, 20)).toBe(R_TIMEOUT);
    const elapsed = since(t0);
    expect(elapsed).toBeGreaterThanOrEqual(20.0);
    expect(elapsed).toBeLessThan(1000.0);
    expect(atomic.load<i32>(slotAt(me()) + T_WAIT_KIND)).toBe(0);
    expect(q_reading(q, me())).toBe(1);
    const last = bytes(12, 7);
    expect(q_put_chunk(q, last, 12, LAST, 0, 0, producer, 0)).toBe(1);
    q_put_end(q);
    expect(q_get_next(q, me(), out, 20)).toBe(12);
    expect(sameBytes(out, last, 12)).toBe(true);
    q_get_end(q);
    kill(producer);
    forget(producer);
  });

  test("q_get_next: R_ABANDONED at once when the producer is gone (reaped, or let go of the put lock)", () => {
    const q = newRing(1024);
    for (let round = 0; round < 2; round++) {
      const producer = spawn();
      expect(q_put_begin(q, producer, 0)).toBe(1);
      expect(q_put_chunk(q, bytes(8, 1), 8, FIRST, 0, 0, producer, 0)).toBe(1);
      if (round == 0) kill(producer);
      else q_put_end(q);
      expect(q_get(q, me(), out, 0)).toBe(8 | MORE);
      const t0 = now();
      expect(q_get_next(q, me(), out, -1)).toBe(R_ABANDONED);
      expect(since(t0)).toBeLessThan(100.0);
      q_get_end(q);
      if (round != 0) kill(producer);
      forget(producer);
    }
    expect(q_put_begin(q, me(), 0)).toBe(1); // a dead producer's put lock is simply taken over
    q_put_end(q);
  });

  test("a producer stopped before its chunk's tail moved exposes nothing", () => {
    const q = newRing(1024);
    const producer = spawn();
    expect(q_put_begin(q, producer, 0)).toBe(1);
    // It copied a record into the ring but was stopped before moving the tail.
    memory.fill(<usize>q + <usize>RING_HEADER, 0xab, 64);
    kill(producer);
    expect(q_used(q)).toBe(0);
    expect(q_poll(q, me(), 0)).toBe(0);
    expect(q_get(q, me(), out, 0)).toBe(R_TIMEOUT);
    forget(producer);
  });

  test("q_poll: 1 for a complete message or one a live producer is writing; R_ABANDONED when it is gone", () => {
    const q = newRing(1024);
    expect(q_poll(q, me(), 0)).toBe(0);
    const t0 = now();
    expect(q_poll(q, me(), 5)).toBe(0);
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    expect(put(q, bytes(4, 1), 4)).toBe(1);
    expect(q_poll(q, me(), 0)).toBe(1);
    expect(q_count(q)).toBe(1); // polling consumes nothing
    expect(q_get(q, me(), out, 0)).toBe(4);
    const producer = spawn();
    expect(q_put_begin(q, producer, 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 1), 8, FIRST, 0, 0, producer, 0)).toBe(1);
    expect(q_poll(q, me(), 0)).toBe(1); // it is still being written
    kill(producer);
    expect(q_poll(q, me(), 0)).toBe(R_ABANDONED);
    expect(q_poll(q, me(), -1)).toBe(R_ABANDONED); // at once, whatever the timeout
    // the caller drops it with a zero-timeout get, then polls again
    expect(q_get(q, me(), out, 0)).toBe(8 | MORE);
    expect(q_get_next(q, me(), out, 0)).toBe(R_ABANDONED);
    q_get_end(q);
    expect(q_poll(q, me(), 0)).toBe(0);
    forget(producer);
  });

  test("q_poll: the leftovers of a reader that died holding the get lock are not a message", () => {
    const q = newRing(1024);
    const reader = spawn();
    expect(q_put_begin(q, me(), 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 1), 8, FIRST, 0, 0, me(), 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 2), 8, LAST, 0, 0, me(), 0)).toBe(1);
    q_put_end(q);
    expect(q_get(q, reader, out, 0)).toBe(8 | MORE);
    kill(reader); // its get lock still names it
    expect(q_poll(q, me(), 0)).toBe(0); // nothing a reader could have
    expect(q_get(q, me(), out, 0)).toBe(R_TIMEOUT);
    expect(put(q, bytes(3, 1), 3)).toBe(1);
    expect(q_poll(q, me(), 0)).toBe(1);
    expect(q_get(q, me(), out, 0)).toBe(3);
    forget(reader);
  });

  test("q_poll skips what a dead reader left and judges the message after it", () => {
    const q = newRing(1024);
    const reader = spawn();
    expect(q_put_begin(q, me(), 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 1), 8, FIRST, 0, 0, me(), 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 2), 8, LAST, 0, 0, me(), 0)).toBe(1);
    q_put_end(q);
    expect(q_get(q, reader, out, 0)).toBe(8 | MORE);
    q_get_end(q); // it let go mid-message
    expect(q_poll(q, me(), 0)).toBe(0); // only leftovers: skipped, nothing readable
    expect(q_used(q)).toBe(0);
    expect(put(q, bytes(3, 1), 3)).toBe(1);
    expect(q_poll(q, me(), 0)).toBe(1);
    expect(q_get(q, me(), out, 0)).toBe(3);
    kill(reader);
    forget(reader);
  });
});

describe("ring: empty, full, timeouts", () => {
  beforeAll(buffers);

  test("q_get on an empty ring: timeout 0 at once, 5 ms after at least 5 ms", () => {
    const q = newRing(1024);
    expect(q_get(q, me(), out, 0)).toBe(R_TIMEOUT);
    const t0 = now();
    expect(q_get(q, me(), out, 5)).toBe(R_TIMEOUT);
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    expect(atomic.load<i32>(slotAt(me()) + T_WAIT_KIND)).toBe(0);
    expect(q_reading(q, me())).toBe(0);
  });

  test("a full ring refuses a put with timeout 0; one get makes room for it", () => {
    const q = newRing(1024);
    const src = bytes(56, 1); // a 64-byte record
    for (let i = 0; i < 16; i++) expect(put(q, src, 56)).toBe(1);
    expect(q_used(q)).toBe(1024);
    expect(put(q, src, 56)).toBe(0);
    expect(q_count(q)).toBe(16);
    expect(q_get(q, me(), out, 0)).toBe(56);
    expect(put(q, src, 56)).toBe(1);
    expect(q_used(q)).toBe(1024);
  });

  test("a timed put on a full ring gives up after its timeout, not before", () => {
    const q = newRing(1024);
    const src = bytes(56, 1);
    for (let i = 0; i < 16; i++) expect(put(q, src, 56)).toBe(1);
    const t0 = now();
    expect(q_put(q, me(), src, 56, 5, 0, 0)).toBe(0);
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    expect(q_count(q)).toBe(16);
    expect(q_put_begin(q, me(), 0)).toBe(1); // the put lock was released
    q_put_end(q);
  });

  test("maxsize counts messages: a put past it fails until one is taken", () => {
    const q = newRing(1024, 2);
    const src = bytes(4, 1);
    expect(put(q, src, 4)).toBe(1);
    expect(put(q, src, 4)).toBe(1);
    expect(put(q, src, 4)).toBe(0);
    const t0 = now();
    expect(q_put(q, me(), src, 4, 5, 0, 0)).toBe(0);
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    expect(q_count(q)).toBe(2);
    expect(q_get(q, me(), out, 0)).toBe(4);
    expect(put(q, src, 4)).toBe(1);
  });

  test("a put or get lock held by another live thread: timeout 0 says busy", () => {
    const q = newRing(1024);
    const holder = spawn();
    expect(q_put_begin(q, holder, 0)).toBe(1);
    expect(q_put_begin(q, me(), 0)).toBe(R_BUSY);
    expect(q_put(q, me(), out, 4, 0, 0, 0)).toBe(R_BUSY);
    q_put_end(q);
    expect(q_put_begin(q, me(), 0)).toBe(1);
    q_put_end(q);
    expect(put(q, bytes(8, 1), 8)).toBe(1);
    expect(put(q, bytes(8, 1), 8)).toBe(1);
    expect(q_get(q, holder, out, 0)).toBe(8);
    atomic.store<i32>(<usize>q + 4, holder); // holder is reading (its get lock)
    expect(q_get(q, me(), out, 0)).toBe(R_BUSY);
    atomic.store<i32>(<usize>q + 4, 0);
    kill(holder);
    forget(holder);
  });

  test("a get moves HEAD (where blocked producers park) only when it takes a record", () => {
    const q = newRing(1024);
    const head0 = atomic.load<i32>(<usize>q + HEAD);
    expect(q_get(q, me(), out, 0)).toBe(R_TIMEOUT);
    expect(atomic.load<i32>(<usize>q + HEAD)).toBe(head0);
    expect(put(q, bytes(56, 1), 56)).toBe(1);
    q_put_waiters_add(q, 1); // as a parked producer does; the get below notifies HEAD
    expect(q_get(q, me(), out, 0)).toBe(56);
    expect(atomic.load<i32>(<usize>q + HEAD)).toBe(head0 + 64);
    q_put_waiters_add(q, -1);
  });
});

describe("ring: joinable and end of file", () => {
  beforeAll(buffers);

  test("JoinableQueue: unfinished counts puts; task_done counts down; join returns at 0", () => {
    const q = newRing(1024, 0, RING_JOINABLE);
    const src = bytes(4, 1);
    expect(put(q, src, 4)).toBe(1);
    expect(put(q, src, 4)).toBe(1);
    expect(q_unfinished(q)).toBe(2);
    expect(q_join(q, me(), 0)).toBe(0);
    const t0 = now();
    expect(q_join(q, me(), 5)).toBe(0);
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    expect(q_task_done(q)).toBe(1);
    expect(q_join(q, me(), 0)).toBe(0);
    expect(q_task_done(q)).toBe(1);
    expect(q_unfinished(q)).toBe(0);
    expect(q_join(q, me(), -1)).toBe(1);
    expect(q_task_done(q)).toBe(-1); // more task_done() calls than items: refused, count stays 0
    expect(q_unfinished(q)).toBe(0);
  });

  test("an unfinished multi-chunk message is not an item until its last chunk", () => {
    const q = newRing(1024, 0, RING_JOINABLE);
    expect(q_put_begin(q, me(), 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 1), 8, FIRST, 0, 0, me(), 0)).toBe(1);
    expect(q_unfinished(q)).toBe(0);
    expect(q_put_chunk(q, bytes(8, 1), 8, LAST, 0, 0, me(), 0)).toBe(1);
    q_put_end(q);
    expect(q_unfinished(q)).toBe(1);
  });

  test("a pipe channel: the CLOSED bit in the tail is end of file once the ring is empty", () => {
    const q = newRing(1024, 0, RING_PIPE, KIND_CHANNEL);
    expect(put(q, bytes(3, 1), 3)).toBe(1);
    const tail = q_tail(q);
    ringClose(<usize>q);
    expect(q_tail(q)).toBe(tail | 1); // the word readers sleep on changed
    ringClose(<usize>q); // idempotent
    expect(q_tail(q)).toBe(tail | 1);
    expect(q_eof(q)).toBe(0); // a message is still there
    expect(q_poll(q, me(), 0)).toBe(1);
    expect(q_get(q, me(), out, 0)).toBe(3);
    expect(q_eof(q)).toBe(1);
    const t0 = now();
    expect(q_get(q, me(), out, -1)).toBe(R_EOF);
    expect(q_get(q, me(), out, 0)).toBe(R_EOF);
    expect(since(t0)).toBeLessThan(100.0);
    expect(q_poll(q, me(), -1)).toBe(1);
    expect(q_reading(q, me())).toBe(0);
    expect(atomic.load<i32>(<usize>q + TAIL) & 1).toBe(1);
  });

  test("positions past the CLOSED bit: records still go in and come out after a close", () => {
    const q = newRing(1024, 0, RING_PIPE, KIND_CHANNEL);
    ringClose(<usize>q);
    expect(put(q, bytes(9, 1), 9)).toBe(1);
    expect(q_used(q)).toBe(24);
    expect(q_eof(q)).toBe(0);
    expect(q_get(q, me(), out, 0)).toBe(9);
    expect(q_eof(q)).toBe(1);
  });
});

describe("ring: transit hand-over", () => {
  beforeAll(buffers);
  // The spec thread's table must not grow inside a test that compares figures.
  beforeEach(() => { thread_reserve(me(), 16); });

  test("put hands the transit from the producer's table to the ring; get hands it to the consumer's table", () => {
    const before = new Figures();
    const q = newRing(1024);
    const reader = spawn();
    const x = alloc(16, KIND_VALUE);
    const t = transit_new(me(), 1);
    const ti = thread_last_index(me());
    expect(transit_add(t, x, KIND_VALUE, block_generation(x))).toBe(OK);
    release(x, me());
    const count = thread_ref_count(me());
    expect(q_put(q, me(), out, 8, 0, t, ti)).toBe(1);
    expect(thread_ref_count(me())).toBe(count - 1);
    expect(refAt(slotAt(me()), ti)).toBe(0);
    expect(block_refs(t)).toBe(1); // the ring's now
    expect(q_get(q, reader, out, 0)).toBe(8);
    expect(thread_last_block(reader)).toBe(t);
    expect(refAt(slotAt(reader), thread_last_index(reader))).toBe(<usize>t);
    expect(block_refs(t)).toBe(1);
    expect(put(q, out, 8)).toBe(1); // a message without objects
    expect(q_get(q, reader, out, 0)).toBe(8);
    expect(thread_last_block(reader)).toBe(0);
    kill(reader); // drops t, and with it x
    expect(blockAt(t)).toBe(E_STALE);
    expect(blockAt(x)).toBe(E_STALE);
    forget(reader);
    release(q, me());
    expectFigures(before);
  });

  test("a transit on a chunk that is not FIRST, at an index that does not hold it, or misaligned: R_INVALID, nothing moves", () => {
    const q = newRing(1024);
    const t = transit_new(me(), 0);
    const ti = thread_last_index(me());
    expect(q_put_begin(q, me(), 0)).toBe(1);
    expect(q_put_chunk(q, out, 8, LAST, 0, t, me(), ti)).toBe(R_INVALID);
    expect(q_put_chunk(q, out, 8, FIRST | LAST, 0, t, me(), ti + 1)).toBe(R_INVALID);
    expect(q_put_chunk(q, out, 8, FIRST | LAST, 0, t + 4, me(), ti)).toBe(R_INVALID);
    q_put_end(q);
    expect(q_used(q)).toBe(0);
    expect(refAt(slotAt(me()), ti)).toBe(<usize>t);
    expect(release(t, me())).toBe(1);
  });

  test("the transit of a message abandoned mid-way still reaches the reader, who lets go of it", () => {
    const before = new Figures();
    const q = newRing(1024);
    const producer = spawn();
    const t = transit_new(producer, 0);
    const ti = thread_last_index(producer);
    expect(q_put_begin(q, producer, 0)).toBe(1);
    expect(q_put_chunk(q, out, 8, FIRST, 0, t, producer, ti)).toBe(1);
    kill(producer); // the ring holds t, not the dead producer
    expect(blockAt(t)).toBe(OK);
    expect(q_get(q, me(), out, 0)).toBe(8 | MORE);
    expect(thread_last_block(me())).toBe(t);
    expect(q_get_next(q, me(), out, 0)).toBe(R_ABANDONED);
    q_get_end(q);
    expect(release(t, me())).toBe(1);
    forget(producer);
    release(q, me());
    expectFigures(before);
  });
});
