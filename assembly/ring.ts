// Message ring for Queue, SimpleQueue, JoinableQueue and Pipe: variable-length records in
// a power-of-two byte ring. Producers serialize on the put lock and consumers on the get
// lock (both robust locks), so the data path between the one current producer and the one
// current consumer is single-producer/single-consumer. A message larger than a chunk goes
// as FIRST … LAST records written under one hold of the put lock and read under one hold
// of the get lock, so messages never interleave. A record becomes visible only when the
// tail moves past it, so a producer killed mid-put never exposes a torn record; a message
// it left unfinished is detected (its put lock owner is gone) and dropped.
//
// Block payload (RING_HEADER bytes, then the data):
//   +0  i32 putLock      robust lock word (lock.ts): the producer writing now
//   +4  i32 getLock      robust lock word: the consumer reading now
//   +8  u32 head         free-running byte position of the next record to read (multiple of 8)
//   +12 u32 tail         free-running byte position past the last committed record (multiple
//                        of 8) | CLOSED (bit 0: a pipe's writer end is gone: end of file once
//                        empty). A reader sleeps on this word, so closing wakes it for sure.
//   +16 i32 capacity     data bytes, a power of two: a position's offset is pos & (capacity - 1);
//                        tail - head ≤ capacity, so free-running u32 positions never confuse
//                        full with empty
//   +20 i32 count        complete messages in the ring (a record's LAST commit counts it)
//   +24 i32 maxsize      messages allowed at most (0 = no limit), as Python's Queue(maxsize)
//   +28 i32 getWaiters   consumers parked on tail (producers skip the notify when 0)
//   +32 i32 putWaiters   producers parked on head
//   +36 i32 unfinished   JoinableQueue: items put and not yet marked done
//   +44 i32 flags        RING_JOINABLE, RING_PIPE
// Record (8-byte aligned, may wrap around the end of the data):
//   +0 i32 len           payload bytes of this chunk
//   +4 i32 mark          transit | FIRST | LAST: the FIRST chunk of a message that carries
//                        forkless objects names its transit block (refs.ts), which owns their
//                        references while the message is in the ring
//   +8 …                 payload, padded to 8
import { deadlineFrom, expired, futexWait, now, spinWhileEquals, FOREVER, LIVENESS_CHECK_MS } from "./wait";
import { ACQUIRED, E_OWNER_DIED, ID_MASK, OWNER_DIED, lock_acquire, lock_release } from "./lock";
import {
  T_LAST_BLOCK, T_TABLE, blockIn, commitRef, fence, isAlive, pickRef, refAt, reserveRefs, slotOf, unblock, dropRef,
} from "./threads";
import { KIND_QUEUE } from "./kinds";

const PUT_LOCK: usize = 0;
const GET_LOCK: usize = 4;
const HEAD: usize = 8;
const TAIL: usize = 12;
const CAPACITY: usize = 16;
const COUNT: usize = 20;
const MAXSIZE: usize = 24;
const GET_WAITERS: usize = 28;
const PUT_WAITERS: usize = 32;
const UNFINISHED: usize = 36;
const FLAGS: usize = 44;
export const RING_HEADER: i32 = 64;
/** Offsets the host waits on (Atomics.waitAsync) or reads. */
export const RING_GET_LOCK_OFFSET: i32 = <i32>GET_LOCK;
export const RING_HEAD_OFFSET: i32 = <i32>HEAD;
export const RING_TAIL_OFFSET: i32 = <i32>TAIL;
export const RING_UNFINISHED_OFFSET: i32 = <i32>UNFINISHED;
export const RING_MIN_CAPACITY: i32 = 1024;

/** Ring flags. */
export const RING_JOINABLE: i32 = 1;
/** Pipe channel: reading an empty ring whose writer end is closed is end-of-file. */
export const RING_PIPE: i32 = 2;

export const FIRST: i32 = 1;
export const LAST: i32 = 2;
const MARK_FLAGS: i32 = 15;
const CLOSED: u32 = 1;
const POSITION: u32 = ~7;
const RECORD_HEADER: u32 = 8;

