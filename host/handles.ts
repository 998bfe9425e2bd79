// Shared objects and their handles. A handle ({ $forkless, p, g }) is a plain,
// structured-cloneable description of a block: its payload address and generation.
// Rebuilding from a handle takes a new reference in Wasm, which refuses handles that are
// out of range, not at a real block (the page table knows where blocks are), of the wrong
// kind, or stale (the block was freed and maybe reused).
//
// Every reference is recorded where the Wasm module can find it (assembly/refs.ts): in this
// thread's reference table while an object of this thread holds it, in a transit block while
// it travels inside a message or a process's arguments. So a process that ends however it
// ends — returns, throws, is terminated or killed, runs out of memory — never keeps a block
// alive: the reaper drops what it still held.
import "./platform";
import { currentRuntime, forgetRuntime, runtime, type Runtime } from "./runtime";
import type { WasmExports } from "./exports";
import { abi } from "./abi";
import { ClosedError, HandleError, OutOfSharedMemoryError, StaleHandleError, ValueError } from "./errors";

/** Block kinds (assembly/kinds.ts): the names the host uses for the module's numbers. */
export const Kind = {
  Lock: abi.KIND_LOCK,
  RLock: abi.KIND_RLOCK,
  Semaphore: abi.KIND_SEMAPHORE,
  BoundedSemaphore: abi.KIND_BOUNDED_SEMAPHORE,
  Event: abi.KIND_EVENT,
  Condition: abi.KIND_CONDITION,
  Barrier: abi.KIND_BARRIER,
  Value: abi.KIND_VALUE,
  SharedArray: abi.KIND_SHARED_ARRAY,
  Queue: abi.KIND_QUEUE,
  SimpleQueue: abi.KIND_SIMPLE_QUEUE,
  JoinableQueue: abi.KIND_JOINABLE_QUEUE,
  Channel: abi.KIND_CHANNEL,
  Connection: abi.KIND_CONNECTION,
  Scratch: abi.KIND_SCRATCH,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export interface Handle {
  /** The class name of the object the handle names. */
  readonly $forkless: string;
  readonly p: number;
  readonly g: number;
  readonly [extra: string]: unknown;
}

/** What the finalizer needs to drop a forgotten object's reference. */
interface Held {
  ex: WasmExports;
  p: number;
  g: number;
  id: number;
  index: number;
}

// Drops the reference of an object the program forgot to close.
const finalizer =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry<Held>((held) => {
        held.ex.block_release(held.p, held.g, held.id, held.index);
      })
    : undefined;

type Reviver = (handle: Handle) => SharedObject;

// Every object this thread holds, weakly, so a process can drop its references when it ends
// (closing a pipe end there is what lets the reader see EOF).
const liveObjects = new Set<WeakRef<SharedObject>>();

/** How many objects this thread has open (a reused worker checks that importing a module made none). */
export function openObjectCount(): number {
  return liveObjects.size;
}

/** Closes every forkless object this thread still holds (a child process calls this as it ends). */
export function closeAllObjects(): void {
  for (const ref of [...liveObjects]) ref.deref()?.close();
  liveObjects.clear();
}

/**
 * Leaves the shared memory: closes every object this thread holds and gives up its thread
 * (locks it still holds are recovered by their next acquirer, with OwnerDiedError). Call it
 * in a thread you attached yourself (attach()) before that thread ends; afterwards this
 * thread may attach() again.
 */
export function detach(): void {
  const rt = currentRuntime();
  if (!rt) return;
  closeAllObjects();
  rt.exports.thread_detach(rt.id);
  forgetRuntime();
}

// ---------------------------------------------------------------- transit

/** While set, rebuilding a handle takes over the reference this transit block carries for it. */
let adopting: { t: number } | undefined;

/** True while objects are being rebuilt from a message (they take over in-flight references). */
export function isAdopting(): boolean {
  return adopting !== undefined;
}

/**
 * Collects the forkless objects a message (or a process's arguments) carries, then takes a
 * reference on each of their blocks into one transit block: the message owns those
 * references until the receiver adopts them, whatever happens to the sender meanwhile.
 */
export class TransitBuilder {
  private readonly objects: SharedObject[] = [];

  /** Notes an object the message names; returns its handle (nothing is retained yet). */
  retain(object: SharedObject): Handle {
    const handle = object.toHandle(); // a closed object throws here, before anything is retained
    this.objects.push(object);
    return handle;
  }

  get empty(): boolean {
    return this.objects.length === 0;
  }

  /** Takes the references: the transit block and where this thread's table holds it, or undefined if no object. */
  commit(rt: Runtime): { t: number; index: number } | undefined {
    if (this.objects.length === 0) return undefined;
    const ex = rt.exports;
    const blocks: [number, number, number][] = [];
    for (const object of this.objects) object._transitBlocks(blocks);
    const t = ex.transit_new(rt.id, blocks.length);
    if (t === 0) throw outOfMemory(rt, "forkless (the references of a message's forkless objects)");
    const index = ex.thread_last_index(rt.id);
    for (const [p, kind, g] of blocks) {
      const status = ex.transit_add(t, p, kind, g);
      if (status !== abi.OK) {
        ex.block_release(t, ex.block_generation(t), rt.id, index);
        throw status === abi.E_NO_MEMORY ? outOfMemory(rt, "forkless (the references of a message's forkless objects)") : handleError(status, "message");
      }
    }
    return { t, index };
  }
}

/**
 * Rebuilds the objects of a message from its transit block t (held at `index` of this
 * thread's table): revive() inside fn takes over the transit's references. Whatever fn did
 * not take (a handle that failed to revive) is dropped with the transit block afterwards.
 */
export function adoptFrom<T>(rt: Runtime, t: number, index: number, fn: () => T): T {
  const previous = adopting;
  adopting = { t };
  try {
    return fn();
  } finally {
    adopting = previous;
    rt.exports.block_release(t, rt.exports.block_generation(t), rt.id, index);
  }
}

/** Rebuilds an object from a handle inside adoptFrom(), taking over the reference its message carries. */
export function adoptHandle(handle: Handle): SharedObject {
  if (!adopting) throw new HandleError("adoptHandle: called outside adoptFrom()");
  return fromHandle(handle);
}

/** The one error for a full memory, wherever it runs out. `where` names the call or what could not be made. */
export function outOfMemory(rt: Runtime, where: string): OutOfSharedMemoryError {
  const ex = rt.exports;
  return new OutOfSharedMemoryError(
    `${where}: the shared memory is full (${ex.arena_bytes() >>> 0} bytes in objects and ${ex.arena_internal_bytes() >>> 0} ` +
      `in forkless's bookkeeping, with the memory at its maximum of ${ex.arena_max_pages() * 65536} bytes); ` +
      "close objects you no longer need, or raise maxMemoryBytes in configure()",
  );
}

// ---------------------------------------------------------------- kinds and classes

const revivers = new Map<string, Reviver>();

export function registerKind(name: string, revive: Reviver): void {
  revivers.set(name, revive);
}

// User subclasses of forkless classes (class FinalQueue extends SimpleQueue), by class name.
const subclasses = new Map<string, Function>();

/**
 * Lets instances of a subclass of a forkless class arrive in other processes as that subclass
 * (with its methods) instead of the base class. Call it next to the class definition, in a
 * module the other process imports too: `registerClass(FinalQueue)`. (Python pickles classes by
 * reference; JavaScript needs this one line.)
 */
export function registerClass(cls: new (...args: any[]) => SharedObject): void {
  if (typeof cls !== "function" || !(cls.prototype instanceof SharedObject)) {
    throw new TypeError("registerClass: expected a subclass of a forkless class (Lock, Queue, SimpleQueue, …)");
  }
  const existing = subclasses.get(cls.name);
  if (existing && existing !== cls) throw new TypeError(`registerClass: another class named ${cls.name} is already registered`);
  subclasses.set(cls.name, cls);
}

export function isHandle(value: unknown): value is Handle {
  return typeof value === "object" && value !== null && typeof (value as any).$forkless === "string";
}

/** Rebuilds a live object of whatever kind the handle names. */
export function fromHandle(handle: Handle): SharedObject {
  if (!isHandle(handle)) {
    throw new HandleError("fromHandle: expected a handle made by toHandle() (an object with $forkless, p and g)");
  }
  const revive = revivers.get(handle.$forkless);
  if (!revive) throw new HandleError(`fromHandle: unknown kind of forkless object ${JSON.stringify(handle.$forkless)}`);
  const object = revive(handle);
  const cls = handle.cls;
  if (typeof cls === "string") {
    const subclass = subclasses.get(cls);
    if (!subclass) {
      object.close();
      throw new HandleError(
        `fromHandle: the object is a ${cls} (a subclass of ${handle.$forkless}), which this process does not know: ` +
          `call registerClass(${cls}) next to its definition, in a module this process imports`,
      );
    }
    Object.setPrototypeOf(object, subclass.prototype);
  }
  return object;
}

// ---------------------------------------------------------------- SharedObject

export abstract class SharedObject {
  /** The kind name handles carry; inherited by user subclasses so they revive as their base. */
  static readonly handleKind: string = "";
  declare protected _rt: Runtime;
  declare protected _ex: WasmExports;
  declare protected _id: number;
  /** Payload address; 0 once closed. */
  declare protected _p: number;
  declare protected _g: number;
  declare protected _k: number;
  /** Where this thread's reference table records our reference. */
  declare private _ref: number;
  declare private _self: WeakRef<SharedObject> | undefined;
  /** Asynchronous calls in progress: the block stays referenced until the last one ends. */
  declare private _pending: number;
  declare private _wakers: Set<() => void> | undefined;
  /** Set by close() while asynchronous calls were pending: the address to release after the last. */
  declare private _deferred: number;
  /** A view of a block another object holds the reference to (a Connection's channels): it owns none. */
  declare private _borrowed: boolean;

  protected _allocate(kind: Kind, payloadBytes: number): void {
    const rt = runtime();
    const p = rt.exports.block_alloc(payloadBytes, kind, rt.id);
    if (p === 0) throw outOfMemory(rt, this.constructor.name);
    this._bind(rt, p, rt.exports.block_generation(p), kind, rt.exports.thread_last_index(rt.id));
  }

  protected _open(kind: Kind, handle: Handle, expected: string): void {
    if (!isHandle(handle) || handle.$forkless !== expected) {
      throw new HandleError(
        `${expected}.fromHandle: expected a handle from ${expected}.toHandle(); got ${isHandle(handle) ? `a ${handle.$forkless} handle` : String(handle)}`,
      );
    }
    const { p, g } = handle;
    if (!Number.isInteger(p) || !Number.isInteger(g) || p <= 0 || p > 0xffffffff || g < -0x80000000 || g > 0x7fffffff) {
      throw new HandleError(`${expected}.fromHandle: the handle's address or generation is not a valid integer; it was not made by toHandle()`);
    }
    const rt = runtime();
    const ex = rt.exports;
    let index: number;
    if (adopting) {
      const status = ex.block_check(p, kind, g);
      if (status !== abi.OK) throw handleError(status, expected);
      index = ex.transit_adopt(adopting.t, p, g, rt.id);
    } else {
      index = ex.block_open(p, kind, g, rt.id);
    }
    if (index < 0) throw index === abi.E_NO_MEMORY ? outOfMemory(rt, `${expected}.fromHandle`) : handleError(index, expected);
    this._bind(rt, p, g, kind, index);
  }

  private _bind(rt: Runtime, p: number, g: number, kind: number, index: number): void {
    this._rt = rt;
    this._ex = rt.exports;
    this._id = rt.id;
    this._p = p;
    this._g = g;
    this._k = kind;
    this._ref = index;
    this._pending = 0;
    this._deferred = 0;
    this._borrowed = false;
    finalizer?.register(this, { ex: rt.exports, p, g, id: rt.id, index }, this);
    if (typeof WeakRef === "function") {
      this._self = new WeakRef(this);
      liveObjects.add(this._self);
    }
  }

  /** Binds to a block whose reference another object holds (and outlives this one): nothing to release. */
  protected _borrow(rt: Runtime, p: number, kind: number): void {
    this._rt = rt;
    this._ex = rt.exports;
    this._id = rt.id;
    this._p = p;
    this._g = rt.exports.block_generation(p);
    this._k = kind;
    this._ref = -1;
    this._pending = 0;
    this._deferred = 0;
    this._borrowed = true;
  }

  /**
   * Drops this thread's reference; the memory is freed when no thread holds one. Idempotent.
   * Asynchronous calls still pending on this object reject with ClosedError, and the block
   * stays allocated until the last of them has let go of it.
   */
  close(): void {
    const p = this._p;
    if (p === 0) return;
    this._p = 0;
    if (this._borrowed) {
      for (const wake of this._wakers ?? []) wake();
      return;
    }
    finalizer?.unregister(this);
    if (this._self) liveObjects.delete(this._self);
    if (this._pending > 0) {
      this._deferred = p;
      for (const wake of this._wakers ?? []) wake();
      return;
    }
    this._release(p);
  }

  private _release(p: number): void {
    this._ex.block_release(p, this._g, this._id, this._ref);
  }

  /** This object belongs to another one, which closes it: closeAllObjects() leaves it to its owner. */
  _ownedBy(): this {
    if (this._self) liveObjects.delete(this._self);
    return this;
  }

  /** Adds this object's blocks ([p, kind, g]) to a message's transit (sub-objects with handles of their own add theirs). */
  _transitBlocks(into: [number, number, number][]): void {
    into.push([this._live(), this._k, this._g]);
  }

  /**
   * Starts an asynchronous call: the block stays referenced until _unpin(), even if the
   * object is closed meanwhile. `wake` is called by close(), to end a wait at once.
   */
  protected _pin(wake?: () => void): number {
    const p = this._live();
    this._pending++;
    if (wake) (this._wakers ??= new Set()).add(wake);
    return p;
  }

  protected _unpin(wake?: () => void): void {
    if (wake) this._wakers?.delete(wake);
    if (--this._pending === 0 && this._deferred !== 0) {
      const p = this._deferred;
      this._deferred = 0;
      this._release(p);
    }
  }

  /** Throws ClosedError if the object was closed while an asynchronous call waited. */
  protected _stillOpen(): void {
    if (this._p === 0) throw this._closedError();
  }

  get closed(): boolean {
    return this._p === 0;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  /** A structured-cloneable description to send to another thread, which rebuilds it with fromHandle(). */
  toHandle(): Handle {
    this._live();
    const kind = (this.constructor as typeof SharedObject).handleKind;
    const handle: Record<string, unknown> = { $forkless: kind, p: this._p, g: this._g, ...this._handleExtras() };
    // A user subclass travels by name (see registerClass).
    if (this.constructor.name !== kind) handle.cls = this.constructor.name;
    return handle as Handle;
  }

  protected _handleExtras(): Record<string, unknown> {
    return {};
  }

  protected _live(): number {
    const p = this._p;
    if (p === 0) throw this._closedError();
    return p;
  }

  protected _closedError(): ClosedError {
    const name = this.constructor.name;
    return new ClosedError(
      `${name} is closed in this thread; create a new one, or rebuild it with ${name}.fromHandle(handle) from a handle taken before close()`,
    );
  }
}

export function handleError(status: number, expected: string): HandleError {
  switch (status) {
    case abi.E_RANGE:
      return new HandleError(`${expected}.fromHandle: the handle points outside the shared arena; it was not made by toHandle() in a thread attached to this memory`);
    case abi.E_NOT_BLOCK:
      return new HandleError(`${expected}.fromHandle: the handle does not point at a forkless object; it was forged or damaged`);
    case abi.E_KIND:
      return new HandleError(`${expected}.fromHandle: the handle names another kind of object, not a ${expected}`);
    case abi.E_STALE:
      return new StaleHandleError(
        `${expected}.fromHandle: the ${expected} was freed because every thread had closed it; keep the sender's object open until the receiver has rebuilt it`,
      );
    case abi.E_UNINITIALIZED:
      return new HandleError(`${expected}.fromHandle: this thread is not attached to the memory the handle came from; call attach(share) first`);
    case abi.E_NOT_IN_TRANSIT:
      return new HandleError(
        `${expected}.fromHandle: the message names a ${expected} it does not carry (a forged or copied handle inside the data); only objects the sender put in the message arrive live`,
      );
    case abi.E_NO_THREAD:
      return new ValueError(`${expected}: this thread has left the shared memory (detach()); attach() again first`);
    default:
      return new HandleError(`${expected}.fromHandle: invalid handle (status ${status})`);
  }
}
