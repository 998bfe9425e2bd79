// Shared objects and their handles. A handle ({ $forkless, p, g }) is a plain,
// structured-cloneable description of a block: its payload address and generation.
// Rebuilding from a handle takes a new reference in Wasm, which refuses handles that are
// out of range, of the wrong kind, or stale (the block was freed and maybe reused).
import "./platform";
import { runtime, type Runtime } from "./runtime";
import type { WasmExports } from "./exports";
import { E_KIND, E_NOT_BLOCK, E_RANGE, E_STALE, E_UNINITIALIZED } from "./exports";
import { ClosedError, HandleError, OutOfSharedMemoryError, StaleHandleError } from "./errors";

export const enum Kind {
  Lock = 1,
  RLock = 2,
  Semaphore = 3,
  BoundedSemaphore = 4,
  Event = 5,
  Condition = 6,
  Barrier = 7,
  Value = 9,
  SharedArray = 10,
  Queue = 11,
  SimpleQueue = 12,
  JoinableQueue = 13,
  Channel = 14,
  Connection = 15,
}

export interface Handle {
  /** The class name of the object the handle names. */
  readonly $forkless: string;
  readonly p: number;
  readonly g: number;
  readonly [extra: string]: unknown;
}

interface Held {
  ex: WasmExports;
  p: number;
  g: number;
}

// Drops the reference of an object the program forgot to close.
const finalizer =
  typeof FinalizationRegistry === "function"
    ? new FinalizationRegistry<Held>((held) => {
        held.ex.block_release(held.p, held.g);
      })
    : undefined;


type Reviver = (handle: Handle) => SharedObject;

// Every object this thread holds, weakly, so a process can drop its references when it ends
// (closing a pipe end there is what lets the reader see EOF).
const liveObjects = new Set<WeakRef<SharedObject>>();

/** Closes every forkless object this thread still holds (a child process calls this as it ends). */
/** How many objects this thread has open (a reused worker checks that importing a module made none). */
export function openObjectCount(): number {
  return liveObjects.size;
}

export function closeAllObjects(): void {
  for (const ref of [...liveObjects]) ref.deref()?.close();
  liveObjects.clear();
}

// While set, rebuilding a handle takes over the reference that travelled with it instead of opening a new one.
let adopting = false;

/** True while adoptHandle() is rebuilding objects (so they take over in-flight references). */
export function isAdopting(): boolean {
  return adopting;
}

/**
 * Keeps the objects behind a handle alive while it travels (inside a queued item): the
 * references are taken now and handed to whoever calls adoptHandle() on the other side.
 */
export function retainForTransfer(object: SharedObject): Handle {
  const handle = object.toHandle();
  fromHandle(handle)._abandon();
  return handle;
}

/** Rebuilds an object from a handle made by retainForTransfer, taking over its references. */
export function adoptHandle(handle: Handle): SharedObject {
  const previous = adopting;
  adopting = true;
  try {
    return fromHandle(handle);
  } finally {
    adopting = previous;
  }
}
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

export abstract class SharedObject {
  /** The kind name handles carry; inherited by user subclasses so they revive as their base. */
  static readonly handleKind: string = "";
  declare protected _rt: Runtime;
  declare protected _ex: WasmExports;
  declare protected _id: number;
  /** Payload address; 0 once closed. */
  declare protected _p: number;
  declare protected _g: number;
  declare private _self: WeakRef<SharedObject> | undefined;

  protected _allocate(kind: Kind, payloadBytes: number): void {
    const rt = runtime();
    const p = rt.exports.block_alloc(payloadBytes, kind);
    if (p === 0) {
      throw new OutOfSharedMemoryError(
        `${this.constructor.name}: the shared memory is full (${rt.memory.buffer.byteLength} bytes in use of ` +
          `${rt.exports.arena_max_pages() * 65536}); close objects you no longer need, or raise maxMemoryBytes in configure()`,
      );
    }
    this._bind(rt, p, rt.exports.block_generation(p));
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
    const status = adopting ? rt.exports.block_check(p, kind, g) : rt.exports.block_open(p, kind, g);
    if (status !== 0) throw handleError(status, expected);
    this._bind(rt, p, g);
  }

  private _bind(rt: Runtime, p: number, g: number): void {
    this._rt = rt;
    this._ex = rt.exports;
    this._id = rt.id;
    this._p = p;
    this._g = g;
    finalizer?.register(this, { ex: rt.exports, p, g }, this);
    if (typeof WeakRef === "function") {
      this._self = new WeakRef(this);
      liveObjects.add(this._self);
    }
  }

  /** Drops this thread's reference; the memory is freed when no thread holds one. Idempotent. */
  close(): void {
    const p = this._p;
    if (p === 0) return;
    this._p = 0;
    finalizer?.unregister(this);
    if (this._self) liveObjects.delete(this._self);
    this._ex.block_release(p, this._g);
  }

  /** This object belongs to another one, which closes it: closeAllObjects() leaves it to its owner. */
  _ownedBy(): this {
    if (this._self) liveObjects.delete(this._self);
    return this;
  }

  /** Forgets this object without dropping its references (they now belong to an in-flight handle). */
  _abandon(): void {
    if (this._p === 0) return;
    this._p = 0;
    finalizer?.unregister(this);
    if (this._self) liveObjects.delete(this._self);
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

function handleError(status: number, expected: string): HandleError {
  switch (status) {
    case E_RANGE:
      return new HandleError(`${expected}.fromHandle: the handle points outside the shared arena; it was not made by toHandle() in a thread attached to this memory`);
    case E_NOT_BLOCK:
      return new HandleError(`${expected}.fromHandle: the handle does not point at a forkless object; it was forged or damaged`);
    case E_KIND:
      return new HandleError(`${expected}.fromHandle: the handle names another kind of object, not a ${expected}`);
    case E_STALE:
      return new StaleHandleError(
        `${expected}.fromHandle: the ${expected} was freed because every thread had closed it; keep the sender's object open until the receiver has rebuilt it`,
      );
    case E_UNINITIALIZED:
      return new HandleError(`${expected}.fromHandle: this thread is not attached to the memory the handle came from; call attach(share) first`);
    default:
      return new HandleError(`${expected}.fromHandle: invalid handle (status ${status})`);
  }
}