/** q_get / q_get_next: more chunks of this message follow (the get lock stays held). */
export const MORE: i32 = 0x40000000;
export const R_TIMEOUT: i32 = -11;
/** The producer of the message being read died before finishing it: drop what was read. */
export const R_ABANDONED: i32 = -12;
export const R_EOF: i32 = -13;
/** Only with timeout 0: the get/put lock is held by another thread right now. */
export const R_BUSY: i32 = -14;
/** q_get_next_try: the next chunk is not there yet. */
export const R_WOULD_BLOCK: i32 = -15;
/** A chunk longer than ring_chunk_max, or a ring or call that makes no sense. */
export const R_INVALID: i32 = -16;
/** The memory is full: no room to record the message's references. */
export const R_NO_MEMORY: i32 = -17;

/** Sets up a fresh (zeroed) ring: 0, or R_INVALID for a capacity that is not a power of two ≥ 1024. */
export function ring_init(q: i32, capacity: i32, maxsize: i32, flags: i32): i32 {
  if (capacity < RING_MIN_CAPACITY || (capacity & (capacity - 1)) != 0 || maxsize < 0) return R_INVALID;
  atomic.store<i32>(<usize>q + CAPACITY, capacity);
  atomic.store<i32>(<usize>q + MAXSIZE, maxsize);
  atomic.store<i32>(<usize>q + FLAGS, flags);
  return 0;
}

function remainingMs(deadline: f64): f64 {
  if (deadline < 0) return FOREVER;
  const left = deadline - now();
  return left > 0 ? left : 0;
}

/** Takes one of the ring's robust locks; a dead holder's lock is simply taken over. */
function takeLock(at: usize, id: i32, deadline: f64): bool {
  while (true) {
    const result = lock_acquire(<i32>at, id, remainingMs(deadline));
    if (result == ACQUIRED) return true;
    if (result != E_OWNER_DIED) return false;
  }
}

@inline function tailPos(b: usize): u32 {
  return <u32>atomic.load<i32>(b + TAIL) & POSITION;
}

function used(q: usize): u32 {
  return tailPos(q) - <u32>atomic.load<i32>(q + HEAD);
}

function recordSize(len: u32): u32 {
  return RECORD_HEADER + ((len + 7) & ~7);
}

@inline function recordAt(b: usize, pos: u32): usize {
  return b + <usize>RING_HEADER + <usize>(pos & (<u32>atomic.load<i32>(b + CAPACITY) - 1));
}

function copyIn(q: usize, pos: u32, src: usize, len: u32): void {
  const capacity = <u32>atomic.load<i32>(q + CAPACITY);
  const data = q + <usize>RING_HEADER;
  const at = pos & (capacity - 1);
  const first = min(len, capacity - at);
  memory.copy(data + at, src, first);
  if (first < len) memory.copy(data, src + first, len - first);
}

function copyOut(q: usize, pos: u32, dst: usize, len: u32): void {
  const capacity = <u32>atomic.load<i32>(q + CAPACITY);
  const data = q + <usize>RING_HEADER;
  const at = pos & (capacity - 1);
  const first = min(len, capacity - at);
  memory.copy(dst, data + at, first);
  if (first < len) memory.copy(dst + first, data, len - first);
}

/** Largest chunk a record may carry: a quarter of the ring, so a chunk always fits eventually. */
export function ring_chunk_max(q: i32): i32 {
  return (atomic.load<i32>(<usize>q + CAPACITY) >> 2) - <i32>RECORD_HEADER;
}

// ---------------------------------------------------------------- producers

/** Takes the put lock and waits for room under maxsize: 1 ready, 0 timed out, R_BUSY (timeout 0, lock held). */
export function q_put_begin(q: i32, id: i32, timeoutMs: f64): i32 {
  const b = <usize>q;
  const deadline = deadlineFrom(timeoutMs);
  if (timeoutMs != 0) blockIn(id, KIND_QUEUE, q, 1);
  if (!takeLock(b + PUT_LOCK, id, deadline)) {
    unblock(id);
    return timeoutMs == 0 ? R_BUSY : 0;
  }
  while (true) {
    const maxsize = atomic.load<i32>(b + MAXSIZE);
    const count = atomic.load<i32>(b + COUNT);
    if (maxsize <= 0 || count < maxsize) {
      unblock(id);
      return 1;
    }
    if (timeoutMs == 0 || expired(deadline)) break;
    const head = atomic.load<i32>(b + HEAD);
    atomic.add<i32>(b + PUT_WAITERS, 1);
    if (atomic.load<i32>(b + COUNT) == count) futexWait(b + HEAD, head, deadline);
    atomic.sub<i32>(b + PUT_WAITERS, 1);
    fence(id);
  }
  unblock(id);
  lock_release(<i32>(b + PUT_LOCK));
  return 0;
}

