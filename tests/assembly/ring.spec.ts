import {
  RING_HEADER, RING_JOINABLE, RING_EOF_WHEN_NO_WRITERS, MORE, R_TIMEOUT, R_EOF, R_BUSY, R_ABANDONED,
  ring_init, ring_chunk_max, q_put, q_put_begin, q_put_chunk, q_put_end, q_get, q_get_next, q_get_next_try, q_get_end,
  q_poll, q_count, q_used, q_head, q_tail, q_put_waiters_add, q_task_done, q_unfinished, q_join, q_writers_add, q_eof,
} from "../../assembly/ring";
import { now } from "../../assembly/wait";
import { KIND_SCRATCH, alloc, newThread, since } from "./support";

const KIND_QUEUE: i32 = 11;
const FIRST: i32 = 1;
const LAST: i32 = 2;
// Header words (assembly/ring.ts): producers blocked for room or under maxsize park on HEAD.
const HEAD: usize = 8;

function newRing(capacity: i32, maxsize: i32 = 0, flags: i32 = 0): i32 {
  const q = alloc(RING_HEADER + capacity, KIND_QUEUE);
  ring_init(q, capacity, maxsize, flags);
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

describe("ring: messages", () => {
  test("q_put then q_get returns the same bytes, in order, and counts messages", () => {
    const q = newRing(1024);
    const me = newThread();
    const a = bytes(10, 1);
    const b = bytes(33, 50);
    const out = alloc(64, KIND_SCRATCH);
    expect(q_put(q, me, a, 10, 0)).toBe(1);
    expect(q_put(q, me, b, 33, 0)).toBe(1);
    expect(q_count(q)).toBe(2);
    expect(q_get(q, me, out, 0)).toBe(10);
    expect(sameBytes(out, a, 10)).toBe(true);
    expect(q_get(q, me, out, 0)).toBe(33);
    expect(sameBytes(out, b, 33)).toBe(true);
    expect(q_count(q)).toBe(0);
    expect(q_used(q)).toBe(0);
  });

  test("an empty message is a message", () => {
    const q = newRing(1024);
    const me = newThread();
    const out = alloc(8, KIND_SCRATCH);
    expect(q_put(q, me, out, 0, 0)).toBe(1);
    expect(q_count(q)).toBe(1);
    expect(q_get(q, me, out, 0)).toBe(0);
    expect(q_count(q)).toBe(0);
  });

  test("records wrap around the end of the ring intact", () => {
    const q = newRing(256);
    const me = newThread();
    const out = alloc(64, KIND_SCRATCH);
    for (let round = 0; round < 50; round++) {
      const n = 1 + ((round * 7) % 40);
      const src = bytes(n, round);
      expect(q_put(q, me, src, n, 0)).toBe(1);
      expect(q_get(q, me, out, 0)).toBe(n);
      expect(sameBytes(out, src, n)).toBe(true);
    }
    expect(q_head(q)).toBe(q_tail(q));
  });

  test("a message in several chunks is read chunk by chunk under one hold of the get lock", () => {
    const q = newRing(1024);
    const me = newThread();
    const chunk = ring_chunk_max(q);
    expect(chunk).toBe(1024 / 4 - 8);
    const a = bytes(chunk, 3);
    const b = bytes(20, 9);
    expect(q_put_begin(q, me, 0)).toBe(1);
    expect(q_put_chunk(q, a, chunk, FIRST, 0)).toBe(1);
    expect(q_count(q)).toBe(0); // not a message until its last chunk
    expect(q_put_chunk(q, b, 20, LAST, 0)).toBe(1);
    q_put_end(q);
    expect(q_count(q)).toBe(1);
    const out = alloc(chunk, KIND_SCRATCH);
    expect(q_get(q, me, out, 0)).toBe(chunk | MORE);
    expect(sameBytes(out, a, chunk)).toBe(true);
    expect(q_get_next(q, out)).toBe(20);
    expect(sameBytes(out, b, 20)).toBe(true);
    q_get_end(q);
    expect(q_count(q)).toBe(0);
  });

  test("chunks a dead reader left behind are skipped: the next message arrives whole", () => {
    const q = newRing(1024);
    const me = newThread();
    const out = alloc(64, KIND_SCRATCH);
    expect(q_put_begin(q, me, 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 1), 8, FIRST, 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 2), 8, 0, 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 3), 8, LAST, 0)).toBe(1);
    q_put_end(q);
    // A reader takes the first chunk and is gone: the rest is left at the head.
    expect(q_get(q, me, out, 0)).toBe(8 | MORE);
    q_get_end(q);
    const next = bytes(5, 40);
    expect(q_put(q, me, next, 5, 0)).toBe(1);
    expect(q_get(q, me, out, 0)).toBe(5);
    expect(sameBytes(out, next, 5)).toBe(true);
  });

  test("a message cut off by a new FIRST is reported abandoned", () => {
    const q = newRing(1024);
    const me = newThread();
    const out = alloc(64, KIND_SCRATCH);
    expect(q_put_begin(q, me, 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 1), 8, FIRST, 0)).toBe(1);
    expect(q_put_chunk(q, bytes(8, 2), 8, FIRST | LAST, 0)).toBe(1);
    q_put_end(q);
    expect(q_get(q, me, out, 0)).toBe(8 | MORE);
    expect(q_get_next_try(q, out)).toBe(R_ABANDONED);
    q_get_end(q);
  });
});

