// Value, RawValue, SharedArray (exported as Array too) and RawArray: Python's
// multiprocessing.sharedctypes. Each is one block of shared memory holding a small header
// and the elements; a typed array created once over the block gives direct access (shared
// memory never moves, so the view stays valid when the memory grows).
//
// Block payload (16-byte aligned, so the data at +8 is 8-byte aligned for 64-bit elements):
//   +0  i32 type code (the char code of 'i', 'd', …)
//   +4  u32 length in elements (1 for a value)
//   +8  the elements
// The block describes itself, so a handle needs only its address and generation (plus the
// lock's handle); fromHandle() reads the type and length back and checks them against the
// block's size.
import { Kind, SharedObject, fromHandle as reviveHandle, isHandle, registerKind, type Handle } from "./handles";
import { Acquirable, RLock, type Held } from "./synchronize";
import { ClosedError, HandleError, ValueError } from "./errors";
import type { AcquireOptions } from "./options";
import { abi } from "./abi";

const META = 8;
/** The most element bytes one Value/Array can hold: the largest block, less its header and ours. */
const MAX_DATA_BYTES = abi.MAX_BLOCK_BYTES - abi.HEADER - META;

// ---------------------------------------------------------------- type codes

/** What each type code stores, returns and accepts. */
interface CodeTypes {
  b: { element: number; input: number | bigint; array: Int8Array };
  B: { element: number; input: number | bigint; array: Uint8Array };
  h: { element: number; input: number | bigint; array: Int16Array };
  H: { element: number; input: number | bigint; array: Uint16Array };
  i: { element: number; input: number | bigint; array: Int32Array };
  I: { element: number; input: number | bigint; array: Uint32Array };
  l: { element: bigint; input: bigint | number; array: BigInt64Array };
  q: { element: bigint; input: bigint | number; array: BigInt64Array };
  L: { element: bigint; input: bigint | number; array: BigUint64Array };
  Q: { element: bigint; input: bigint | number; array: BigUint64Array };
  f: { element: number; input: number | bigint; array: Float32Array };
  d: { element: number; input: number | bigint; array: Float64Array };
  c: { element: string; input: string | number; array: Uint8Array };
  u: { element: string; input: string; array: Uint32Array };
}

/**
 * A type code, as in Python's `array` module and `multiprocessing.sharedctypes`:
 *
 * | code | C type | stored as | `.value` / `get()` returns | accepts |
 * |---|---|---|---|---|
 * | `'b'` `'B'` | signed / unsigned char | Int8Array / Uint8Array | number | integer number or BigInt |
 * | `'h'` `'H'` | short / unsigned short | Int16Array / Uint16Array | number | integer number or BigInt |
 * | `'i'` `'I'` | int / unsigned int | Int32Array / Uint32Array | number | integer number or BigInt |
 * | `'l'` `'q'` | long / long long (64-bit) | BigInt64Array | bigint | BigInt, or a safe-integer number |
 * | `'L'` `'Q'` | unsigned long / long long | BigUint64Array | bigint | BigInt, or a safe-integer number |
 * | `'f'` `'d'` | float / double | Float32Array / Float64Array | number | number or BigInt |
 * | `'c'` | char (one byte) | Uint8Array | 1-char string | 1-char string with char code ≤ 255, or integer 0…255 |
 * | `'u'` | wchar_t (4 bytes on Linux) | Uint32Array (code points) | 1-char string | string of exactly one code point |
 *
 * Integers out of range wrap like a typed array (and like ctypes): 'b' stores 128 as -128.
 * Non-integral numbers (3.5, NaN, Infinity) are refused for integer codes, as ctypes refuses
 * floats. 64-bit codes return BigInt always; they accept a number only when it is a safe
 * integer (|n| ≤ 2**53 - 1), because a bigger number may already have been rounded: pass a
 * BigInt literal (2n ** 63n - 1n) instead.
 */
export type TypeCode = keyof CodeTypes;
/** What `.value` / `get()` return for a type code: number, bigint (64-bit codes) or string ('c', 'u'). */
export type ElementOf<T extends TypeCode> = CodeTypes[T]["element"];
/** What `.value =` / `set()` / initializers accept for a type code. */
export type InputOf<T extends TypeCode> = CodeTypes[T]["input"];
/** The typed array `.array` returns for a type code. */
export type TypedArrayOf<T extends TypeCode> = CodeTypes[T]["array"];