/**
 * Writes one chunk (the put lock is held). Waits for ring space until the deadline:
 * 1 written, 0 timed out, R_INVALID (too long, or a transit on a chunk that is not FIRST).
 * Counters move before the tail, so a visible message is counted. A transit block (held
 * by the caller at `transitIndex` of its reference table) passes to the ring in the same
 * step that makes the chunk visible.
 */
export function q_put_chunk(q: i32, src: i32, len: i32, flags: i32, timeoutMs: f64, transit: i32, id: i32, transitIndex: i32): i32 {
  const b = <usize>q;
  if (len < 0 || len > ring_chunk_max(q)) return R_INVALID;
  let table: usize = 0;
  if (transit != 0) {
    const slot = slotOf(id);
    if ((flags & FIRST) == 0 || (transit & MARK_FLAGS) != 0 || slot == 0) return R_INVALID;
    if (refAt(slot, transitIndex) != <usize>transit) return R_INVALID;
    table = <usize>atomic.load<i32>(slot + T_TABLE);
  }
  const need = recordSize(<u32>len);
  const capacity = <u32>atomic.load<i32>(b + CAPACITY);
  const deadline = deadlineFrom(timeoutMs);
  while (capacity - used(b) < need) {
    if (timeoutMs == 0 || expired(deadline)) return 0;
    const head = atomic.load<i32>(b + HEAD);
    if (spinWhileEquals(b + HEAD, head)) continue;
    atomic.add<i32>(b + PUT_WAITERS, 1);
    blockIn(id, KIND_QUEUE, q, 2);
    if (capacity - used(b) < need) futexWait(b + HEAD, head, deadline);
    unblock(id);
    atomic.sub<i32>(b + PUT_WAITERS, 1);
    fence(id);
  }
  const tail = tailPos(b);
  copyIn(b, tail + RECORD_HEADER, <usize>src, <u32>len);
  const header = recordAt(b, tail);
  atomic.store<i32>(header, len);
  atomic.store<i32>(header + 4, transit | (flags & (FIRST | LAST)));
  if ((flags & LAST) != 0) {
    if ((atomic.load<i32>(b + FLAGS) & RING_JOINABLE) != 0) atomic.add<i32>(b + UNFINISHED, 1);
    atomic.add<i32>(b + COUNT, 1);
  }
  // atomic w.r.t. termination: the message owns the transit exactly when it is visible
  atomic.add<i32>(b + TAIL, <i32>need);
  if (transit != 0) dropRef(table, transitIndex);
  if (atomic.load<i32>(b + GET_WAITERS) > 0) atomic.notify(b + TAIL, -1);
  return 1;
}

export function q_put_end(q: i32): void {
  lock_release(<i32>(<usize>q + PUT_LOCK));
}

/** A whole one-chunk message in one call: 1 put, 0 timed out (queue full), R_BUSY, R_INVALID. */
export function q_put(q: i32, id: i32, src: i32, len: i32, timeoutMs: f64, transit: i32, transitIndex: i32): i32 {
  if (len < 0 || len > ring_chunk_max(q)) return R_INVALID;
  const start = now();
  const begun = q_put_begin(q, id, timeoutMs);
  if (begun != 1) return begun;
  const left = timeoutMs < 0 ? FOREVER : max(0, timeoutMs - (now() - start));
  const result = q_put_chunk(q, src, len, FIRST | LAST, left, transit, id, transitIndex);
  q_put_end(q);
  return result;
}

// ---------------------------------------------------------------- consumers

