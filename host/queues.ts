// Queue, SimpleQueue, JoinableQueue (Python's multiprocessing.queues) over the message ring
// in assembly/ring.ts. put() encodes the value (host/codec.ts) in this thread and copies it
// into the ring through a per-thread scratch block; get() copies it out and decodes it.
// There is no feeder thread: when put() returns, the item is in shared memory.
import { Kind, SharedObject, adoptHandle, registerKind, retainForTransfer, type Handle } from "./handles";
import { Encoder, decode, type SharedRefs } from "./codec";
import { BlockingNotAllowedError, EmptyError, FullError, ValueError } from "./errors";
import { checkAcquireOptions, checkCount, checkTimeout, FOREVER, remaining, type AcquireOptions } from "./options";
import { mayBlock, now, waitAsync } from "./platform";
import type { Runtime } from "./runtime";

const RING_HEADER = 64;
const RING_JOINABLE = 1;
export const RING_EOF_WHEN_NO_WRITERS = 2;
const FIRST = 1;
const LAST = 2;
const MORE = 0x40000000;
const R_TIMEOUT = -1;
const R_ABANDONED = -4;
const R_EOF = -5;
const R_BUSY = -6;
const R_WOULD_BLOCK = -7;
const OFFSET_GET_LOCK = 4;
const OFFSET_HEAD = 8;
const OFFSET_TAIL = 12;
/** How often an asynchronous reader re-checks that a writer mid-message is still alive. */
const LIVENESS_MS = 100;

const SCRATCH_BYTES = 64 * 1024;
const DEFAULT_CAPACITY = 256 * 1024;
const MIN_CAPACITY = 1024;
const MAX_CAPACITY = 256 * 1024 * 1024;

/** Returned by the byte layer when the ring is at end-of-file (pipes only). */
export const END_OF_FILE = Symbol("forkless.eof");

const refs: SharedRefs = { retain: retainForTransfer, revive: adoptHandle };
const encoder = new Encoder();

interface Scratch {
  rt: Runtime;
  p: number;
  view: Uint8Array;
}
let scratch: Scratch | undefined;

/** This thread's staging block in shared memory, where Wasm copies chunks in and out. */
function scratchFor(rt: Runtime): Scratch {
  if (scratch?.rt !== rt) {
    const p = rt.exports.block_alloc(SCRATCH_BYTES, 255);
    if (p === 0) throw new ValueError("forkless: the shared memory is full; cannot allocate this thread's queue buffer");
    scratch = { rt, p, view: new Uint8Array(rt.memory.buffer, p, SCRATCH_BYTES) };
  }
  return scratch;
}

// Messages are copied out of shared memory into this private buffer and decoded there:
// one buffer for the thread's lifetime keeps the decoder's views warm and allocates nothing.
let inbox = new Uint8Array(SCRATCH_BYTES);

/** Copies len bytes out of shared memory; the view is valid until the next call in this thread. */
function toInbox(source: Uint8Array, len: number): Uint8Array {
  if (len > inbox.length) inbox = new Uint8Array(2 ** Math.ceil(Math.log2(len)));
  inbox.set(source.subarray(0, len));
  return inbox.subarray(0, len);
}

function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const part of parts) total += part.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export interface QueueOptions {
  /** Items the queue holds at most (0 = no limit), as Python's maxsize. */
  maxsize?: number;
  /** Bytes of ring buffer (rounded up to a power of two; default 256 KiB). Larger items pass in chunks. */
  capacity?: number;
}

function capacityFrom(bytes: number | undefined, where: string): number {
  if (bytes === undefined) return DEFAULT_CAPACITY;
  if (typeof bytes !== "number" || !Number.isInteger(bytes) || bytes < MIN_CAPACITY || bytes > MAX_CAPACITY) {
    throw new RangeError(`${where}: capacity must be an integer number of bytes from ${MIN_CAPACITY} to ${MAX_CAPACITY}; got ${String(bytes)}`);
  }
  return 2 ** Math.ceil(Math.log2(bytes));
}

/** A ring block and the byte-level put/get every queue and pipe uses. */
export abstract class Ring extends SharedObject {
  declare protected _chunk: number;