type AnyView = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array | Float32Array | Float64Array;
type ViewCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => AnyView;

interface Codec {
  readonly code: TypeCode;
  readonly ctor: ViewCtor;
  readonly size: number;
  /** Reads element i. */
  readonly get: (view: any, i: number) => any;
  /** Converts and writes v to element i; false (nothing written) when v does not fit the code. */
  readonly put: (view: any, i: number, v: unknown) => boolean;
  /** "integer number or BigInt", for error messages. */
  readonly accepts: string;
  readonly ctype: string;
}

function intCodec(code: TypeCode, ctor: ViewCtor, ctype: string): Codec {
  return {
    code,
    ctor,
    ctype,
    size: (ctor as any).BYTES_PER_ELEMENT,
    accepts: "an integer number or a BigInt (out-of-range values wrap, as in a typed array)",
    get: (view: Int32Array, i: number) => Atomics.load(view, i),
    put: (view: Int32Array, i: number, v: unknown) => {
      if (typeof v === "number") {
        if (!Number.isInteger(v)) return false;
        Atomics.store(view, i, v);
        return true;
      }
      if (typeof v === "bigint") {
        Atomics.store(view, i, Number(BigInt.asIntN(32, v)));
        return true;
      }
      return false;
    },
  };
}

function bigCodec(code: TypeCode, ctor: ViewCtor, ctype: string): Codec {
  return {
    code,
    ctor,
    ctype,
    size: 8,
    accepts: "a BigInt (e.g. 5n; out-of-range values wrap, as in a typed array), or a number that is a safe integer",
    get: (view: BigInt64Array, i: number) => Atomics.load(view, i),
    put: (view: BigInt64Array, i: number, v: unknown) => {
      if (typeof v === "bigint") {
        Atomics.store(view, i, v);
        return true;
      }
      if (typeof v === "number" && Number.isSafeInteger(v)) {
        Atomics.store(view, i, BigInt(v));
        return true;
      }
      return false;
    },
  };
}

function floatCodec(code: TypeCode, ctor: ViewCtor, ctype: string): Codec {
  return {
    code,
    ctor,
    ctype,
    size: (ctor as any).BYTES_PER_ELEMENT,
    accepts: "a number or a BigInt",
    get: (view: Float64Array, i: number) => view[i],
    put: (view: Float64Array, i: number, v: unknown) => {
      if (typeof v === "number") {
        view[i] = v;
        return true;
      }
      if (typeof v === "bigint") {
        view[i] = Number(v);
        return true;
      }
      return false;
    },
  };
}

const charCodec: Codec = {
  code: "c",
  ctor: Uint8Array,
  ctype: "char",
  size: 1,
  accepts: "a 1-character string with a char code ≤ 255, or an integer from 0 to 255",
  get: (view: Uint8Array, i: number) => String.fromCharCode(Atomics.load(view, i)),
  put: (view: Uint8Array, i: number, v: unknown) => {
    let byte: number;
    if (typeof v === "string") {
      if (v.length !== 1 || (byte = v.charCodeAt(0)) > 0xff) return false;
    } else if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xff) {
      byte = v;
    } else {
      return false;
    }
    Atomics.store(view, i, byte);
    return true;
  },
};

const wcharCodec: Codec = {
  code: "u",
  ctor: Uint32Array,
  ctype: "wchar_t",
  size: 4,
  accepts: "a string of exactly one character (one code point)",
  get: (view: Uint32Array, i: number) => {
    const cp = Atomics.load(view, i);
    return String.fromCodePoint(cp <= 0x10ffff ? cp : 0xfffd);
  },
  put: (view: Uint32Array, i: number, v: unknown) => {
    if (typeof v !== "string" || v.length === 0 || v.length > 2) return false;
    const cp = v.codePointAt(0)!;
    if (v.length !== (cp > 0xffff ? 2 : 1)) return false;
    Atomics.store(view, i, cp);
    return true;
  },
};

const CODECS = new Map<string, Codec>([
  ["b", intCodec("b", Int8Array, "signed char")],
  ["B", intCodec("B", Uint8Array, "unsigned char")],
  ["h", intCodec("h", Int16Array, "short")],
  ["H", intCodec("H", Uint16Array, "unsigned short")],
  ["i", intCodec("i", Int32Array, "int")],
  ["I", intCodec("I", Uint32Array, "unsigned int")],
  ["l", bigCodec("l", BigInt64Array, "long (64-bit)")],
  ["q", bigCodec("q", BigInt64Array, "long long")],
  ["L", bigCodec("L", BigUint64Array, "unsigned long (64-bit)")],
  ["Q", bigCodec("Q", BigUint64Array, "unsigned long long")],
  ["f", floatCodec("f", Float32Array, "float")],
  ["d", floatCodec("d", Float64Array, "double")],
  ["c", charCodec],
  ["u", wcharCodec],
]);

