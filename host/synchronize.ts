// Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier (Python's
// multiprocessing.synchronize). Each is a block of shared memory driven by the Wasm
// module; blocking calls run in Wasm, *Async calls wait with Atomics.waitAsync and
// never block their thread.
import { Kind, SharedObject, outOfMemory, registerKind, type Handle } from "./handles";
import {
  BlockingNotAllowedError,
  BrokenBarrierError,
  NotOwnerError,
  OwnerDiedError,
  ValueError,
} from "./errors";
import { abi } from "./abi";
import { FOREVER, checkAcquireOptions, checkCount, checkTimeout, remaining, type AcquireOptions } from "./options";
import { mayBlock, now, waitAsync } from "./platform";

const { ACQUIRED, E_OWNER_DIED } = abi;
/** Asynchronous waits wake at least this often to re-check what no notify announces (a holder gone, a close). */
const LIVENESS_MS = abi.LIVENESS_CHECK_MS;

/** A close() of the object ends a pending asynchronous wait on word `index` at once. */
function waker(int32: Int32Array, index: number): () => void {
  return () => void Atomics.notify(int32, index);
}


function assertMayBlock(where: string, alternative: string): void {
  if (!mayBlock()) {
    throw new BlockingNotAllowedError(
      `${where} would block this thread, which may not block (a browser's main thread); use ${alternative} instead, ` +
        "or pass { timeout: 0 } / { block: false } to try without waiting",
    );
  }
}

function ownerDied(kind: string): OwnerDiedError {
  return new OwnerDiedError(
    `${kind}.acquire: the process that held this lock ended without releasing it; the lock is free again, ` +
      "but the data it protected may be half-updated: check it, then acquire again",
  );
}

function deadlineOf(timeoutMs: number): number {
  return timeoutMs < 0 ? FOREVER : now() + timeoutMs;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === "object" && value !== null && typeof (value as any).then === "function";
}

/** What `using` gets from hold(): releases on dispose. */
export interface Held {
  [Symbol.dispose](): void;
  release(): void;
}

/** Shared by everything with acquire/release: guards and withLock helpers. */
export abstract class Acquirable extends SharedObject {
  abstract acquire(options?: AcquireOptions): boolean;
  abstract acquireAsync(options?: { timeout?: number }): Promise<boolean>;
  abstract release(): void;

  /** Acquires (blocking) and returns a guard for `using`: `using _ = lock.hold();`. */
  hold(options?: AcquireOptions): Held {
    if (!this.acquire(options)) throw new ValueError(`${this.constructor.name}.hold: not acquired within the timeout`);
    return this._guard();
  }

  /** Acquires without blocking the thread: `using _ = await lock.holdAsync();`. */
  async holdAsync(options?: { timeout?: number }): Promise<Held> {
    if (!(await this.acquireAsync(options))) {
      throw new ValueError(`${this.constructor.name}.holdAsync: not acquired within the timeout`);
    }
    return this._guard();
  }