/** The producer holding the put lock is gone (or none holds it): a message it began will not go on. */
function producerGone(b: usize): bool {
  const word = atomic.load<i32>(b + PUT_LOCK);
  return word == 0 || (word & OWNER_DIED) != 0 || !isAlive(word & ID_MASK);
}

function isClosed(b: usize): bool {
  return (<u32>atomic.load<i32>(b + TAIL) & CLOSED) != 0;
}

/**
 * Consumes the record at head (the get lock is held), copying its payload to dst if dst != 0.
 * A transit block on it passes to the reader's reference table (reserved beforehand) in the
 * same step that moves head; its address is left in the reader's slot (lastBlock).
 */
function consume(b: usize, dst: usize, slot: usize): i32 {
  const head = <u32>atomic.load<i32>(b + HEAD);
  const header = recordAt(b, head);
  const len = atomic.load<i32>(header);
  const mark = atomic.load<i32>(header + 4);
  const flags = mark & MARK_FLAGS;
  const transit = <usize>(mark & ~MARK_FLAGS);
  if (dst != 0) copyOut(b, head + RECORD_HEADER, dst, <u32>len);
  if ((flags & LAST) != 0) atomic.sub<i32>(b + COUNT, 1);
  // atomic w.r.t. termination
  atomic.store<i32>(b + HEAD, <i32>(head + recordSize(<u32>len)));
  if (transit != 0) {
    const table = <usize>atomic.load<i32>(slot + T_TABLE);
    commitRef(slot, table, pickRef(table), transit);
  }
  if ((flags & FIRST) != 0) atomic.store<i32>(slot + T_LAST_BLOCK, <i32>transit);
  if (atomic.load<i32>(b + PUT_WAITERS) > 0) atomic.notify(b + HEAD, -1);
  return (flags & LAST) != 0 ? len : len | MORE;
}

function headMark(b: usize): i32 {
  return atomic.load<i32>(recordAt(b, <u32>atomic.load<i32>(b + HEAD)) + 4);
}

/** Sleeps until tail changes from `tail` (data or close), the deadline, or `checkEvery` ms. */
function waitForData(b: usize, tail: i32, deadline: f64, checkEvery: f64): void {
  // A producer that is a little slower than us is the common case: poll briefly before parking.
  if (spinWhileEquals(b + TAIL, tail)) return;
  atomic.add<i32>(b + GET_WAITERS, 1);
  if (atomic.load<i32>(b + TAIL) == tail) {
    let until = deadline;
    if (checkEvery > 0) {
      const check = now() + checkEvery;
      if (until < 0 || check < until) until = check;
    }
    futexWait(b + TAIL, tail, until);
  }
  atomic.sub<i32>(b + GET_WAITERS, 1);
}

/**
 * Takes the get lock and the first chunk of the next message into dst. Returns its length
 * (message complete, lock released), length | MORE (lock still held: continue with
 * q_get_next), R_TIMEOUT, R_BUSY (timeout 0 only) or R_EOF. Chunks left by a consumer that
 * died mid-message are skipped: that one message is lost, nothing else.
 */
export function q_get(q: i32, id: i32, dst: i32, timeoutMs: f64): i32 {
  const b = <usize>q;
  const slot = slotOf(id);
  if (slot == 0) return R_INVALID;
  if (!reserveRefs(slot, 1)) return R_NO_MEMORY;
  const deadline = deadlineFrom(timeoutMs);
  if (timeoutMs != 0) blockIn(id, KIND_QUEUE, q, 0);
  if (!takeLock(b + GET_LOCK, id, deadline)) {
    unblock(id);
    return timeoutMs == 0 ? R_BUSY : R_TIMEOUT;
  }
  while (true) {
    const tail = atomic.load<i32>(b + TAIL);
    if ((<u32>tail & POSITION) != <u32>atomic.load<i32>(b + HEAD)) {
      if ((headMark(b) & FIRST) == 0) {
        consume(b, 0, slot); // the rest of a message whose reader died
        continue;
      }
      const result = consume(b, <usize>dst, slot);
      if ((result & MORE) == 0) lock_release(<i32>(b + GET_LOCK));
      unblock(id);
      return result;
    }
    if ((<u32>tail & CLOSED) != 0) {
      lock_release(<i32>(b + GET_LOCK));
      unblock(id);
      return R_EOF;
    }
    if (timeoutMs == 0 || expired(deadline)) {
      lock_release(<i32>(b + GET_LOCK));
      unblock(id);
      return R_TIMEOUT;
    }
    waitForData(b, tail, deadline, 0);
    fence(id);
  }
}