const VALID_CODES = [...CODECS.keys()].map((c) => `'${c}'`).join(", ");

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return value.toString();
  if (value === null) return "null";
  if (typeof value === "object") {
    if (Array.isArray(value)) return "an array";
    const name = (value as object).constructor?.name;
    return name && name !== "Object" ? `a ${name}` : "an object";
  }
  return String(value);
}

function codecFor(typecode: unknown, where: string): Codec {
  const codec = typeof typecode === "string" ? CODECS.get(typecode) : undefined;
  if (!codec) {
    throw new TypeError(`${where}: unknown type code ${describe(typecode)}; use one of ${VALID_CODES} (as in Python's array module)`);
  }
  return codec;
}

function badValue(codec: Codec, value: unknown, where: string): TypeError {
  let hint = "";
  if ((codec.code === "q" || codec.code === "l" || codec.code === "Q" || codec.code === "L") && typeof value === "number" && Number.isInteger(value)) {
    hint = "; numbers beyond ±(2**53 - 1) may already be rounded, so pass a BigInt (e.g. 2n ** 63n - 1n)";
  } else if (typeof value === "number" && !Number.isInteger(value) && codec.accepts.startsWith("an integer")) {
    hint = "; round it first (Math.trunc, Math.round)";
  }
  return new TypeError(`${where}: type code '${codec.code}' (${codec.ctype}) takes ${codec.accepts}; got ${describe(value)}${hint}`);
}

// Ties each view's lifetime to its owner: while a program holds `.array`, the object (and so
// its reference on the block) stays alive, and the finalizer cannot free memory still in use.
const viewOwners = new WeakMap<object, object>();

// ---------------------------------------------------------------- lock option

/** The `lock` option of Value and SharedArray. */
export interface SynchronizedOptions<L extends Acquirable = Acquirable> {
  /**
   * true (default; also undefined or null): a new RLock, as in Python.
   * false: no lock — getLock(), acquire(), withLock() … throw ValueError.
   * A Lock or RLock (any forkless Acquirable works): used as is; several values may share it.
   */
  lock?: boolean | null | L;
}

function lockOption(options: unknown, where: string): Acquirable | boolean {
  if (options === undefined || options === null) return true;
  if (typeof options !== "object") {
    throw new TypeError(`${where}: options must be an object like { lock: false }; got ${describe(options)}`);
  }
  const lock = (options as SynchronizedOptions).lock;
  if (lock === undefined || lock === null || lock === true) return true;
  if (lock === false) return false;
  if (lock instanceof Acquirable) {
    if (lock.closed) throw new ClosedError(`${where}: the lock given is closed in this thread`);
    return lock;
  }
  throw new TypeError(
    `${where}: lock must be true (a new RLock), false (no lock), or a forkless Lock or RLock; got ${describe(lock)}`,
  );
}

function noLock(name: string, method: string): ValueError {
  return new ValueError(
    `${name}.${method}: this ${name} was created with { lock: false } and has no lock (Python: "has no attribute get_lock"); ` +
      "create it with lock: true (the default) or an existing Lock, or guard it with a lock of your own",
  );
}

/** Revives the lock named in a Value/SharedArray handle (with the same adoption rules as the object). */
function reviveLock(handle: Handle, expected: string): Acquirable | undefined {
  const lockHandle = handle.lock;
  if (lockHandle === undefined) return undefined;
  if (!isHandle(lockHandle)) {
    throw new HandleError(`${expected}.fromHandle: the handle's lock is not a handle; it was not made by ${expected}.toHandle()`);
  }
  const lock = reviveHandle(lockHandle);
  if (!(lock instanceof Acquirable)) {
    lock.close();
    throw new HandleError(`${expected}.fromHandle: the handle's lock names a ${lockHandle.$forkless}, which cannot be acquired`);
  }
  return lock;
}

function makeLock<L extends Acquirable>(choice: Acquirable | boolean): { lock: L | undefined; owns: boolean } {
  if (choice === true) return { lock: new RLock() as unknown as L, owns: true };
  if (choice === false) return { lock: undefined, owns: false };
  return { lock: choice as L, owns: false };
}