  private _guard(): Held {
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.release();
    };
    return { release, [Symbol.dispose]: release };
  }

  /** Runs fn holding the lock (Python's `with lock:`); an async fn keeps it until its promise settles. */
  withLock<T>(fn: () => T): T {
    this.acquire();
    let settlesLater = false;
    try {
      const result = fn();
      if (isThenable(result)) {
        settlesLater = true;
        return Promise.resolve(result).finally(() => this.release()) as T;
      }
      return result;
    } finally {
      if (!settlesLater) this.release();
    }
  }

  /** withLock for threads that may not block. */
  async withLockAsync<T>(fn: () => T | Promise<T>): Promise<T> {
    await this.acquireAsync();
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

// ---------------------------------------------------------------- Lock

export class Lock extends Acquirable {
  static override readonly handleKind: string = "Lock";

  constructor() {
    super();
    this._allocate(Kind.Lock, 16);
  }

  static fromHandle(handle: Handle): Lock {
    const lock = Object.create(Lock.prototype) as Lock;
    lock._open(Kind.Lock, handle, "Lock");
    return lock;
  }

  /** Python's acquire(block=True, timeout=None): true once held, false on timeout. */
  acquire(options?: AcquireOptions): boolean {
    const p = this._p;
    if (options === undefined && p !== 0 && this._ex.lock_try(p, this._id) === 1) return true;
    return this._acquireSlow(options);
  }

  private _acquireSlow(options: AcquireOptions | undefined): boolean {
    const p = this._live();
    const timeout = checkAcquireOptions(options, `${this.constructor.name}.acquire`);
    if (timeout !== 0) {
      if (this._ex.lock_try(p, this._id) === 1) return true;
      assertMayBlock(`${this.constructor.name}.acquire()`, "await lock.acquireAsync()");
    }
    const result = this._ex.lock_acquire_noted(p, this._id, timeout, abi.KIND_LOCK);
    if (result === E_OWNER_DIED) throw ownerDied(this.constructor.name);
    return result === ACQUIRED;
  }

  async acquireAsync(options?: { timeout?: number }): Promise<boolean> {
    const p = this._live();
    const timeout = checkTimeout(options?.timeout, `${this.constructor.name}.acquireAsync`);
    if (this._ex.lock_try(p, this._id) === ACQUIRED) return true;
    return acquireContended(this, this._ex.lock_try_contended, timeout, this.constructor.name);
  }

  release(): void {
    const p = this._p;
    if (p !== 0 && this._ex.lock_release(p) === 1) return;
    this._live();
    throw new ValueError(`${this.constructor.name}.release: the lock is not held; release only after a successful acquire()`);
  }

  /** True while some thread holds the lock. */
  locked(): boolean {
    return this._ex.lock_locked(this._live()) === 1;
  }

  override toString(): string {
    return this.closed ? "<Lock(closed)>" : `<Lock(owner=${this.locked() ? this._ex.lock_owner(this._p) : "None"})>`;
  }
}
registerKind("Lock", (h) => Lock.fromHandle(h));

/**
 * The asynchronous acquire of Lock and RLock once the first try failed: park on the lock
 * word, never longer than LIVENESS_MS (a holder that is gone announces nothing), and give
 * up at the deadline or when the object is closed meanwhile.
 */
async function acquireContended(
  lock: Lock | RLock,
  tryContended: (p: number, id: number) => number,
  timeout: number,
  kind: string,
): Promise<boolean> {
  const self = lock as any;
  const ex = self._ex;
  const p = self._p;
  const deadline = deadlineOf(timeout);
  const wake = waker(self._rt.int32(), p >> 2);
  self._pin(wake);
  try {
    while (true) {
      const word = ex.lock_park_word(p);
      if (word !== 0) {
        const left = remaining(deadline, now());
        if (left === 0) return false;
        await waitAsync(self._rt.int32(), p >> 2, word, Math.min(left, LIVENESS_MS));
        self._stillOpen();
      }
      const result = tryContended(p, self._id);
      if (result === ACQUIRED) return true;
      if (result === E_OWNER_DIED) throw ownerDied(kind);
      if (remaining(deadline, now()) === 0) return false;
    }
  } finally {
    self._unpin(wake);
  }
}

// ---------------------------------------------------------------- RLock

export class RLock extends Acquirable {
  static override readonly handleKind: string = "RLock";

  constructor() {
    super();
    this._allocate(Kind.RLock, 16);
  }

  static fromHandle(handle: Handle): RLock {
    const lock = Object.create(RLock.prototype) as RLock;
    lock._open(Kind.RLock, handle, "RLock");
    return lock;
  }

  acquire(options?: AcquireOptions): boolean {
    const p = this._p;
    if (options === undefined && p !== 0 && this._tryOnce(p)) return true;
    const live = this._live();
    const timeout = checkAcquireOptions(options, "RLock.acquire");
    if (timeout !== 0) {
      if (this._tryOnce(live)) return true;
      assertMayBlock("RLock.acquire()", "await rlock.acquireAsync()");
    }
    const result = this._ex.rlock_acquire(live, this._id, timeout);
    if (result === E_OWNER_DIED) throw ownerDied("RLock");
    return result === 1;
  }

  async acquireAsync(options?: { timeout?: number }): Promise<boolean> {
    const p = this._live();
    const timeout = checkTimeout(options?.timeout, "RLock.acquireAsync");
    if (this._tryOnce(p)) return true;
    return acquireContended(this, this._ex.rlock_try_contended, timeout, "RLock");
  }

  /** Re-enters or takes a free lock without waiting; reports a dead owner. */
  private _tryOnce(p: number): boolean {
    const result = this._ex.rlock_try(p, this._id);
    if (result === E_OWNER_DIED) throw ownerDied("RLock");
    return result === 1;
  }

  /** Only the owner may release; each acquire needs one release. */
  release(): void {
    const result = this._ex.rlock_release(this._live(), this._id);
    if (result === ACQUIRED) return;
    if (result === abi.E_NOT_LOCKED) throw new ValueError("RLock.release: the lock is not held; release only after a successful acquire()");
    throw new NotOwnerError("RLock.release: this thread does not own the lock; only the thread that acquired an RLock may release it");
  }

  /** Recursion depth held by the owner (0 when free). */
  get depth(): number {
    return this._ex.rlock_depth(this._live());
  }

  /** True when this thread holds the lock. */
  isMine(): boolean {
    return this._ex.lock_owner(this._live()) === this._id;
  }

  /** True while some thread holds the lock (CPython's RLock.locked(), 3.14). */
  locked(): boolean {
    return this._ex.lock_locked(this._live()) === 1;
  }

  override toString(): string {
    if (this.closed) return "<RLock(closed)>";
    const owner = this._ex.lock_owner(this._p);
    return `<RLock(${owner === 0 ? "None" : owner}, ${this._ex.rlock_depth(this._p)})>`;
  }
}
registerKind("RLock", (h) => RLock.fromHandle(h));

// ---------------------------------------------------------------- Semaphore

export class Semaphore extends Acquirable {
  static override readonly handleKind: string = "Semaphore";

  constructor(value: number = 1) {
    super();
    const initial = checkCount(value, `${new.target.name}`, "the initial value", 0);
    const bounded = new.target === BoundedSemaphore || BoundedSemaphore.prototype.isPrototypeOf(new.target.prototype);
    this._allocate(bounded ? Kind.BoundedSemaphore : Kind.Semaphore, 16);
    this._ex.sem_init(this._p, initial, bounded ? initial : -1);
  }

  static fromHandle(handle: Handle): Semaphore {
    const sem = Object.create(Semaphore.prototype) as Semaphore;
    sem._open(Kind.Semaphore, handle, "Semaphore");
    return sem;
  }

  acquire(options?: AcquireOptions): boolean {
    const p = this._p;
    if (options === undefined && p !== 0 && this._ex.sem_try(p) === 1) return true;
    const live = this._live();
    const timeout = checkAcquireOptions(options, `${this.constructor.name}.acquire`);
    if (timeout !== 0) {
      if (this._ex.sem_try(live) === 1) return true;
      assertMayBlock(`${this.constructor.name}.acquire()`, "await semaphore.acquireAsync()");
    }
    return this._ex.sem_acquire(live, timeout, this._id) === 1;
  }

  async acquireAsync(options?: { timeout?: number }): Promise<boolean> {
    const p = this._live();
    const timeout = checkTimeout(options?.timeout, `${this.constructor.name}.acquireAsync`);
    const ex = this._ex;
    if (ex.sem_try(p) === 1) return true;
    const deadline = deadlineOf(timeout);
    const wake = waker(this._rt.int32(), p >> 2);
    this._pin(wake);
    try {
      while (true) {
        const left = remaining(deadline, now());
        if (left === 0) return false;
        ex.sem_park(p);
        try {
          // Capped: a release's wake may go to a thread being terminated (see semSlow).
          await waitAsync(this._rt.int32(), p >> 2, 0, Math.min(left, LIVENESS_MS));
        } finally {
          ex.sem_unpark(p);
        }
        this._stillOpen();
        if (ex.sem_try(p) === 1) return true;
      }
    } finally {
      this._unpin(wake);
    }
  }

  /** Adds n (default 1), waking as many waiters. */
  release(n: number = 1): void {
    const p = this._live();
    if (n !== 1) checkCount(n, `${this.constructor.name}.release`, "n", 1);
    const result = this._ex.sem_release(p, n);
    if (result === 1) return;
    if (result === abi.E_SEM_OVERFLOW) {
      throw new ValueError(
        `${this.constructor.name}.release: the value would pass ${abi.SEM_VALUE_MAX} (now ${this._ex.sem_value(p)}, releasing ${n}); ` +
          "a semaphore counts up to that: release less",
      );
    }
    throw new ValueError(
      `${this.constructor.name}.release: released too many times; its value would exceed its initial value ` +
        `${this._ex.sem_max(p)}. Release only what you acquired, or use a plain Semaphore`,
    );
  }

  /** Python's get_value(). */
  getValue(): number {
    return this._ex.sem_value(this._live());
  }

  override toString(): string {
    if (this.closed) return `<${this.constructor.name}(closed)>`;
    const max = this._ex.sem_max(this._p);
    return `<${this.constructor.name}(value=${this._ex.sem_value(this._p)}${max >= 0 ? `, maxvalue=${max}` : ""})>`;
  }
}
registerKind("Semaphore", (h) => Semaphore.fromHandle(h));

export class BoundedSemaphore extends Semaphore {
  static override readonly handleKind: string = "BoundedSemaphore";

  static override fromHandle(handle: Handle): BoundedSemaphore {
    const sem = Object.create(BoundedSemaphore.prototype) as BoundedSemaphore;
    sem._open(Kind.BoundedSemaphore, handle, "BoundedSemaphore");
    return sem;
  }
}
registerKind("BoundedSemaphore", (h) => BoundedSemaphore.fromHandle(h));

// ---------------------------------------------------------------- Event

export class Event extends SharedObject {
  static override readonly handleKind: string = "Event";

  constructor() {
    super();
    this._allocate(Kind.Event, 16);
  }

  static fromHandle(handle: Handle): Event {
    const event = Object.create(Event.prototype) as Event;
    event._open(Kind.Event, handle, "Event");
    return event;
  }

  isSet(): boolean {
    return this._ex.event_is_set(this._live()) === 1;
  }

  set(): void {
    this._ex.event_set(this._live());
  }

  clear(): void {
    this._ex.event_clear(this._live());
  }

  /** True once the flag is set (or was set while waiting); false after timeout ms. */
  wait(timeout?: number): boolean {
    const p = this._live();
    const ms = checkTimeout(timeout, "Event.wait");
    if (this._ex.event_is_set(p) === 1) return true;
    if (ms !== 0) assertMayBlock("Event.wait()", "await event.waitAsync()");
    return this._ex.event_wait(p, ms, this._id) === 1;
  }

  async waitAsync(timeout?: number): Promise<boolean> {
    const p = this._live();
    const ms = checkTimeout(timeout, "Event.waitAsync");
    const ex = this._ex;
    const word = ex.event_word(p);
    if ((word & 1) === 1) return true;
    if (ms === 0) return false;
    const deadline = deadlineOf(ms);
    const wake = waker(this._rt.int32(), p >> 2);
    this._pin(wake);
    ex.event_park(p);
    try {
      while (true) {
        const left = remaining(deadline, now());
        if (left === 0) return false;
        await waitAsync(this._rt.int32(), p >> 2, word, Math.min(left, LIVENESS_MS));
        this._stillOpen();
        if (ex.event_fired_since(p, word) === 1) return true;
      }
    } finally {
      ex.event_unpark(p);
      this._unpin(wake);
    }
  }

  override toString(): string {
    return this.closed ? "<Event(closed)>" : `<Event(${this.isSet() ? "set" : "unset"})>`;
  }
}
registerKind("Event", (h) => Event.fromHandle(h));

// ---------------------------------------------------------------- Condition


export class Condition extends Acquirable {
  static override readonly handleKind: string = "Condition";
  declare private _lock: Lock | RLock;
  declare private _isRLock: number;
  declare private _ownsLock: boolean;

  /** Python's Condition(lock=None): the lock defaults to a new RLock. */
  constructor(lock?: Lock | RLock) {
    super();
    if (lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)) {
      throw new TypeError("Condition: lock must be a forkless Lock or RLock (or omitted for a new RLock)");
    }
    this._setLock(lock ?? new RLock(), lock === undefined);
    this._allocate(Kind.Condition, 16);
  }

  static fromHandle(handle: Handle): Condition {
    const cond = Object.create(Condition.prototype) as Condition;
    const lockHandle = handle?.lock as Handle;
    const lock = lockHandle?.$forkless === "Lock" ? Lock.fromHandle(lockHandle) : RLock.fromHandle(lockHandle);
    try {
      cond._open(Kind.Condition, handle, "Condition");
    } catch (error) {
      lock.close();
      throw error;
    }
    cond._setLock(lock, true);
    return cond;
  }

  private _setLock(lock: Lock | RLock, owns: boolean): void {
    if (owns) lock._ownedBy();
    this._lock = lock;
    this._isRLock = lock instanceof RLock ? 1 : 0;
    this._ownsLock = owns;
  }

  protected override _handleExtras(): Record<string, unknown> {
    return { lock: this._lock.toHandle() };
  }

  override close(): void {
    if (this.closed) return;
    super.close();
    if (this._ownsLock) this._lock.close();
  }

  override _transitBlocks(into: [number, number, number][]): void {
    super._transitBlocks(into);
    this._lock._transitBlocks(into); // the handle names the lock: it travels too
  }

  /** The underlying lock. */
  get lock(): Lock | RLock {
    return this._lock;
  }

  acquire(options?: AcquireOptions): boolean {
    this._live();
    return this._lock.acquire(options);
  }

  // async, so that a closed condition rejects like every other *Async method instead of throwing.
  async acquireAsync(options?: { timeout?: number }): Promise<boolean> {
    this._live();
    return this._lock.acquireAsync(options);
  }

  release(): void {
    this._live();
    this._lock.release();
  }

  private _lockAddress(where: string): number {
    const lockP = (this._lock as any)._live() as number;
    if (this._ex.cond_owns(lockP, this._id) !== 1) {
      throw new NotOwnerError(`Condition.${where}: this thread does not hold the condition's lock; acquire() it first`);
    }
    return lockP;
  }

  /** Releases the lock, sleeps until notified or timeout ms, re-acquires; false on timeout. */
  wait(timeout?: number): boolean {
    const c = this._live();
    const ms = checkTimeout(timeout, "Condition.wait");
    const lockP = this._lockAddress("wait");
    if (ms !== 0) assertMayBlock("Condition.wait()", "await condition.waitAsync()");
    const result = this._ex.cond_wait(c, lockP, this._isRLock, this._id, ms);
    if (result === abi.E_NOT_OWNER) throw new NotOwnerError("Condition.wait: this thread does not hold the condition's lock");
    return result === 1;
  }

  async waitAsync(timeout?: number): Promise<boolean> {
    const c = this._live();
    const ms = checkTimeout(timeout, "Condition.waitAsync");
    const lockP = this._lockAddress("waitAsync");
    const ex = this._ex;
    const deadline = deadlineOf(ms);
    // Registered in this thread's slot, so a waiter whose process dies is forgotten.
    const reg = ex.cond_enter_async(c, this._id);
    if (reg < 0) throw outOfMemory(this._rt, "Condition.waitAsync");
    const enterSeq = ex.cond_seq(c);
    let seq = enterSeq;
    const wake = waker(this._rt.int32(), c >> 2);
    this._pin(wake);
    // The lock's block too: close() of the condition closes its own lock, which must not be
    // freed (and reused) while this call may still re-acquire it or set its depth.
    const lock = this._lock as any;
    lock._pin();
    let left_ = false; // whether this waiter left the condition (cond_leave_async said so)
    try {
      while (true) {
        const depth = this._isRLock ? ex.rlock_release_all(lockP, this._id) : (ex.lock_release(lockP), 1);
        const left = remaining(deadline, now());
        let timedOut = left === 0;
        if (!timedOut && ex.cond_seq(c) === seq) {
          // Atomics.waitAsync's timer may fire up to ~1 ms before now() reaches the deadline:
          // judge the timeout by the clock, so it is never reported early.
          await waitAsync(this._rt.int32(), c >> 2, seq, left);
          timedOut = remaining(deadline, now()) === 0;
        }
        if (this.closed) {
          ex.cond_leave_async(c, 1, this._id, enterSeq, reg);
          left_ = true;
          this._stillOpen();
        }
        await this._reacquire();
        if (this._isRLock) ex.rlock_set_depth(lockP, depth);
        const result = ex.cond_leave_async(c, timedOut ? 1 : 0, this._id, enterSeq, reg);
        if (result !== abi.RETRY) {
          left_ = true;
          return result === 1;
        }
        seq = ex.cond_seq(c);
      }
    } finally {
      if (!left_) ex.cond_leave_async(c, 1, this._id, enterSeq, reg);
      lock._unpin();
      this._unpin(wake);
    }
  }

  /** Takes the lock back after a wait. A holder that died only means it is free now: take it then. */
  private async _reacquire(): Promise<void> {
    while (true) {
      try {
        if (await this._lock.acquireAsync()) return;
      } catch (error) {
        if (!(error instanceof OwnerDiedError)) throw error;
      }
    }
  }

  /** Waits until predicate() is truthy (checked with the lock held); returns its last value. */
  waitFor<T>(predicate: () => T, timeout?: number): T {
    this._live();
    const ms = checkTimeout(timeout, "Condition.waitFor");
    const deadline = deadlineOf(ms);
    let result = predicate();
    // Like Python, which calls wait() at least once: not holding the lock is an error even with timeout 0.
    if (!result) this._lockAddress("waitFor");
    while (!result) {
      const left = remaining(deadline, now());
      if (left === 0) break;
      this.wait(left === Infinity ? undefined : left);
      result = predicate();
    }
    return result;
  }

  async waitForAsync<T>(predicate: () => T, timeout?: number): Promise<T> {
    this._live();
    const ms = checkTimeout(timeout, "Condition.waitForAsync");
    const deadline = deadlineOf(ms);
    let result = predicate();
    if (!result) this._lockAddress("waitForAsync");
    while (!result) {
      const left = remaining(deadline, now());
      if (left === 0) break;
      await this.waitAsync(left === Infinity ? undefined : left);
      result = predicate();
    }
    return result;
  }

  /** Wakes up to n waiters (default 1); the caller must hold the lock. */
  notify(n: number = 1): void {
    const c = this._live();
    if (n !== 1) checkCount(n, "Condition.notify", "n", 0);
    this._lockAddress("notify");
    this._ex.cond_notify(c, n);
  }

  notifyAll(): void {
    const c = this._live();
    this._lockAddress("notifyAll");
    this._ex.cond_notify(c, -1);
  }
}
registerKind("Condition", (h) => Condition.fromHandle(h));