  protected _createRing(kind: Kind, capacity: number, maxsize: number, flags: number): void {
    this._allocate(kind, RING_HEADER + capacity);
    this._ex.ring_init(this._p, capacity, maxsize, flags);
    this._chunk = Math.min(this._ex.ring_chunk_max(this._p), SCRATCH_BYTES);
  }

  protected _openRing(kind: Kind, handle: Handle, name: string): void {
    this._open(kind, handle, name);
    this._chunk = Math.min(this._ex.ring_chunk_max(this._p), SCRATCH_BYTES);
  }

  protected _encode(value: unknown): Uint8Array {
    return encoder.encode(value, refs);
  }

  protected _decode(bytes: Uint8Array): unknown {
    return decode(bytes, refs);
  }

  protected _assertMayBlock(what: string, alternative: string): void {
    if (!mayBlock()) {
      throw new BlockingNotAllowedError(
        `${this.constructor.name}.${what} would block this thread, which may not block (a browser's main thread); ` +
          `use ${alternative}, or pass { block: false }`,
      );
    }
  }

  /** Bytes of ring a message of n bytes occupies (record headers included). */
  private _footprint(n: number): number {
    const whole = Math.floor(n / this._chunk);
    const rest = n - whole * this._chunk;
    const record = (len: number) => 8 + ((len + 7) & ~7);
    return whole * record(this._chunk) + (rest > 0 || n === 0 ? record(rest) : 0);
  }

  /**
   * Blocking put of one message; false if it did not fit within timeoutMs. A message of
   * several chunks that runs out of time midway is cut off: readers drop the part written.
   * With timeoutMs 0 a message goes in whole or not at all.
   */
  protected _putBytes(bytes: Uint8Array, timeoutMs: number): boolean {
    const q = this._live();
    const ex = this._ex;
    const s = scratchFor(this._rt);
    const n = bytes.length;
    if (n <= this._chunk) {
      s.view.set(bytes);
      return ex.q_put(q, this._id, s.p, n, timeoutMs) === 1;
    }
    const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
    if (ex.q_put_begin(q, this._id, timeoutMs) !== 1) return false;
    try {
      if (timeoutMs === 0 && ex.q_capacity(q) - ex.q_used(q) < this._footprint(n)) return false;
      for (let at = 0; at < n; ) {
        const len = Math.min(this._chunk, n - at);
        s.view.set(bytes.subarray(at, at + len));
        const flags = (at === 0 ? FIRST : 0) | (at + len === n ? LAST : 0);
        const left = timeoutMs < 0 ? FOREVER : timeoutMs === 0 ? 0 : remaining(deadline, now());
        if (ex.q_put_chunk(q, s.p, len, flags, left) !== 1) return false;
        at += len;
      }
      return true;
    } finally {
      ex.q_put_end(q);
    }
  }

  protected _getNowOrRefuse(what: string, alternative: string): Uint8Array | null | typeof END_OF_FILE {
    const bytes = this._getBytes(0);
    if (bytes === null) this._assertMayBlock(what, alternative);
    return bytes;
  }

  protected async _putBytesAsync(bytes: Uint8Array, timeoutMs: number): Promise<boolean> {
    const q = this._live();
    const ex = this._ex;
    const n = bytes.length;
    const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
    // Take the put lock (and room under maxsize) without blocking the thread.
    while (true) {
      const begun = ex.q_put_begin(this._live(), this._id, 0);
      if (begun === 1) break;
      const left = remaining(deadline, now());
      if (left === 0) return false;
      if (begun === R_BUSY) {
        const word = ex.lock_park_word(q);
        if (word !== 0) await waitAsync(this._rt.int32(), q >> 2, word, Math.min(left, LIVENESS_MS));
      } else {
        await this._waitForRoom(q, left);
      }
    }
    try {
      if (timeoutMs === 0 && ex.q_capacity(q) - ex.q_used(q) < this._footprint(n)) return false;
      for (let at = 0; at < n || at === 0; ) {
        const len = Math.min(this._chunk, n - at);
        const flags = (at === 0 ? FIRST : 0) | (at + len === n ? LAST : 0);
        while (true) {
          const s = scratchFor(this._rt);
          s.view.set(bytes.subarray(at, at + len));
          if (ex.q_put_chunk(q, s.p, len, flags, 0) === 1) break;
          // Out of time midway: the message is cut off and readers drop the part written.
          const left = remaining(deadline, now());
          if (left === 0) return false;
          await this._waitForRoom(q, left);
        }
        at += len;
        if (n === 0) break;
      }
      return true;
    } finally {
      ex.q_put_end(q);
    }
  }