// What Value and SharedArray add to RawValue and RawArray (Python's SynchronizedBase): one lock,
// owned (created or revived here, closed with the object) or lent by the caller.

/** The lock methods Value and SharedArray both have (installed on both by `synchronize`). */
export interface Synchronized<L extends Acquirable> {
  /** The lock (Python's get_lock()); ValueError when created with { lock: false }. */
  getLock(): L;
  /** The lock's acquire({ block, timeout }). */
  acquire(options?: AcquireOptions): boolean;
  acquireAsync(options?: { timeout?: number }): Promise<boolean>;
  release(): void;
  /** Runs fn holding the lock (Python's `with v.get_lock():`); an async fn keeps it until it settles. */
  withLock<R>(fn: () => R): R;
  withLockAsync<R>(fn: () => R | Promise<R>): Promise<R>;
  /** `using _ = v.hold();` */
  hold(options?: AcquireOptions): Held;
  holdAsync(options?: { timeout?: number }): Promise<Held>;
}

interface LockHolder {
  _lock: Acquirable | undefined;
  _ownsLock: boolean;
  _raw: SharedObject | undefined;
  _live(): number;
  close(): void;
}

/** Constructor part: takes the lock chosen by the options, or closes the object and rethrows. */
function takeLock(self: object, choice: Acquirable | boolean): void {
  const me = self as unknown as LockHolder;
  me._raw = undefined;
  try {
    const { lock, owns } = makeLock(choice);
    me._lock = lock;
    me._ownsLock = owns;
    if (owns) lock?._ownedBy();
  } catch (error) {
    me._lock = undefined;
    me._ownsLock = false;
    me.close();
    throw error;
  }
}

/** fromHandle part, before _open: no lock yet, so a failed open closes cleanly. */
function noLockYet(self: object): void {
  const me = self as unknown as LockHolder;
  me._lock = undefined;
  me._ownsLock = false;
  me._raw = undefined;
}

/** fromHandle part, after _open: revives the lock the handle names, or closes the object and rethrows. */
function reviveLockInto(self: object, handle: Handle, expected: string): void {
  const me = self as unknown as LockHolder;
  try {
    me._lock = reviveLock(handle, expected);
    me._lock?._ownedBy();
    me._ownsLock = true;
  } catch (error) {
    me.close();
    throw error;
  }
}

function lockExtras(self: object): Record<string, unknown> {
  const lock = (self as unknown as LockHolder)._lock;
  return lock ? { lock: lock.toHandle() } : {};
}

/** close() part, after the object's own: its lock-free view and the lock if owned. */
function closeLock(self: object): void {
  const me = self as unknown as LockHolder;
  me._raw?.close();
  me._raw = undefined;
  if (me._ownsLock) me._lock?.close();
}

/** A message carrying the object carries its lock too (the handle names it). */
function lockTransitBlocks(self: object, into: [number, number, number][]): void {
  (self as unknown as LockHolder)._lock?._transitBlocks(into);
}

function needLock(self: object, method: string): Acquirable {
  const me = self as unknown as LockHolder;
  me._live();
  if (me._lock === undefined) throw noLock(self.constructor.name, method);
  return me._lock;
}

/** Gives a class the Synchronized methods, each delegating to its lock. */
function synchronize(cls: { prototype: object }): void {
  const methods: Record<string, (this: object, ...args: any[]) => unknown> = {
    getLock() {
      return needLock(this, "getLock");
    },
    acquire(options?: AcquireOptions) {
      return needLock(this, "acquire").acquire(options);
    },
    acquireAsync(options?: { timeout?: number }) {
      return needLock(this, "acquireAsync").acquireAsync(options);
    },
    release() {
      needLock(this, "release").release();
    },
    withLock(fn: () => unknown) {
      return needLock(this, "withLock").withLock(fn);
    },
    withLockAsync(fn: () => unknown) {
      return needLock(this, "withLockAsync").withLockAsync(fn);
    },
    hold(options?: AcquireOptions) {
      return needLock(this, "hold").hold(options);
    },
    holdAsync(options?: { timeout?: number }) {
      return needLock(this, "holdAsync").holdAsync(options);
    },
  };
  for (const [name, method] of Object.entries(methods)) {
    Object.defineProperty(cls.prototype, name, { value: method, writable: true, configurable: true });
  }
}

// ---------------------------------------------------------------- shared plumbing

