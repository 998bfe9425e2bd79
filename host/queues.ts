// Queue, SimpleQueue, JoinableQueue (Python's multiprocessing.queues) over the message ring
// in assembly/ring.ts. put() encodes the value (host/codec.ts) in this thread and copies it
// into the ring through a per-thread scratch block; get() copies it out and decodes it.
// There is no feeder thread: when put() returns, the item is in shared memory.
//
// Forkless objects inside an item travel with references of their own, held by a transit
// block (assembly/refs.ts) that the item's first record names: the ring owns them while the
// item waits, the reader takes them over with the item, and a queue freed with items still
// in it lets go of theirs.
import { Kind, SharedObject, TransitBuilder, adoptFrom, adoptHandle, outOfMemory, registerKind, type Handle } from "./handles";
import { Encoder, decode, type SharedRefs } from "./codec";
import { BlockingNotAllowedError, EmptyError, FullError, ValueError } from "./errors";
import { checkAcquireOptions, checkCount, checkTimeout, FOREVER, remaining, type AcquireOptions } from "./options";
import { mayBlock, now, waitAsync } from "./platform";
import type { Runtime } from "./runtime";
import { abi } from "./abi";

const { FIRST, LAST, MORE, R_TIMEOUT, R_ABANDONED, R_EOF, R_BUSY, R_WOULD_BLOCK, R_INVALID, R_NO_MEMORY } = abi;
/** How often an asynchronous reader re-checks that a writer mid-message is still alive. */
const LIVENESS_MS = abi.LIVENESS_CHECK_MS;

const SCRATCH_BYTES = 64 * 1024;
const DEFAULT_CAPACITY = 256 * 1024;
const MAX_CAPACITY = 256 * 1024 * 1024;

/** Returned by the byte layer when the ring is at end-of-file (pipes only). */
export const END_OF_FILE = Symbol("forkless.eof");

const encoder = new Encoder();

interface Scratch {
  rt: Runtime;
  /** The thread it belongs to: a reused worker's next process gets its own (the last one's went with it). */
  id: number;
  p: number;
  view: Uint8Array;
}
let scratch: Scratch | undefined;