  private async _waitForRoom(q: number, left: number): Promise<void> {
    const ex = this._ex;
    const head = ex.q_head(q);
    ex.q_put_waiters_add(q, 1);
    try {
      await waitAsync(this._rt.int32(), (q + OFFSET_HEAD) >> 2, head, Math.min(left, LIVENESS_MS));
    } finally {
      ex.q_put_waiters_add(q, -1);
    }
  }

  /** Blocking get of one message: its bytes (valid until the next get in this thread), null on timeout, or END_OF_FILE. */
  protected _getBytes(timeoutMs: number): Uint8Array | null | typeof END_OF_FILE {
    const q = this._live();
    const ex = this._ex;
    const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
    let left = timeoutMs;
    while (true) {
      const s = scratchFor(this._rt);
      const first = ex.q_get(q, this._id, s.p, left);
      if (first === R_TIMEOUT || first === R_BUSY) return null;
      if (first === R_EOF) return END_OF_FILE;
      if ((first & MORE) === 0) return toInbox(s.view, first);
      const parts = [s.view.slice(0, first & ~MORE)];
      let abandoned = false;
      try {
        while (true) {
          const next = ex.q_get_next(q, s.p);
          if (next === R_ABANDONED) {
            abandoned = true;
            break;
          }
          parts.push(s.view.slice(0, next & ~MORE));
          if ((next & MORE) === 0) break;
        }
      } finally {
        ex.q_get_end(q);
      }
      if (!abandoned) return concat(parts);
      // Its writer died mid-message: that message never existed. Try for the next one.
      left = deadline < 0 ? FOREVER : remaining(deadline, now());
    }
  }

  protected async _getBytesAsync(timeoutMs: number): Promise<Uint8Array | null | typeof END_OF_FILE> {
    const q = this._live();
    const ex = this._ex;
    const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
    while (true) {
      const s = scratchFor(this._rt);
      const first = ex.q_get(this._live(), this._id, s.p, 0);
      if (first === R_EOF) return END_OF_FILE;
      if (first === R_TIMEOUT || first === R_BUSY) {
        const left = remaining(deadline, now());
        if (left === 0) return null;
        if (first === R_BUSY) {
          const lockAt = q + OFFSET_GET_LOCK;
          const word = ex.lock_park_word(lockAt);
          if (word !== 0) await waitAsync(this._rt.int32(), lockAt >> 2, word, Math.min(left, LIVENESS_MS));
        } else {
          await this._waitForData(q, left);
        }
        continue;
      }
      if ((first & MORE) === 0) return s.view.slice(0, first); // awaited: others may reuse the inbox meanwhile
      const parts = [s.view.slice(0, first & ~MORE)];
      let abandoned = false;
      try {
        while (true) {
          const next = ex.q_get_next_try(q, scratchFor(this._rt).p);
          if (next === R_WOULD_BLOCK) {
            await this._waitForData(q, LIVENESS_MS);
            continue;
          }
          if (next === R_ABANDONED) {
            abandoned = true;
            break;
          }
          parts.push(scratchFor(this._rt).view.slice(0, next & ~MORE));
          if ((next & MORE) === 0) break;
        }
      } finally {
        ex.q_get_end(q);
      }
      if (!abandoned) return concat(parts);
    }
  }

  protected async _waitForData(q: number, left: number): Promise<void> {
    const ex = this._ex;
    const tail = ex.q_tail(q);
    ex.q_get_waiters_add(q, 1);
    try {
      if (ex.q_head(q) === tail && ex.q_eof(q) === 0) {
        await waitAsync(this._rt.int32(), (q + OFFSET_TAIL) >> 2, tail, left);
      }
    } finally {
      ex.q_get_waiters_add(q, -1);
    }
  }
}

function emptyError(name: string, timeoutMs: number): EmptyError {
  return new EmptyError(timeoutMs === 0 ? `${name}.get: the queue is empty` : `${name}.get: nothing arrived within ${timeoutMs} ms`);
}