interface DataObject {
  _codec: Codec;
  _view: any;
  _length: number;
}

/** Writes the header of a freshly allocated block and binds the view. */
function initBlock(self: SharedObject & DataObject, codec: Codec, length: number): void {
  const me = self as any;
  const p: number = me._p;
  const i32: Int32Array = me._rt.int32();
  i32[p >> 2] = codec.code.charCodeAt(0);
  i32[(p >> 2) + 1] = length;
  bindView(self, codec, length);
}

/** Reads the header of an opened block, checks it against the block's size, binds the view. */
function openBlock(self: SharedObject & DataObject, expected: string): void {
  const me = self as any;
  const p: number = me._p;
  const i32: Int32Array = me._rt.int32();
  const codec = CODECS.get(String.fromCharCode(i32[p >> 2]));
  const length = i32[(p >> 2) + 1] >>> 0;
  if (!codec || META + length * codec.size > me._ex.block_capacity(p)) {
    self.close();
    throw new HandleError(`${expected}.fromHandle: the block the handle names is damaged (bad type code or length)`);
  }
  bindView(self, codec, length);
}

function bindView(self: SharedObject & DataObject, codec: Codec, length: number): void {
  const me = self as any;
  const view = new codec.ctor(me._rt.memory.buffer, me._p + META, length);
  self._codec = codec;
  self._view = view;
  self._length = length;
  viewOwners.set(view, self);
}

function allocateData(self: SharedObject, kind: Kind, codec: Codec, length: number, where: string): void {
  const bytes = length * codec.size;
  if (bytes > MAX_DATA_BYTES) {
    throw new RangeError(
      `${where}: ${length} elements of '${codec.code}' need ${bytes} bytes; one shared block holds at most ${MAX_DATA_BYTES} bytes ` +
        `(${Math.floor(MAX_DATA_BYTES / codec.size)} elements of '${codec.code}')`,
    );
  }
  (self as any)._allocate(kind, META + bytes);
}

// ---------------------------------------------------------------- RawValue

/**
 * One C value in shared memory, without a lock (Python's `RawValue(typecode, initial)`).
 * `.value` reads and writes it in place; integer codes use Atomics.load/store, so other
 * threads see a write at once and never a torn value. Read-modify-write (`v.value++`) is
 * not atomic: use a Value and `withLock()` for that.
 */
export class RawValue<T extends TypeCode = TypeCode> extends SharedObject {
  static override readonly handleKind: string = "RawValue";
  /** @internal */ declare _codec: Codec;
  /** @internal */ declare _view: any;
  /** @internal */ declare _length: number;

  /** @param initial defaults to zero (0, 0n, or "\0" for 'c' and 'u'). */
  constructor(typecode: T, initial?: InputOf<T>) {
    super();
    const name = new.target.name;
    const codec = codecFor(typecode, name);
    allocateData(this, Kind.Value, codec, 1, name);
    initBlock(this, codec, 1);
    if (initial !== undefined && !codec.put(this._view, 0, initial)) {
      const error = badValue(codec, initial, `${name}: the initial value`);
      this.close();
      throw error;
    }
  }

  static fromHandle<T extends TypeCode = TypeCode>(handle: Handle): RawValue<T> {
    const value = Object.create(RawValue.prototype) as RawValue<T>;
    value._open(Kind.Value, handle, "RawValue");
    openBlock(value, "RawValue");
    return value;
  }

  /** The value in shared memory. */
  get value(): ElementOf<T> {
    if (this._p === 0) throw this._closedError();
    return this._codec.get(this._view, 0);
  }

  set value(v: InputOf<T>) {
    if (this._p === 0) throw this._closedError();
    if (!this._codec.put(this._view, 0, v)) throw badValue(this._codec, v, `${this.constructor.name}.value`);
  }

  /** The type code it was created with ('i', 'd', …). */
  get typecode(): T {
    this._live();
    return this._codec.code as T;
  }

  toString(): string {
    if (this._p === 0) return `${this.constructor.name}(closed)`;
    const v = this.value as unknown;
    return `${this.constructor.name}('${this._codec.code}', ${typeof v === "string" ? JSON.stringify(v) : typeof v === "bigint" ? `${v}n` : v})`;
  }
}
registerKind("RawValue", (h) => RawValue.fromHandle(h));

// ---------------------------------------------------------------- Value