/**
 * Next chunk of a message (get lock held) within timeoutMs: length [| MORE], R_ABANDONED if
 * its producer is gone, or R_TIMEOUT (the get lock stays held: the message goes on later).
 */
export function q_get_next(q: i32, id: i32, dst: i32, timeoutMs: f64): i32 {
  const b = <usize>q;
  const slot = slotOf(id);
  if (slot == 0) return R_INVALID;
  const deadline = deadlineFrom(timeoutMs);
  if (timeoutMs != 0) blockIn(id, KIND_QUEUE, q, 3);
  while (true) {
    const tail = atomic.load<i32>(b + TAIL);
    if ((<u32>tail & POSITION) != <u32>atomic.load<i32>(b + HEAD)) {
      unblock(id);
      if ((headMark(b) & FIRST) != 0) return R_ABANDONED; // a new message began: ours was cut off
      return consume(b, <usize>dst, slot);
    }
    if (producerGone(b) && atomic.load<i32>(b + TAIL) == tail) {
      unblock(id);
      return R_ABANDONED;
    }
    if (timeoutMs == 0 || expired(deadline)) {
      unblock(id);
      return R_TIMEOUT;
    }
    waitForData(b, tail, deadline, LIVENESS_CHECK_MS);
    fence(id);
  }
}

/** q_get_next without waiting: a chunk, R_ABANDONED, or R_WOULD_BLOCK (wait on the tail and retry). */
export function q_get_next_try(q: i32, id: i32, dst: i32): i32 {
  const result = q_get_next(q, id, dst, 0);
  return result == R_TIMEOUT ? R_WOULD_BLOCK : result;
}

export function q_get_end(q: i32): void {
  lock_release(<i32>(<usize>q + GET_LOCK));
}

/** True while the get lock is held by `id` (a message it began reading goes on). */
export function q_reading(q: i32, id: i32): i32 {
  return (atomic.load<i32>(<usize>q + GET_LOCK) & ID_MASK) == id ? 1 : 0;
}

/**
 * Waits until a message is readable or the ring is at end of file: 1 yes, 0 timed out,
 * R_ABANDONED when the next message is the unfinished remains of a producer that is gone
 * (the caller drops it with a zero-timeout get and polls again). Consumes nothing else.
 */
export function q_poll(q: i32, id: i32, timeoutMs: f64): i32 {
  const b = <usize>q;
  const slot = slotOf(id);
  const deadline = deadlineFrom(timeoutMs);
  while (true) {
    const tail = atomic.load<i32>(b + TAIL);
    if ((<u32>tail & POSITION) != <u32>atomic.load<i32>(b + HEAD)) {
      const verdict = judgeHead(b, id, slot);
      if (verdict != 0) return verdict;
    } else if ((<u32>tail & CLOSED) != 0) {
      return 1;
    }
    if (timeoutMs == 0 || expired(deadline)) return 0;
    if (timeoutMs != 0) blockIn(id, KIND_QUEUE, q, 4);
    waitForData(b, tail, deadline, LIVENESS_CHECK_MS);
    unblock(id);
  }
}

/**
 * Whether the data at head makes a message a reader can have: 1 yes, R_ABANDONED if it is
 * a message whose producer is gone before finishing it, 0 if only a dead reader's leftovers
 * were there (they are skipped, when the get lock is free to take).
 */