function fullError(name: string, timeoutMs: number): FullError {
  return new FullError(timeoutMs === 0 ? `${name}.put: the queue is full` : `${name}.put: no room within ${timeoutMs} ms`);
}

// ---------------------------------------------------------------- Queue

export class Queue extends Ring {
  static override readonly handleKind: string = "Queue";

  /** Python's Queue(maxsize=0): `new Queue()`, `new Queue(10)` or `new Queue({ maxsize, capacity })`. */
  constructor(options: number | QueueOptions = {}) {
    super();
    const opts = typeof options === "number" ? { maxsize: options } : options;
    if (typeof opts !== "object" || opts === null) throw new TypeError(`${new.target.name}: expected maxsize or { maxsize, capacity }`);
    const maxsize = opts.maxsize === undefined || opts.maxsize <= 0 ? 0 : checkCount(opts.maxsize, new.target.name, "maxsize", 0);
    if (opts.maxsize !== undefined && (typeof opts.maxsize !== "number" || Number.isNaN(opts.maxsize))) {
      throw new TypeError(`${new.target.name}: maxsize must be a number (0 or less = unbounded)`);
    }
    const kind = new.target === JoinableQueue || JoinableQueue.prototype.isPrototypeOf(new.target.prototype) ? Kind.JoinableQueue : Kind.Queue;
    this._createRing(kind, capacityFrom(opts.capacity, new.target.name), maxsize, kind === Kind.JoinableQueue ? RING_JOINABLE : 0);
  }

  static fromHandle(handle: Handle): Queue {
    const queue = Object.create(Queue.prototype) as Queue;
    queue._openRing(Kind.Queue, handle, "Queue");
    return queue;
  }

  /** Python's put(obj, block=True, timeout=None); throws FullError when there is no room in time. */
  put(item: unknown, options?: AcquireOptions): void {
    const timeout = checkAcquireOptions(options, `${this.constructor.name}.put`);
    const bytes = this._encode(item);
    if (timeout !== 0 && !mayBlock()) {
      // A thread that may not block can still put when there is room right now.
      if (this._putBytes(bytes, 0)) return;
      this._assertMayBlock("put()", "await queue.putAsync(item)");
    }
    if (!this._putBytes(bytes, timeout)) throw fullError(this.constructor.name, timeout);
  }

  putNowait(item: unknown): void {
    this.put(item, { block: false });
  }

  async putAsync(item: unknown, options?: { timeout?: number }): Promise<void> {
    const timeout = checkTimeout(options?.timeout, `${this.constructor.name}.putAsync`);
    const bytes = this._encode(item).slice();
    if (!(await this._putBytesAsync(bytes, timeout))) throw fullError(this.constructor.name, timeout);
  }

  /** Python's get(block=True, timeout=None); throws EmptyError when nothing arrives in time. */
  get(options?: AcquireOptions): any {
    const timeout = checkAcquireOptions(options, `${this.constructor.name}.get`);
    const bytes = timeout !== 0 && !mayBlock() ? this._getNowOrRefuse("get()", "await queue.getAsync()") : this._getBytes(timeout);
    if (bytes === null || bytes === END_OF_FILE) throw emptyError(this.constructor.name, timeout);
    return this._decode(bytes);
  }

  getNowait(): any {
    return this.get({ block: false });
  }

  async getAsync(options?: { timeout?: number }): Promise<any> {
    const timeout = checkTimeout(options?.timeout, `${this.constructor.name}.getAsync`);
    const bytes = await this._getBytesAsync(timeout);
    if (bytes === null || bytes === END_OF_FILE) throw emptyError(this.constructor.name, timeout);
    return this._decode(bytes);
  }

  /** Items in the queue now (approximate while others put and get). */
  qsize(): number {
    return this._ex.q_count(this._live());
  }

  empty(): boolean {
    return this.qsize() === 0;
  }

  full(): boolean {
    const q = this._live();
    const maxsize = this._ex.q_maxsize(q);
    return maxsize > 0 && this._ex.q_count(q) >= maxsize;
  }

  get maxsize(): number {
    return this._ex.q_maxsize(this._live());
  }