/**
 * One C value in shared memory guarded by a lock (Python's `Value(typecode, initial, lock=True)`).
 * `.value` alone is a single atomic read or write (integer codes) and does not take the lock
 * (Python's wrapper takes it for each access; that protects no more, since `v.value += 1` is
 * still two accesses). Hold the lock for read-modify-write:
 *
 * ```ts
 * const counter = new Value("i", 0);
 * counter.withLock(() => counter.value++);         // Python: with counter.get_lock(): counter.value += 1
 * ```
 *
 * Cross threads with `toHandle()` / `Value.fromHandle(handle)`; the lock travels with it.
 */
export interface Value<T extends TypeCode = TypeCode, L extends Acquirable = RLock> extends Synchronized<L> {}
export class Value<T extends TypeCode = TypeCode, L extends Acquirable = RLock> extends RawValue<T> {
  static override readonly handleKind: string = "Value";
  declare private _lock: L | undefined;
  declare private _ownsLock: boolean;
  declare private _raw: RawValue<T> | undefined;

  /**
   * @param initial defaults to zero.
   * @param options `{ lock }`: true (default) a new RLock, false none, or a Lock/RLock to share.
   */
  constructor(typecode: T, initial?: InputOf<T>, options?: SynchronizedOptions<L>) {
    const choice = lockOption(options, new.target.name);
    super(typecode, initial);
    takeLock(this, choice);
  }

  static override fromHandle<T extends TypeCode = TypeCode, L extends Acquirable = Acquirable>(handle: Handle): Value<T, L> {
    const value = Object.create(Value.prototype) as Value<T, L>;
    noLockYet(value);
    value._open(Kind.Value, handle, "Value");
    openBlock(value, "Value");
    reviveLockInto(value, handle, "Value");
    return value;
  }

  protected override _handleExtras(): Record<string, unknown> {
    return lockExtras(this);
  }

  /** Drops this thread's reference, and the lock's if this Value created or revived it. */
  override close(): void {
    if (this.closed) return;
    super.close();
    closeLock(this);
  }

  override _transitBlocks(into: [number, number, number][]): void {
    super._transitBlocks(into);
    lockTransitBlocks(this, into);
  }

  /** The value without its lock, on the same memory (Python's get_obj()). Closed with this Value. */
  getObj(): RawValue<T> {
    this._live();
    if (this._raw === undefined || this._raw.closed) {
      this._raw = RawValue.fromHandle<T>({ $forkless: "RawValue", p: this._p, g: this._g })._ownedBy();
    }
    return this._raw;
  }
}
synchronize(Value);
registerKind("Value", (h) => Value.fromHandle(h));

// ---------------------------------------------------------------- RawArray

/** What SharedArray / RawArray accept besides a size. */
export type Initializer<T extends TypeCode> = Iterable<InputOf<T>> | ArrayLike<InputOf<T>>;

function normalizeIndex(i: unknown, length: number, where: string): number {
  if (typeof i !== "number" || !Number.isInteger(i)) {
    throw new TypeError(`${where}: the index must be an integer; got ${describe(i)}`);
  }
  const j = i < 0 ? i + length : i;
  if (j < 0 || j >= length) {
    throw new RangeError(`${where}: index ${i} is out of range for length ${length} (valid: 0 … ${length - 1}, or -${length} … -1 from the end)`);
  }
  return j;
}

function clampSliceIndex(i: unknown, length: number, fallback: number, where: string): number {
  if (i === undefined) return fallback;
  if (typeof i !== "number" || Number.isNaN(i)) throw new TypeError(`${where}: start and end must be numbers; got ${describe(i)}`);
  const n = Math.trunc(i);
  return n < 0 ? Math.max(0, n + length) : Math.min(n, length);
}

/** Turns the size-or-initializer argument into a length and (maybe) a list of values. */
function sizeOrValues(arg: unknown, where: string): { length: number; values?: ArrayLike<unknown> } {
  if (typeof arg === "number") {
    if (!Number.isInteger(arg) || arg < 0) {
      throw new RangeError(`${where}: the size must be an integer ≥ 0; got ${describe(arg)}`);
    }
    return { length: arg };
  }
  if (typeof arg === "string") return { length: 0, values: Array.from(arg) };
  if (typeof arg === "object" && arg !== null) {
    if (ArrayBuffer.isView(arg) && !(arg instanceof DataView)) return { length: 0, values: arg as unknown as ArrayLike<unknown> };
    if (Array.isArray(arg)) return { length: 0, values: arg };
    if (typeof (arg as any)[Symbol.iterator] === "function" || typeof (arg as any).length === "number") {
      return { length: 0, values: Array.from(arg as Iterable<unknown>) };
    }
  }
  throw new TypeError(
    `${where}: expected a size (an integer ≥ 0) or an initializer (an array, typed array, string or other iterable); got ${describe(arg)}`,
  );
}