// ---------------------------------------------------------------- Barrier


export interface BarrierOptions {
  /** Run by the last party to arrive, before any is released (in the thread where it was given). */
  action?: () => void;
  /** Default timeout in ms for wait(). */
  timeout?: number;
}

export class Barrier extends SharedObject {
  static override readonly handleKind: string = "Barrier";
  declare private _action: (() => void) | undefined;
  declare private _timeout: number | undefined;
  declare private _parties: number;

  /** Python's Barrier(parties, action=None, timeout=None). */
  constructor(parties: number, options: BarrierOptions = {}) {
    super();
    const n = checkCount(parties, "Barrier", "parties", 1);
    if (n > 0x7fff) throw new RangeError(`Barrier: parties must be at most ${0x7fff}; got ${n}`);
    this._configure(options, "Barrier");
    this._allocate(Kind.Barrier, 32);
    this._ex.barrier_init(this._p, n);
    this._parties = n;
  }

  /** The action is a function and cannot cross threads: give it again here if this side may arrive last. */
  static fromHandle(handle: Handle, options: BarrierOptions = {}): Barrier {
    const barrier = Object.create(Barrier.prototype) as Barrier;
    barrier._configure({ timeout: handle?.timeout as number | undefined, ...options }, "Barrier.fromHandle");
    barrier._open(Kind.Barrier, handle, "Barrier");
    barrier._parties = barrier._ex.barrier_parties(barrier._p);
    return barrier;
  }

