// Message ring for Queue, SimpleQueue, JoinableQueue and Pipe: variable-length records in
// a power-of-two byte ring. Producers serialize on the put lock and consumers on the get
// lock (both robust locks), so the data path between the one current producer and the one
// current consumer is single-producer/single-consumer. A message larger than a chunk goes
// as FIRST … LAST records written under one hold of the put lock and read under one hold
// of the get lock, so messages never interleave. A record becomes visible only when the
// tail moves past it, so a producer killed mid-put never exposes a torn record; a message
// it left unfinished is detected (its put lock owner is dead) and dropped.
import { deadlineFrom, expired, futexWait, now, spinWhileEquals, FOREVER } from "./wait";
import { ACQUIRED, E_OWNER_DIED, ID_MASK, lock_acquire, lock_release } from "./lock";
import { LOCK_OWNER_DIED, thread_alive } from "./thread";

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
const WRITERS: usize = 40;
const FLAGS: usize = 44;
export const RING_HEADER: i32 = 64;

/** Queue flags. */
export const RING_JOINABLE: i32 = 1;
/** Pipe channel: reading an empty ring whose writers all closed is end-of-file. */
export const RING_EOF_WHEN_NO_WRITERS: i32 = 2;

const FIRST: i32 = 1;
const LAST: i32 = 2;
const RECORD_HEADER: u32 = 8;

/** q_get / q_get_next: more chunks of this message follow (the get lock stays held). */
export const MORE: i32 = 0x40000000;
export const R_TIMEOUT: i32 = -1;
/** The producer of the message being read died before finishing it: drop what was read. */
export const R_ABANDONED: i32 = -4;
export const R_EOF: i32 = -5;
/** Only with timeout 0: the get/put lock is held by another thread right now. */
export const R_BUSY: i32 = -6;
/** q_get_next_try: the next chunk is not there yet. */
export const R_WOULD_BLOCK: i32 = -7;

const LIVENESS_CHECK_MS: f64 = 100;