/**
 * A fixed-length C array in shared memory, without a lock (Python's `RawArray(typecode, size_or_initializer)`).
 *
 * - `.array` is the typed array over the shared memory itself: the fastest access, with
 *   typed-array semantics (no checks; 'c' and 'u' arrays expose raw char codes). Do not keep it
 *   after close(): the memory may then be reused by another object.
 * - `get(i)` / `set(i, v)` check the index (negative counts from the end, as in Python) and the
 *   value's type; integer codes use Atomics.load/store.
 * - `slice()`, `toArray()`, iteration and `fill()` visit elements one at a time: they are not
 *   atomic as a whole; hold a lock for a consistent snapshot.
 *
 * There is no `a[0]` index access: it would need a Proxy, which would slow every property
 * access on the object, `.array` included. Use `a.array[0]` or `a.get(0)`.
 */
export class RawArray<T extends TypeCode = TypeCode> extends SharedObject {
  static override readonly handleKind: string = "RawArray";
  /** @internal */ declare _codec: Codec;
  /** @internal */ declare _view: any;
  /** @internal */ declare _length: number;

  /** @param sizeOrInitializer a length (zeros), or values to copy: an array, typed array, string or iterable. */
  constructor(typecode: T, sizeOrInitializer: number | Initializer<T>) {
    super();
    const name = new.target.name;
    const codec = codecFor(typecode, name);
    const { length, values } = sizeOrValues(sizeOrInitializer, name);
    const n = values ? values.length : length;
    allocateData(this, Kind.SharedArray, codec, n, name);
    initBlock(this, codec, n);
    if (values) {
      const view = this._view;
      if (values instanceof codec.ctor) {
        view.set(values);
      } else {
        for (let i = 0; i < n; i++) {
          if (!codec.put(view, i, values[i])) {
            const error = badValue(codec, values[i], `${name}: element ${i} of the initializer`);
            this.close();
            throw error;
          }
        }
      }
    }
  }

  static fromHandle<T extends TypeCode = TypeCode>(handle: Handle): RawArray<T> {
    const array = Object.create(RawArray.prototype) as RawArray<T>;
    array._open(Kind.SharedArray, handle, "RawArray");
    openBlock(array, "RawArray");
    return array;
  }

  /** The number of elements (fixed at creation). */
  get length(): number {
    if (this._p === 0) throw this._closedError();
    return this._length;
  }

  /** The type code it was created with. */
  get typecode(): T {
    this._live();
    return this._codec.code as T;
  }

  /** The typed array over the shared elements, for fast direct access: `a.array[i] += 1`. */
  get array(): TypedArrayOf<T> {
    if (this._p === 0) throw this._closedError();
    return this._view;
  }

  /** Element i (negative i counts from the end). */
  get(i: number): ElementOf<T> {
    if (this._p === 0) throw this._closedError();
    if (!(typeof i === "number" && (i >>> 0) === i && i < this._length)) i = normalizeIndex(i, this._length, `${this.constructor.name}.get`);
    return this._codec.get(this._view, i);
  }

  /** Sets element i (negative i counts from the end); TypeError if v does not fit the type code. */
  set(i: number, v: InputOf<T>): void {
    if (this._p === 0) throw this._closedError();
    if (!(typeof i === "number" && (i >>> 0) === i && i < this._length)) i = normalizeIndex(i, this._length, `${this.constructor.name}.set`);
    if (!this._codec.put(this._view, i, v)) throw badValue(this._codec, v, `${this.constructor.name}.set(${i})`);
  }

  /** A plain array copy of elements start … end-1 (Array.prototype.slice rules; Python's a[start:end]). */
  slice(start?: number, end?: number): ElementOf<T>[] {
    this._live();
    const where = `${this.constructor.name}.slice`;
    const n = this._length;
    const from = clampSliceIndex(start, n, 0, where);
    const to = clampSliceIndex(end, n, n, where);
    const out: ElementOf<T>[] = [];
    const { get } = this._codec;
    const view = this._view;
    for (let i = from; i < to; i++) out.push(get(view, i));
    return out;
  }