  /**
   * Python: wait for the feeder thread to flush. There is none here — put() returns once the
   * item is in shared memory — so this only checks that close() was called first.
   */
  joinThread(): void {
    if (!this.closed) throw new ValueError(`${this.constructor.name}.joinThread: call close() first`);
  }

  /** Python: don't wait for the feeder at exit. Nothing to cancel here; kept for ported code. */
  cancelJoinThread(): void {}
}
registerKind("Queue", (h) => Queue.fromHandle(h));

// ---------------------------------------------------------------- JoinableQueue

export class JoinableQueue extends Queue {
  static override readonly handleKind: string = "JoinableQueue";

  static override fromHandle(handle: Handle): JoinableQueue {
    const queue = Object.create(JoinableQueue.prototype) as JoinableQueue;
    queue._openRing(Kind.JoinableQueue, handle, "JoinableQueue");
    return queue;
  }

  /** Marks one item from get() as processed. ValueError if called more times than items were put. */
  taskDone(): void {
    if (this._ex.q_task_done(this._live()) !== 1) {
      throw new ValueError("JoinableQueue.taskDone: called more times than there were items put on the queue");
    }
  }

  /** Blocks until every item put has been marked done with taskDone(); false on timeout. */
  join(timeout?: number): boolean {
    const q = this._live();
    const ms = checkTimeout(timeout, "JoinableQueue.join");
    if (ms !== 0 && this._ex.q_unfinished(q) !== 0) this._assertMayBlock("join()", "await queue.joinAsync()");
    return this._ex.q_join(q, ms) === 1;
  }

  async joinAsync(timeout?: number): Promise<boolean> {
    const q = this._live();
    const ms = checkTimeout(timeout, "JoinableQueue.joinAsync");
    const deadline = ms < 0 ? FOREVER : now() + ms;
    while (true) {
      const unfinished = this._ex.q_unfinished(q);
      if (unfinished === 0) return true;
      const left = remaining(deadline, now());
      if (left === 0) return false;
      await waitAsync(this._rt.int32(), (q + 36) >> 2, unfinished, left);
    }
  }
}
registerKind("JoinableQueue", (h) => JoinableQueue.fromHandle(h));

// ---------------------------------------------------------------- SimpleQueue

export class SimpleQueue extends Ring {
  static override readonly handleKind: string = "SimpleQueue";

  /** Python's SimpleQueue(): unbounded; `capacity` sets the ring's bytes (default 256 KiB). */
  constructor(options: { capacity?: number } = {}) {
    super();
    this._createRing(Kind.SimpleQueue, capacityFrom(options.capacity, new.target.name), 0, 0);
  }

  static fromHandle(handle: Handle): SimpleQueue {
    const queue = Object.create(SimpleQueue.prototype) as SimpleQueue;
    queue._openRing(Kind.SimpleQueue, handle, "SimpleQueue");
    return queue;
  }

  put(item: unknown): void {
    const bytes = this._encode(item);
    if (!this._putBytes(bytes, mayBlock() ? FOREVER : 0)) {
      throw new BlockingNotAllowedError(`${this.constructor.name}.put: the ring is full and this thread may not block; use await putAsync(item)`);
    }
  }

  async putAsync(item: unknown): Promise<void> {
    await this._putBytesAsync(this._encode(item).slice(), FOREVER);
  }

  /** Blocks until an item arrives. `timeout` (ms) is an extension: EmptyError when it passes. */
  get(timeout?: number): any {
    const ms = checkTimeout(timeout, `${this.constructor.name}.get`);
    const bytes = ms !== 0 && !mayBlock() ? this._getNowOrRefuse("get()", "await queue.getAsync()") : this._getBytes(ms);
    if (bytes === null || bytes === END_OF_FILE) throw emptyError(this.constructor.name, ms);
    return this._decode(bytes);
  }

  async getAsync(timeout?: number): Promise<any> {
    const ms = checkTimeout(timeout, `${this.constructor.name}.getAsync`);
    const bytes = await this._getBytesAsync(ms);
    if (bytes === null || bytes === END_OF_FILE) throw emptyError(this.constructor.name, ms);
    return this._decode(bytes);
  }

  empty(): boolean {
    return this._ex.q_count(this._live()) === 0;
  }
}
registerKind("SimpleQueue", (h) => SimpleQueue.fromHandle(h));