describe("ring: empty, full, timeouts", () => {
  test("q_get on an empty ring: timeout 0 at once, 5 ms after at least 5 ms", () => {
    const q = newRing(1024);
    const me = newThread();
    const out = alloc(8, KIND_SCRATCH);
    expect(q_get(q, me, out, 0)).toBe(R_TIMEOUT);
    const t0 = now();
    expect(q_get(q, me, out, 5)).toBe(R_TIMEOUT);
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    expect(q_poll(q, 0)).toBe(0);
  });

  test("a full ring refuses a put with timeout 0; one get makes room for it", () => {
    const q = newRing(256);
    const me = newThread();
    const src = bytes(56, 1); // a 64-byte record
    for (let i = 0; i < 4; i++) expect(q_put(q, me, src, 56, 0)).toBe(1);
    expect(q_used(q)).toBe(256);
    expect(q_put(q, me, src, 56, 0)).toBe(0);
    expect(q_count(q)).toBe(4);
    const out = alloc(64, KIND_SCRATCH);
    expect(q_get(q, me, out, 0)).toBe(56);
    expect(q_put(q, me, src, 56, 0)).toBe(1);
    expect(q_used(q)).toBe(256);
  });

  test("a timed put on a full ring gives up after its timeout, not before", () => {
    const q = newRing(256);
    const me = newThread();
    const src = bytes(56, 1);
    for (let i = 0; i < 4; i++) expect(q_put(q, me, src, 56, 0)).toBe(1);
    const t0 = now();
    expect(q_put(q, me, src, 56, 5)).toBe(0);
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    expect(q_count(q)).toBe(4);
  });

  test("maxsize counts messages: a put past it fails until one is taken", () => {
    const q = newRing(1024, 2);
    const me = newThread();
    const src = bytes(4, 1);
    expect(q_put(q, me, src, 4, 0)).toBe(1);
    expect(q_put(q, me, src, 4, 0)).toBe(1);
    expect(q_put(q, me, src, 4, 0)).toBe(0);
    expect(q_count(q)).toBe(2);
    const out = alloc(8, KIND_SCRATCH);
    expect(q_get(q, me, out, 0)).toBe(4);
    expect(q_put(q, me, src, 4, 0)).toBe(1);
  });

  test("a put lock held by another live thread: timeout 0 says busy", () => {
    const q = newRing(1024);
    const holder = newThread();
    const me = newThread();
    expect(q_put_begin(q, holder, 0)).toBe(1);
    expect(q_put_begin(q, me, 0)).toBe(R_BUSY);
    q_put_end(q);
    expect(q_put_begin(q, me, 0)).toBe(1);
    q_put_end(q);
  });
});

describe("ring: waking producers", () => {
  test("a get moves HEAD (where blocked producers park) only when it takes a record", () => {
    const q = newRing(1024);
    const me = newThread();
    const out = alloc(64, KIND_SCRATCH);
    const head0 = atomic.load<i32>(<usize>q + HEAD);
    expect(q_get(q, me, out, 0)).toBe(R_TIMEOUT);
    expect(atomic.load<i32>(<usize>q + HEAD)).toBe(head0);
    expect(q_put(q, me, bytes(56, 1), 56, 0)).toBe(1);
    q_put_waiters_add(q, 1); // as a parked producer does; the get below notifies HEAD
    expect(q_get(q, me, out, 0)).toBe(56);
    expect(atomic.load<i32>(<usize>q + HEAD)).toBe(head0 + 64);
    q_put_waiters_add(q, -1);
  });

  test("a timed put on a ring nobody reads gives up at its deadline", () => {
    const q = newRing(256);
    const me = newThread();
    const src = bytes(56, 1);
    for (let i = 0; i < 4; i++) expect(q_put(q, me, src, 56, 0)).toBe(1);
    const t0 = now();
    expect(q_put(q, me, src, 56, 8)).toBe(0);
    expect(since(t0)).toBeGreaterThanOrEqual(8.0);
    expect(q_count(q)).toBe(4);
  });
});

describe("ring: joinable and end of file", () => {
  test("JoinableQueue: unfinished counts puts; task_done counts down; join returns at 0", () => {
    const q = newRing(1024, 0, RING_JOINABLE);
    const me = newThread();
    const src = bytes(4, 1);
    expect(q_put(q, me, src, 4, 0)).toBe(1);
    expect(q_put(q, me, src, 4, 0)).toBe(1);
    expect(q_unfinished(q)).toBe(2);
    expect(q_join(q, 0)).toBe(0);
    expect(q_task_done(q)).toBe(1);
    expect(q_join(q, 0)).toBe(0);
    expect(q_task_done(q)).toBe(1);
    expect(q_unfinished(q)).toBe(0);
    expect(q_join(q, 0)).toBe(1);
    expect(q_task_done(q)).toBe(-1); // more task_done() calls than items: refused, count stays 0
    expect(q_unfinished(q)).toBe(0);
  });

  test("a pipe channel with no writers left reads as end of file once empty", () => {
    const q = newRing(1024, 0, RING_EOF_WHEN_NO_WRITERS);
    const me = newThread();
    const out = alloc(8, KIND_SCRATCH);
    q_writers_add(q, 1);
    expect(q_put(q, me, bytes(3, 1), 3, 0)).toBe(1);
    q_writers_add(q, -1);
    expect(q_eof(q)).toBe(0); // a message is still there
    expect(q_get(q, me, out, 0)).toBe(3);
    expect(q_eof(q)).toBe(1);
    expect(q_get(q, me, out, -1)).toBe(R_EOF);
    expect(q_poll(q, 0)).toBe(1);
  });
});