function judgeHead(b: usize, id: i32, slot: usize): i32 {
  // Try once, taking over a dead reader's lock (its leftovers are what we skip).
  if (slot != 0 && takeLock(b + GET_LOCK, id, 0)) {
    // Skip leftovers (chunks without FIRST) while we hold the get lock.
    while (tailPos(b) != <u32>atomic.load<i32>(b + HEAD) && (headMark(b) & FIRST) == 0) consume(b, 0, slot);
    lock_release(<i32>(b + GET_LOCK));
    if (tailPos(b) == <u32>atomic.load<i32>(b + HEAD)) return isClosed(b) ? 1 : 0;
  }
  // A message is readable if it is complete, or its producer still writes it.
  const capacity = <u32>atomic.load<i32>(b + CAPACITY);
  let pos = <u32>atomic.load<i32>(b + HEAD);
  const end = tailPos(b);
  if ((headMark(b) & FIRST) == 0) return 1; // another reader is mid-message; the next is not ours to judge
  while (pos != end && end - pos <= capacity) {
    const header = recordAt(b, pos);
    if ((atomic.load<i32>(header + 4) & LAST) != 0) return 1;
    pos += recordSize(<u32>atomic.load<i32>(header));
  }
  return producerGone(b) ? R_ABANDONED : 1;
}

/** For the ring's finalizer (refs.ts): the address of the next mark word from head on that names a transit, or 0. */
export function ringNextTransit(q: usize): usize {
  const capacity = <u32>atomic.load<i32>(q + CAPACITY);
  let pos = <u32>atomic.load<i32>(q + HEAD);
  const end = tailPos(q);
  while (pos != end && end - pos <= capacity) {
    const header = recordAt(q, pos);
    if ((atomic.load<i32>(header + 4) & ~MARK_FLAGS) != 0) return header + 4;
    pos += recordSize(<u32>atomic.load<i32>(header));
  }
  return 0;
}

/** A pipe's writer end is gone: readers get end of file once the ring is empty. Idempotent. */
export function ringClose(q: usize): void {
  atomic.or<i32>(q + TAIL, <i32>CLOSED);
  atomic.notify(q + TAIL, -1);
}

// ---------------------------------------------------------------- counters

export function q_count(q: i32): i32 {
  return atomic.load<i32>(<usize>q + COUNT);
}
export function q_maxsize(q: i32): i32 {
  return atomic.load<i32>(<usize>q + MAXSIZE);
}
export function q_capacity(q: i32): i32 {
  return atomic.load<i32>(<usize>q + CAPACITY);
}
export function q_used(q: i32): i32 {
  return <i32>used(<usize>q);
}
/** The word readers sleep on (tail position | CLOSED). */
export function q_tail(q: i32): i32 {
  return atomic.load<i32>(<usize>q + TAIL);
}
export function q_get_waiters_add(q: i32, delta: i32): void {
  atomic.add<i32>(<usize>q + GET_WAITERS, delta);
}
export function q_put_waiters_add(q: i32, delta: i32): void {
  atomic.add<i32>(<usize>q + PUT_WAITERS, delta);
}
export function q_head(q: i32): i32 {
  return atomic.load<i32>(<usize>q + HEAD);
}

/** JoinableQueue.task_done: 1, or -1 if called more times than items were put. */
export function q_task_done(q: i32): i32 {
  const at = <usize>q + UNFINISHED;
  while (true) {
    const n = atomic.load<i32>(at);
    if (n <= 0) return -1;
    if (atomic.cmpxchg<i32>(at, n, n - 1) == n) {
      if (n == 1) atomic.notify(at, -1);
      return 1;
    }
  }
}

export function q_unfinished(q: i32): i32 {
  return atomic.load<i32>(<usize>q + UNFINISHED);
}

/** JoinableQueue.join: 1 once every item was marked done, 0 on timeout. */
export function q_join(q: i32, id: i32, timeoutMs: f64): i32 {
  const at = <usize>q + UNFINISHED;
  const deadline = deadlineFrom(timeoutMs);
  while (true) {
    const n = atomic.load<i32>(at);
    if (n == 0) return 1;
    if (timeoutMs == 0 || expired(deadline)) return 0;
    blockIn(id, KIND_QUEUE, q, 5);
    futexWait(at, n, deadline);
    unblock(id);
  }
}

/** 1 once a pipe's ring is closed and empty: end of file. */
export function q_eof(q: i32): i32 {
  return isClosed(<usize>q) && tailPos(<usize>q) == <u32>atomic.load<i32>(<usize>q + HEAD) ? 1 : 0;
}