export function ring_init(q: i32, capacity: i32, maxsize: i32, flags: i32): void {
  atomic.store<i32>(<usize>q + CAPACITY, capacity);
  atomic.store<i32>(<usize>q + MAXSIZE, maxsize);
  atomic.store<i32>(<usize>q + FLAGS, flags);
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

function used(q: usize): u32 {
  return <u32>atomic.load<i32>(q + TAIL) - <u32>atomic.load<i32>(q + HEAD);
}

function recordSize(len: u32): u32 {
  return RECORD_HEADER + ((len + 7) & ~7);
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

/** Takes the put lock and waits for room under maxsize: 1 ready, 0 timed out (nothing held). */
export function q_put_begin(q: i32, id: i32, timeoutMs: f64): i32 {
  const b = <usize>q;
  const deadline = deadlineFrom(timeoutMs);
  if (!takeLock(b + PUT_LOCK, id, deadline)) return timeoutMs == 0 ? R_BUSY : 0;
  while (true) {
    const maxsize = atomic.load<i32>(b + MAXSIZE);
    const count = atomic.load<i32>(b + COUNT);
    if (maxsize <= 0 || count < maxsize) return 1;
    if (timeoutMs == 0 || expired(deadline)) break;
    const head = atomic.load<i32>(b + HEAD);
    atomic.add<i32>(b + PUT_WAITERS, 1);
    if (atomic.load<i32>(b + COUNT) == count) futexWait(b + HEAD, head, deadline);
    atomic.sub<i32>(b + PUT_WAITERS, 1);
  }
  lock_release(<i32>(b + PUT_LOCK));
  return 0;
}

/**
 * Writes one chunk (the put lock is held). Waits for ring space until the deadline:
 * 1 written, 0 timed out. Counters move before the tail, so a visible message is counted.
 */
export function q_put_chunk(q: i32, src: i32, len: i32, flags: i32, timeoutMs: f64): i32 {
  const b = <usize>q;
  const need = recordSize(<u32>len);
  const capacity = <u32>atomic.load<i32>(b + CAPACITY);
  const deadline = deadlineFrom(timeoutMs);
  while (capacity - used(b) < need) {
    if (timeoutMs == 0 || expired(deadline)) return 0;
    const head = atomic.load<i32>(b + HEAD);
    if (spinWhileEquals(b + HEAD, head)) continue;
    atomic.add<i32>(b + PUT_WAITERS, 1);
    if (capacity - used(b) < need) futexWait(b + HEAD, head, deadline);
    atomic.sub<i32>(b + PUT_WAITERS, 1);
  }
  const tail = <u32>atomic.load<i32>(b + TAIL);
  copyIn(b, tail + RECORD_HEADER, <usize>src, <u32>len);
  const header = b + <usize>RING_HEADER + <usize>(tail & (capacity - 1));
  atomic.store<i32>(header, len);
  atomic.store<i32>(header + 4, flags);
  if ((flags & LAST) != 0) {
    if ((atomic.load<i32>(b + FLAGS) & RING_JOINABLE) != 0) atomic.add<i32>(b + UNFINISHED, 1);
    atomic.add<i32>(b + COUNT, 1);
  }
  atomic.store<i32>(b + TAIL, <i32>(tail + need));
  if (atomic.load<i32>(b + GET_WAITERS) > 0) atomic.notify(b + TAIL, -1);
  return 1;
}

export function q_put_end(q: i32): void {
  lock_release(<i32>(<usize>q + PUT_LOCK));
}

/** A whole one-chunk message in one call: 1 put, 0 timed out (queue full). */
export function q_put(q: i32, id: i32, src: i32, len: i32, timeoutMs: f64): i32 {
  const start = now();
  const begun = q_put_begin(q, id, timeoutMs);
  if (begun != 1) return begun;
  const left = timeoutMs < 0 ? FOREVER : max(0, timeoutMs - (now() - start));
  const result = q_put_chunk(q, src, len, FIRST | LAST, left);
  q_put_end(q);
  return result;
}

// ---------------------------------------------------------------- consumers

function producerGone(b: usize): bool {
  const word = atomic.load<i32>(b + PUT_LOCK);
  return word == 0 || (word & LOCK_OWNER_DIED) != 0 || thread_alive(word & ID_MASK) == 0;
}

function eof(b: usize): bool {
  return (atomic.load<i32>(b + FLAGS) & RING_EOF_WHEN_NO_WRITERS) != 0 && atomic.load<i32>(b + WRITERS) <= 0;
}

/** Consumes the record at head (the get lock is held), copying its payload to dst if dst != 0. */
function consume(b: usize, dst: usize): i32 {
  const capacity = <u32>atomic.load<i32>(b + CAPACITY);
  const head = <u32>atomic.load<i32>(b + HEAD);
  const header = b + <usize>RING_HEADER + <usize>(head & (capacity - 1));
  const len = atomic.load<i32>(header);
  const flags = atomic.load<i32>(header + 4);
  if (dst != 0) copyOut(b, head + RECORD_HEADER, dst, <u32>len);
  if ((flags & LAST) != 0) atomic.sub<i32>(b + COUNT, 1);
  atomic.store<i32>(b + HEAD, <i32>(head + recordSize(<u32>len)));
  if (atomic.load<i32>(b + PUT_WAITERS) > 0) atomic.notify(b + HEAD, -1);
  return (flags & LAST) != 0 ? len : len | MORE;
}

function headFlags(b: usize): i32 {
  const capacity = <u32>atomic.load<i32>(b + CAPACITY);
  const head = <u32>atomic.load<i32>(b + HEAD);
  return atomic.load<i32>(b + <usize>RING_HEADER + <usize>(head & (capacity - 1)) + 4);
}

/** Sleeps until the tail moves past `tail`, or the deadline / a liveness check interval passes. */
function waitForData(b: usize, tail: i32, deadline: f64, checkLiveness: bool): void {
  // A producer that is a little slower than us is the common case: poll briefly before parking.
  if (spinWhileEquals(b + TAIL, tail)) return;
  atomic.add<i32>(b + GET_WAITERS, 1);
  if (atomic.load<i32>(b + TAIL) == tail) {
    let until = deadline;
    if (checkLiveness) {
      const check = now() + LIVENESS_CHECK_MS;
      if (until < 0 || check < until) until = check;
    }
    futexWait(b + TAIL, tail, until);
  }
  atomic.sub<i32>(b + GET_WAITERS, 1);
}

/**
 * Takes the get lock and the first chunk of the next message into dst. Returns its length
 * (message complete, lock released), length | MORE (lock still held: continue with
 * q_get_next), R_TIMEOUT, or R_EOF. Chunks left by a consumer that died mid-message are
 * skipped: that one message is lost, nothing else.
 */
export function q_get(q: i32, id: i32, dst: i32, timeoutMs: f64): i32 {
  const b = <usize>q;
  const deadline = deadlineFrom(timeoutMs);
  if (!takeLock(b + GET_LOCK, id, deadline)) return timeoutMs == 0 ? R_BUSY : R_TIMEOUT;
  while (true) {
    const tail = atomic.load<i32>(b + TAIL);
    if (tail != atomic.load<i32>(b + HEAD)) {
      if ((headFlags(b) & FIRST) == 0) {
        consume(b, 0); // the rest of a message whose reader died
        continue;
      }
      const result = consume(b, <usize>dst);
      if ((result & MORE) == 0) lock_release(<i32>(b + GET_LOCK));
      return result;
    }
    if (eof(b)) {
      lock_release(<i32>(b + GET_LOCK));
      return R_EOF;
    }
    if (timeoutMs == 0 || expired(deadline)) {
      lock_release(<i32>(b + GET_LOCK));
      return R_TIMEOUT;
    }
    waitForData(b, tail, deadline, false);
  }
}

/** Next chunk of a message (get lock held): length [| MORE], or R_ABANDONED if its producer died. */
export function q_get_next(q: i32, dst: i32): i32 {
  const b = <usize>q;
  while (true) {
    const tail = atomic.load<i32>(b + TAIL);
    if (tail != atomic.load<i32>(b + HEAD)) {
      if ((headFlags(b) & FIRST) != 0) return R_ABANDONED; // a new message began: ours was cut off
      return consume(b, <usize>dst);
    }
    if (producerGone(b) && atomic.load<i32>(b + TAIL) == tail) return R_ABANDONED;
    waitForData(b, tail, FOREVER, true);
  }
}

/** q_get_next without waiting: a chunk, R_ABANDONED, or R_WOULD_BLOCK (wait on the tail and retry). */
export function q_get_next_try(q: i32, dst: i32): i32 {
  const b = <usize>q;
  const tail = atomic.load<i32>(b + TAIL);
  if (tail != atomic.load<i32>(b + HEAD)) {
    if ((headFlags(b) & FIRST) != 0) return R_ABANDONED;
    return consume(b, <usize>dst);
  }
  if (producerGone(b) && atomic.load<i32>(b + TAIL) == tail) return R_ABANDONED;
  return R_WOULD_BLOCK;
}

export function q_get_end(q: i32): void {
  lock_release(<i32>(<usize>q + GET_LOCK));
}

/** Waits until a message is readable or EOF: 1 yes, 0 timed out. Consumes nothing. */
export function q_poll(q: i32, timeoutMs: f64): i32 {
  const b = <usize>q;
  const deadline = deadlineFrom(timeoutMs);
  while (true) {
    const tail = atomic.load<i32>(b + TAIL);
    if (tail != atomic.load<i32>(b + HEAD) || eof(b)) return 1;
    if (timeoutMs == 0 || expired(deadline)) return 0;
    waitForData(b, tail, deadline, false);
  }
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
export function q_join(q: i32, timeoutMs: f64): i32 {
  const at = <usize>q + UNFINISHED;
  const deadline = deadlineFrom(timeoutMs);
  while (true) {
    const n = atomic.load<i32>(at);
    if (n == 0) return 1;
    if (timeoutMs == 0 || expired(deadline)) return 0;
    futexWait(at, n, deadline);
  }
}

/** Pipe ends that may still write; reaching 0 wakes readers to see EOF. */
export function q_writers_add(q: i32, delta: i32): i32 {
  const n = atomic.add<i32>(<usize>q + WRITERS, delta) + delta;
  if (n <= 0) atomic.notify(<usize>q + TAIL, -1);
  return n;
}

export function q_eof(q: i32): i32 {
  return eof(<usize>q) && atomic.load<i32>(<usize>q + TAIL) == atomic.load<i32>(<usize>q + HEAD) ? 1 : 0;
}