/** This thread's staging block in shared memory, where Wasm copies chunks in and out. */
function scratchFor(rt: Runtime): Scratch {
  if (scratch?.rt !== rt || scratch.id !== rt.id) {
    // Held in this thread's reference table: it is freed when the process ends, however it ends.
    const p = rt.exports.block_alloc(SCRATCH_BYTES, Kind.Scratch, rt.id);
    if (p === 0) throw outOfMemory(rt, "forkless (this thread's queue buffer)");
    scratch = { rt, id: rt.id, p, view: new Uint8Array(rt.memory.buffer, p, SCRATCH_BYTES) };
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

/** A ring's byte capacity from the caller's option: validated, rounded up to a power of two. */
export function capacityFrom(bytes: unknown, where: string): number {
  if (bytes === undefined) return DEFAULT_CAPACITY;
  const min = abi.RING_MIN_CAPACITY;
  if (typeof bytes !== "number" || !Number.isInteger(bytes) || bytes < min || bytes > MAX_CAPACITY) {
    throw new RangeError(`${where}: capacity must be an integer number of bytes from ${min} to ${MAX_CAPACITY}; got ${String(bytes)}`);
  }
  return 2 ** Math.ceil(Math.log2(bytes));
}

/** A message received: its bytes, and the transit block of its forkless objects (0: none). */
interface Received {
  bytes: Uint8Array;
  transit: number;
  index: number;
}

/** A message whose first chunks arrived before a timed get ran out of time: it goes on at the next get. */
interface Partial {
  parts: Uint8Array[];
  transit: number;
  index: number;
}

/** A ring block and the byte-level put/get every queue and pipe uses. */
export abstract class Ring extends SharedObject {
  declare protected _chunk: number;
  declare private _partial: Partial | undefined;

  protected _createRing(kind: Kind, capacity: number, maxsize: number, flags: number): void {
    this._allocate(kind, abi.RING_HEADER + capacity);
    if (this._ex.ring_init(this._p, capacity, maxsize, flags) !== 0) {
      this.close();
      throw new RangeError(`${this.constructor.name}: invalid ring capacity ${capacity}`);
    }
    this._chunk = Math.min(this._ex.ring_chunk_max(this._p), SCRATCH_BYTES);
  }

  protected _openRing(kind: Kind, handle: Handle, name: string): void {
    this._open(kind, handle, name);
    this._chunk = Math.min(this._ex.ring_chunk_max(this._p), SCRATCH_BYTES);
  }

  /** Encodes a value; its forkless objects are collected in `transit` (references not taken yet). */
  protected _encode(value: unknown, transit: TransitBuilder): Uint8Array {
    const refs: SharedRefs = { retain: (object) => transit.retain(object), revive: adoptHandle };
    return encoder.encode(value, refs);
  }

  /** Decodes a received message, taking over the references its transit block carries. */
  protected _decode(message: Received): unknown {
    const refs: SharedRefs = { retain: () => { throw new TypeError("forkless: decoding cannot retain"); }, revive: adoptHandle };
    if (message.transit === 0) return decode(message.bytes, refs);
    return adoptFrom(this._rt, message.transit, message.index, () => decode(message.bytes, refs));
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

  /** Takes the references of the objects a message carries: the transit block, or none. */
  protected _commitTransit(transit: TransitBuilder): { t: number; index: number } | undefined {
    return transit.empty ? undefined : transit.commit(this._rt);
  }

  /** A put that did not happen lets go of the references it took. */
  private _dropTransit(sent: { t: number; index: number } | undefined): void {
    if (sent) this._ex.block_release(sent.t, this._ex.block_generation(sent.t), this._id, sent.index);
  }

  /**
   * Blocking put of one message; false if it did not fit within timeoutMs. A message of
   * several chunks that runs out of time midway is cut off: readers drop the part written.
   * With timeoutMs 0 a message goes in whole or not at all. On false, or a throw, the
   * message's references are let go.
   */
  protected _putBytes(bytes: Uint8Array, timeoutMs: number, transit: TransitBuilder): boolean {
    const q = this._live();
    const ex = this._ex;
    const id = this._id;
    const s = scratchFor(this._rt);
    const sent = this._commitTransit(transit);
    let done = false;
    try {
      const n = bytes.length;
      if (n <= this._chunk) {
        s.view.set(bytes);
        const result = ex.q_put(q, id, s.p, n, timeoutMs, sent?.t ?? 0, sent?.index ?? 0);
        if (result === R_INVALID) throw new ValueError(`${this.constructor.name}.put: the message could not be written (invalid record)`);
        done = result === 1;
        return done;
      }
      const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
      if (ex.q_put_begin(q, id, timeoutMs) !== 1) return false;
      try {
        if (timeoutMs === 0 && ex.q_capacity(q) - ex.q_used(q) < this._footprint(n)) return false;
        for (let at = 0; at < n; ) {
          const len = Math.min(this._chunk, n - at);
          s.view.set(bytes.subarray(at, at + len));
          const flags = (at === 0 ? FIRST : 0) | (at + len === n ? LAST : 0);
          const left = timeoutMs < 0 ? FOREVER : timeoutMs === 0 ? 0 : remaining(deadline, now());
          const t = at === 0 ? sent?.t ?? 0 : 0;
          if (ex.q_put_chunk(q, s.p, len, flags, left, t, id, sent?.index ?? 0) !== 1) return false;
          if (at === 0) done = true; // the ring owns the transit now (a cut-off message is dropped by its reader)
          at += len;
        }
        return true;
      } finally {
        ex.q_put_end(q);
      }
    } finally {
      if (!done) this._dropTransit(sent);
    }
  }

  protected _getNowOrRefuse(what: string, alternative: string): Received | null | typeof END_OF_FILE {
    const message = this._getBytes(0);
    if (message === null) this._assertMayBlock(what, alternative);
    return message;
  }

  protected async _putBytesAsync(bytes: Uint8Array, timeoutMs: number, transit: TransitBuilder): Promise<boolean> {
    const q = this._live();
    const ex = this._ex;
    const n = bytes.length;
    const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
    const wake = () => void Atomics.notify(this._rt.int32(), (q + abi.RING_HEAD_OFFSET) >> 2);
    this._pin(wake);
    let sent: { t: number; index: number } | undefined;
    let done = false;
    try {
      sent = this._commitTransit(transit);
      // Take the put lock (and room under maxsize) without blocking the thread.
      while (true) {
        this._stillOpen();
        const begun = ex.q_put_begin(q, this._id, 0);
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
            this._stillOpen();
            const s = scratchFor(this._rt);
            s.view.set(bytes.subarray(at, at + len));
            const t = at === 0 ? sent?.t ?? 0 : 0;
            if (ex.q_put_chunk(q, s.p, len, flags, 0, t, this._id, sent?.index ?? 0) === 1) break;
            // Out of time midway: the message is cut off and readers drop the part written.
            const left = remaining(deadline, now());
            if (left === 0) return false;
            await this._waitForRoom(q, left);
          }
          if (at === 0) done = true;
          at += len;
          if (n === 0) break;
        }
        return true;
      } finally {
        ex.q_put_end(q);
      }
    } finally {
      if (!done) this._dropTransit(sent);
      this._unpin(wake);
    }
  }

  private async _waitForRoom(q: number, left: number): Promise<void> {
    const ex = this._ex;
    const head = ex.q_head(q);
    ex.q_put_waiters_add(q, 1);
    try {
      await waitAsync(this._rt.int32(), (q + abi.RING_HEAD_OFFSET) >> 2, head, Math.min(left, LIVENESS_MS));
    } finally {
      ex.q_put_waiters_add(q, -1);
    }
  }

  /** The first chunk's transit (consumed with it): this thread's table holds it now. */
  private _takenTransit(): { transit: number; index: number } {
    const transit = this._ex.thread_last_block(this._id);
    return { transit, index: transit === 0 ? 0 : this._ex.thread_last_index(this._id) };
  }

  private _drop(transit: number, index: number): void {
    if (transit !== 0) this._ex.block_release(transit, this._ex.block_generation(transit), this._id, index);
  }

  /**
   * Blocking get of one message: its bytes (valid until the next get in this thread) and
   * transit, null on timeout, or END_OF_FILE. A message whose rest has not arrived when the
   * time is up stays half-read here, holding the get lock, and goes on at the next get.
   */
  protected _getBytes(timeoutMs: number): Received | null | typeof END_OF_FILE {
    const q = this._live();
    const ex = this._ex;
    const id = this._id;
    const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
    let left = timeoutMs;
    while (true) {
      const s = scratchFor(this._rt);
      let partial = this._resumePartial();
      if (!partial) {
        const first = ex.q_get(q, id, s.p, left);
        if (first === R_TIMEOUT || first === R_BUSY) return null;
        if (first === R_EOF) return END_OF_FILE;
        if (first === R_NO_MEMORY) throw outOfMemory(this._rt, `${this.constructor.name}.get`);
        const { transit, index } = this._takenTransit();
        if ((first & MORE) === 0) return { bytes: toInbox(s.view, first), transit, index };
        partial = { parts: [s.view.slice(0, first & ~MORE)], transit, index };
      }
      let abandoned = false;
      let complete = false;
      try {
        while (true) {
          const wait = deadline < 0 ? FOREVER : remaining(deadline, now());
          const next = ex.q_get_next(q, id, s.p, wait);
          if (next === R_TIMEOUT) break;
          if (next === R_ABANDONED) {
            abandoned = true;
            break;
          }
          partial.parts.push(s.view.slice(0, next & ~MORE));
          if ((next & MORE) === 0) {
            complete = true;
            break;
          }
        }
      } finally {
        if (complete || abandoned) ex.q_get_end(q);
        else this._partial = partial; // out of time: keep it (and the get lock) for the next get
      }
      if (complete) return { bytes: concat(partial.parts), transit: partial.transit, index: partial.index };
      if (!abandoned) return null;
      // Its writer died mid-message: that message never existed. Try for the next one.
      this._drop(partial.transit, partial.index);
      left = deadline < 0 ? FOREVER : remaining(deadline, now());
    }
  }

  /** The half-read message of an earlier timed get, if this thread still holds its get lock. */
  private _resumePartial(): Partial | undefined {
    const partial = this._partial;
    if (!partial) return undefined;
    this._partial = undefined;
    if (this._ex.q_reading(this._p, this._id) === 1) return partial;
    this._drop(partial.transit, partial.index);
    return undefined;
  }

  protected async _getBytesAsync(timeoutMs: number): Promise<Received | null | typeof END_OF_FILE> {
    const q = this._live();
    const ex = this._ex;
    const id = this._id;
    const deadline = timeoutMs < 0 ? FOREVER : now() + timeoutMs;
    const wake = () => void Atomics.notify(this._rt.int32(), (q + abi.RING_TAIL_OFFSET) >> 2);
    this._pin(wake);
    try {
      while (true) {
        this._stillOpen();
        let partial = this._resumePartial();
        if (!partial) {
          const s = scratchFor(this._rt);
          const first = ex.q_get(q, id, s.p, 0);
          if (first === R_EOF) return END_OF_FILE;
          if (first === R_NO_MEMORY) throw outOfMemory(this._rt, `${this.constructor.name}.getAsync`);
          if (first === R_TIMEOUT || first === R_BUSY) {
            const left = remaining(deadline, now());
            if (left === 0) return null;
            if (first === R_BUSY) {
              const lockAt = q + abi.RING_GET_LOCK_OFFSET;
              const word = ex.lock_park_word(lockAt);
              if (word !== 0) await waitAsync(this._rt.int32(), lockAt >> 2, word, Math.min(left, LIVENESS_MS));
            } else {
              await this._waitForData(q, left);
            }
            continue;
          }
          const { transit, index } = this._takenTransit();
          // awaited: others may reuse the inbox meanwhile, so the bytes are copied
          if ((first & MORE) === 0) return { bytes: s.view.slice(0, first), transit, index };
          partial = { parts: [s.view.slice(0, first & ~MORE)], transit, index };
        }
        let abandoned = false;
        let complete = false;
        try {
          while (true) {
            const next = ex.q_get_next_try(q, id, scratchFor(this._rt).p);
            if (next === R_WOULD_BLOCK) {
              const left = remaining(deadline, now());
              if (left === 0 || this.closed) break;
              await this._waitForData(q, Math.min(left, LIVENESS_MS));
              continue;
            }
            if (next === R_ABANDONED) {
              abandoned = true;
              break;
            }
            partial.parts.push(scratchFor(this._rt).view.slice(0, next & ~MORE));
            if ((next & MORE) === 0) {
              complete = true;
              break;
            }
          }
        } finally {
          if (complete || abandoned || this.closed) ex.q_get_end(q);
          else this._partial = partial;
        }
        if (complete) return { bytes: concat(partial.parts), transit: partial.transit, index: partial.index };
        this._stillOpen();
        if (!abandoned) return null;
        this._drop(partial.transit, partial.index);
      }
    } finally {
      this._unpin(wake);
    }
  }

  protected async _waitForData(q: number, left: number): Promise<void> {
    const ex = this._ex;
    const tail = ex.q_tail(q);
    ex.q_get_waiters_add(q, 1);
    try {
      // The tail word also carries CLOSED, so a close after this check still wakes us.
      if ((tail & ~7) === ex.q_head(q) && ex.q_eof(q) === 0) {
        await waitAsync(this._rt.int32(), (q + abi.RING_TAIL_OFFSET) >> 2, tail, Math.min(left, LIVENESS_MS));
      }
    } finally {
      ex.q_get_waiters_add(q, -1);
    }
  }

  override close(): void {
    const partial = this._partial;
    if (partial && !this.closed) {
      this._partial = undefined;
      this._ex.q_get_end(this._p);
      this._drop(partial.transit, partial.index);
    }
    super.close();
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
    if (opts.maxsize !== undefined && (typeof opts.maxsize !== "number" || Number.isNaN(opts.maxsize))) {
      throw new TypeError(`${new.target.name}: maxsize must be a number (0 or less = unbounded)`);
    }
    const maxsize = opts.maxsize === undefined || opts.maxsize <= 0 ? 0 : checkCount(opts.maxsize, new.target.name, "maxsize", 0);
    const kind = new.target === JoinableQueue || JoinableQueue.prototype.isPrototypeOf(new.target.prototype) ? Kind.JoinableQueue : Kind.Queue;
    this._createRing(kind, capacityFrom(opts.capacity, new.target.name), maxsize, kind === Kind.JoinableQueue ? abi.RING_JOINABLE : 0);
  }

  static fromHandle(handle: Handle): Queue {
    const queue = Object.create(Queue.prototype) as Queue;
    queue._openRing(Kind.Queue, handle, "Queue");
    return queue;
  }

  /** Python's put(obj, block=True, timeout=None); throws FullError when there is no room in time. */
  put(item: unknown, options?: AcquireOptions): void {
    const timeout = checkAcquireOptions(options, `${this.constructor.name}.put`);
    this._live();
    const transit = new TransitBuilder();
    const bytes = this._encode(item, transit);
    if (timeout !== 0 && !mayBlock()) {
      // A thread that may not block can still put when there is room right now.
      if (this._putBytes(bytes, 0, transit)) return;
      this._assertMayBlock("put()", "await queue.putAsync(item)");
    }
    if (!this._putBytes(bytes, timeout, transit)) throw fullError(this.constructor.name, timeout);
  }

  putNowait(item: unknown): void {
    this.put(item, { block: false });
  }

  async putAsync(item: unknown, options?: { timeout?: number }): Promise<void> {
    const timeout = checkTimeout(options?.timeout, `${this.constructor.name}.putAsync`);
    this._live();
    const transit = new TransitBuilder();
    const bytes = this._encode(item, transit).slice();
    if (!(await this._putBytesAsync(bytes, timeout, transit))) throw fullError(this.constructor.name, timeout);
  }

  /** Python's get(block=True, timeout=None); throws EmptyError when nothing arrives in time. */
  get(options?: AcquireOptions): any {
    const timeout = checkAcquireOptions(options, `${this.constructor.name}.get`);
    const message = timeout !== 0 && !mayBlock() ? this._getNowOrRefuse("get()", "await queue.getAsync()") : this._getBytes(timeout);
    if (message === null || message === END_OF_FILE) throw emptyError(this.constructor.name, timeout);
    return this._decode(message);
  }

  getNowait(): any {
    return this.get({ block: false });
  }

  async getAsync(options?: { timeout?: number }): Promise<any> {
    const timeout = checkTimeout(options?.timeout, `${this.constructor.name}.getAsync`);
    const message = await this._getBytesAsync(timeout);
    if (message === null || message === END_OF_FILE) throw emptyError(this.constructor.name, timeout);
    return this._decode(message);
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

  override toString(): string {
    if (this.closed) return `<${this.constructor.name}(closed)>`;
    const maxsize = this._ex.q_maxsize(this._p);
    return `<${this.constructor.name}(qsize=${this._ex.q_count(this._p)}${maxsize > 0 ? `, maxsize=${maxsize}` : ""})>`;
  }
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
    return this._ex.q_join(q, this._id, ms) === 1;
  }

  async joinAsync(timeout?: number): Promise<boolean> {
    const q = this._live();
    const ms = checkTimeout(timeout, "JoinableQueue.joinAsync");
    const deadline = ms < 0 ? FOREVER : now() + ms;
    const index = (q + abi.RING_UNFINISHED_OFFSET) >> 2;
    const wake = () => void Atomics.notify(this._rt.int32(), index);
    this._pin(wake);
    try {
      while (true) {
        this._stillOpen();
        const unfinished = this._ex.q_unfinished(q);
        if (unfinished === 0) return true;
        const left = remaining(deadline, now());
        if (left === 0) return false;
        await waitAsync(this._rt.int32(), index, unfinished, Math.min(left, LIVENESS_MS));
      }
    } finally {
      this._unpin(wake);
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
    if (typeof options !== "object" || options === null) throw new TypeError(`${new.target.name}: expected { capacity }`);
    this._createRing(Kind.SimpleQueue, capacityFrom(options.capacity, new.target.name), 0, 0);
  }

  static fromHandle(handle: Handle): SimpleQueue {
    const queue = Object.create(SimpleQueue.prototype) as SimpleQueue;
    queue._openRing(Kind.SimpleQueue, handle, "SimpleQueue");
    return queue;
  }

  put(item: unknown): void {
    this._live();
    const transit = new TransitBuilder();
    const bytes = this._encode(item, transit);
    if (!this._putBytes(bytes, mayBlock() ? FOREVER : 0, transit)) {
      throw new BlockingNotAllowedError(`${this.constructor.name}.put: the ring is full and this thread may not block; use await putAsync(item)`);
    }
  }

  async putAsync(item: unknown): Promise<void> {
    this._live();
    const transit = new TransitBuilder();
    await this._putBytesAsync(this._encode(item, transit).slice(), FOREVER, transit);
  }

  /** Blocks until an item arrives. `timeout` (ms) is an extension: EmptyError when it passes. */
  get(timeout?: number): any {
    const ms = checkTimeout(timeout, `${this.constructor.name}.get`);
    const message = ms !== 0 && !mayBlock() ? this._getNowOrRefuse("get()", "await queue.getAsync()") : this._getBytes(ms);
    if (message === null || message === END_OF_FILE) throw emptyError(this.constructor.name, ms);
    return this._decode(message);
  }

  async getAsync(timeout?: number): Promise<any> {
    const ms = checkTimeout(timeout, `${this.constructor.name}.getAsync`);
    const message = await this._getBytesAsync(ms);
    if (message === null || message === END_OF_FILE) throw emptyError(this.constructor.name, ms);
    return this._decode(message);
  }

  empty(): boolean {
    return this._ex.q_count(this._live()) === 0;
  }

  override toString(): string {
    return this.closed ? `<${this.constructor.name}(closed)>` : `<${this.constructor.name}(qsize=${this._ex.q_count(this._p)})>`;
  }
}
registerKind("SimpleQueue", (h) => SimpleQueue.fromHandle(h));

export type { Received };