  private _configure(options: BarrierOptions, where: string): void {
    if (options.action !== undefined && typeof options.action !== "function") {
      throw new TypeError(`${where}: action must be a function`);
    }
    if (options.timeout !== undefined) checkTimeout(options.timeout, where);
    this._action = options.action;
    this._timeout = options.timeout;
  }

  protected override _handleExtras(): Record<string, unknown> {
    return this._timeout === undefined ? {} : { timeout: this._timeout };
  }

  get parties(): number {
    this._live();
    return this._parties;
  }

  get nWaiting(): number {
    return this._ex.barrier_n_waiting(this._live());
  }

  get broken(): boolean {
    return this._ex.barrier_broken(this._live()) === 1;
  }

  /** Blocks until all parties arrived; returns this party's index (0 … parties-1). */
  wait(timeout?: number): number {
    const p = this._live();
    const ms = checkTimeout(timeout ?? this._timeout, "Barrier.wait");
    assertMayBlock("Barrier.wait()", "await barrier.waitAsync()");
    const arrival = this._ex.barrier_wait(p, this._action ? 1 : 0, ms, this._id);
    return this._arrived(p, arrival);
  }

  async waitAsync(timeout?: number): Promise<number> {
    const p = this._live();
    const ms = checkTimeout(timeout ?? this._timeout, "Barrier.waitAsync");
    const ex = this._ex;
    const deadline = deadlineOf(ms);
    const genIndex = (p + abi.BARRIER_GEN_OFFSET) >> 2;
    const wake = waker(this._rt.int32(), genIndex);
    this._pin(wake);
    // The arrival is registered in this thread's slot (the reaper breaks the barrier if we die).
    let reg = 0;
    try {
      let arrival: number;
      while ((arrival = ex.barrier_arrive_async(p, this._action ? 1 : 0, this._id)) === abi.E_BUSY) {
        const left = remaining(deadline, now());
        if (left === 0) throw this._broken();
        await waitAsync(this._rt.int32(), genIndex, ex.barrier_gen(p), Math.min(left, LIVENESS_MS));
        this._stillOpen();
      }
      if (arrival === abi.E_BARRIER_NO_MEMORY) throw outOfMemory(this._rt, "Barrier.waitAsync");
      if (arrival < 0) throw this._broken();
      reg = ex.thread_last_block(this._id);
      const index = arrival & 0xffff;
      if (index === this._parties - 1) return this._arrived(p, arrival);
      const gen16 = arrival >>> 16;
      while (true) {
        const gen = ex.barrier_gen(p);
        if ((gen & 0x7fff) !== gen16) break;
        const left = remaining(deadline, now());
        if (left === 0 || this.closed) {
          // A party that gives up (timeout, or its barrier closed) breaks the barrier, as in Python.
          const status = ex.barrier_timeout(p, gen16);
          this._stillOpen();
          if (status === 1) return index;
          throw this._broken();
        }
        // The timer may fire a little before the deadline by now(): the loop checks again.
        await waitAsync(this._rt.int32(), genIndex, gen, Math.min(left, LIVENESS_MS));
      }
      if (ex.barrier_status(p, gen16) === 1) return index;
      throw this._broken();
    } finally {
      if (reg !== 0) ex.wait_unregister(this._id, reg);
      this._unpin(wake);
    }
  }

  private _arrived(p: number, arrival: number): number {
    if (arrival < 0) throw this._broken();
    const index = arrival & 0xffff;
    if (this._action && index === this._parties - 1) {
      try {
        this._action();
      } catch (error) {
        this._ex.barrier_finish(p, 0, this._id);
        throw error;
      }
      this._ex.barrier_finish(p, 1, this._id);
    }
    return index;
  }

  private _broken(): BrokenBarrierError {
    return new BrokenBarrierError(
      "Barrier is broken (aborted, reset while waiting, a wait timed out, or the action threw); call reset() to use it again",
    );
  }

  /** Back to the empty state; parties waiting now get BrokenBarrierError. */
  reset(): void {
    this._ex.barrier_reset(this._live());
  }

  /** Breaks the barrier: current and future waits throw BrokenBarrierError until reset(). */
  abort(): void {
    this._ex.barrier_abort(this._live());
  }
}
registerKind("Barrier", (h) => Barrier.fromHandle(h));