  /** A plain array copy of every element (Python's a[:]). */
  toArray(): ElementOf<T>[] {
    return this.slice();
  }

  /** Sets elements start … end-1 (default: all) to v, like TypedArray.fill. */
  fill(v: InputOf<T>, start?: number, end?: number): this {
    this._live();
    const where = `${this.constructor.name}.fill`;
    const n = this._length;
    const from = clampSliceIndex(start, n, 0, where);
    const to = clampSliceIndex(end, n, n, where);
    const codec = this._codec;
    if (from >= to) {
      // Still refuse a value of the wrong type, even when nothing would be written.
      const probe = new codec.ctor(new ArrayBuffer(codec.size), 0, 1);
      if (!codec.put(probe, 0, v)) throw badValue(codec, v, where);
      return this;
    }
    const view = this._view;
    if (!codec.put(view, from, v)) throw badValue(codec, v, where);
    if (to - from > 1) view.fill(view[from], from + 1, to);
    return this;
  }

  /** Iterates over the elements, reading each from shared memory as it goes. */
  *[Symbol.iterator](): IterableIterator<ElementOf<T>> {
    for (let i = 0; i < this.length; i++) yield this._codec.get(this._view, i);
  }

  toString(): string {
    if (this._p === 0) return `${this.constructor.name}(closed)`;
    const shown = this.slice(0, 20).map((v: unknown) => (typeof v === "string" ? JSON.stringify(v) : typeof v === "bigint" ? `${v}n` : String(v)));
    if (this._length > 20) shown.push(`… ${this._length - 20} more`);
    return `${this.constructor.name}('${this._codec.code}', [${shown.join(", ")}])`;
  }
}
registerKind("RawArray", (h) => RawArray.fromHandle(h));

// ---------------------------------------------------------------- SharedArray

/**
 * A fixed-length C array in shared memory guarded by a lock (Python's
 * `Array(typecode, size_or_initializer, lock=True)`; exported as both `SharedArray` and `Array`).
 * Element access does not take the lock; hold it for anything that must be atomic as a whole:
 *
 * ```ts
 * const a = new SharedArray("d", 10);
 * a.withLock(() => { for (let i = 0; i < a.length; i++) a.array[i] += 1; });
 * ```
 */
export interface SharedArray<T extends TypeCode = TypeCode, L extends Acquirable = RLock> extends Synchronized<L> {}
export class SharedArray<T extends TypeCode = TypeCode, L extends Acquirable = RLock> extends RawArray<T> {
  static override readonly handleKind: string = "SharedArray";
  declare private _lock: L | undefined;
  declare private _ownsLock: boolean;
  declare private _raw: RawArray<T> | undefined;

  /**
   * @param sizeOrInitializer a length (zeros), or values to copy: an array, typed array, string or iterable.
   * @param options `{ lock }`: true (default) a new RLock, false none, or a Lock/RLock to share.
   */
  constructor(typecode: T, sizeOrInitializer: number | Initializer<T>, options?: SynchronizedOptions<L>) {
    const choice = lockOption(options, new.target.name);
    super(typecode, sizeOrInitializer);
    takeLock(this, choice);
  }

  static override fromHandle<T extends TypeCode = TypeCode, L extends Acquirable = Acquirable>(handle: Handle): SharedArray<T, L> {
    const array = Object.create(SharedArray.prototype) as SharedArray<T, L>;
    noLockYet(array);
    array._open(Kind.SharedArray, handle, "SharedArray");
    openBlock(array, "SharedArray");
    reviveLockInto(array, handle, "SharedArray");
    return array;
  }

  protected override _handleExtras(): Record<string, unknown> {
    return lockExtras(this);
  }

  /** Drops this thread's reference, and the lock's if this array created or revived it. */
  override close(): void {
    if (this.closed) return;
    super.close();
    closeLock(this);
  }

  override _transitBlocks(into: [number, number, number][]): void {
    super._transitBlocks(into);
    lockTransitBlocks(this, into);
  }

  /** The array without its lock, on the same memory (Python's get_obj()). Closed with this array. */
  getObj(): RawArray<T> {
    this._live();
    if (this._raw === undefined || this._raw.closed) {
      this._raw = RawArray.fromHandle<T>({ $forkless: "RawArray", p: this._p, g: this._g })._ownedBy();
    }
    return this._raw;
  }
}
synchronize(SharedArray);
registerKind("SharedArray", (h) => SharedArray.fromHandle(h));
