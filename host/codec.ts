// The value codec of queues and pipes: any value structured clone accepts becomes bytes
// (to cross a ring buffer in shared memory) and back again, exactly; forkless objects
// travel as handles and arrive live. Plain JavaScript only: no eval, no Function
// constructor, no Buffer, so it runs under a strict Content-Security-Policy in browsers.
//
// Format: one value, written depth first. Its first byte is a tag:
//   0x00-0x3f  the integers 0..63
//   0x40-0x5f  an ASCII string of 0..31 characters, its bytes following
//   0x60-0x84  every other kind (enum T below)
// Every object (arrays, buffers, views, errors, forkless objects included) takes the next
// id in the order it is first met; meeting it again writes T.Ref and that id, which keeps
// shared references and cycles. A message that holds forkless objects starts with
// T.SharedHeader and the length of its body; their handles follow the body, so the
// encoder asks for them (refs.retain) only once the whole value is known to be sendable,
// and the decoder revives them (once each) before it reads the body.
// Multi-byte numbers are little-endian. The format is private to one build of forkless:
// both ends of a queue run the same code, so it carries no version.
import { SharedObject, type Handle } from "./handles";

/** How the codec turns forkless objects into handles, and handles back into live objects. */
export interface SharedRefs {
  retain(object: SharedObject): Handle;
  revive(handle: Handle): SharedObject;
}

/** A value that cannot be sent to another process; the message names where it is. */
export class UnsupportedValueError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = "UnsupportedValueError";
  }
}

// ---------------------------------------------------------------------------------------
// Tags. (const enum: esbuild inlines the numbers, so the hot paths compare literals.)

const enum T {
  FixIntMax = 0x3f,
  FixAscii = 0x40, // + length 0..31
  FixAsciiEnd = 0x60,
  Undefined = 0x60,
  Null = 0x61,
  False = 0x62,
  True = 0x63,
  Int8 = 0x64,
  Int16 = 0x65,
  Int32 = 0x66,
  Float64 = 0x67,
  Ascii8 = 0x68, // u8 length, bytes
  Ascii32 = 0x69, // u32 length, bytes
  Utf8 = 0x6a, // u32 byte length, UTF-8 of a well-formed string
  Utf16 = 0x6b, // u32 code units, UTF-16LE (any string, lone surrogates included)
  BigInt64 = 0x6c, // i64
  BigInt = 0x6d, // sign byte, u32 length, hex digits of the magnitude
  Object = 0x6e, // (key, value)* End
  ObjectNull = 0x6f, // same, null prototype
  Array = 0x70, // u32 length, length × (value | Hole), (key, value)* End
  SparseArray = 0x71, // u32 length, (key, value)* End
  Hole = 0x72,
  End = 0x73,
  Ref = 0x74, // u32 id
  Map = 0x75, // (key, value)* End
  Set = 0x76, // value* End
  Date = 0x77, // f64
  RegExp = 0x78, // source string, flags string
  ArrayBuffer = 0x79, // u32 length, bytes
  ResizableArrayBuffer = 0x7a, // u32 length, f64 maxByteLength, bytes
  View = 0x7b, // u8 type, buffer value, u32 byteOffset, u32 length (elements; bytes for DataView)
  Error = 0x7c, // u8 kind, u8 flags, [name], [message], [stack], [cause value], [errors value]
  NumberObject = 0x7d, // f64
  StringObject = 0x7e, // string value
  FalseObject = 0x7f,
  TrueObject = 0x80,
  BigIntObject = 0x81, // bigint value
  Shared = 0x82, // u32 slot in the trailer
  SharedHeader = 0x83, // u32 body length; body; trailer: u32 count, count × handle value
  Utf16WellFormed = 0x84, // as Utf16, known to hold no lone surrogate
}

// Error flags.
const enum EF {
  Name = 1,
  Message = 2,
  Stack = 4,
  Cause = 8,
  Errors = 16,
}

// ---------------------------------------------------------------------------------------
// Tuning, measured on Node 20, 22 and 24 (bench/codec-compare.mjs --strings shows the string costs).

/** Strings shorter than this are tried as ASCII by a plain loop (up to 31 with the length in the tag). */
const SHORT_STRING = 32;
/**
 * From this length on, well-formed strings go through TextEncoder.encodeInto as UTF-8,
 * unless that takes more than 1.25 bytes a character (then UTF-16 is smaller, and decodes
 * faster); shorter non-ASCII strings, and any string with a lone surrogate, are UTF-16.
 */
const LONG_STRING = 48;
/** ASCII strings at least this long are decoded with TextDecoder rather than fromCharCode. */
const DECODE_ASCII_NATIVE = 40;
/**
 * UTF-16 strings at least this long are decoded natively: TextDecoder when they are known
 * to be well-formed (it would replace lone surrogates), else fromCharCode.apply in chunks.
 */
const DECODE_UTF16_NATIVE = 24;
/** Keys up to this length go through the decode-side key cache. */
const KEY_CACHE_MAX = 24;
const KEY_CACHE_SIZE = 4096; // power of two
/** Up to this many objects, the id table is searched linearly; beyond, a Map is built. */
const LINEAR_IDS = 24;
/**
 * Arrays up to this length are enumerated with Object.keys, to send their non-index
 * properties (as structured clone does) and to find sparse ones. Enumerating an array's
 * keys costs V8 about 15 ns per element (0.2-0.5 s for a million), so longer arrays are
 * walked by index: holes are kept, sparse arrays found by counting holes, but
 * non-index properties of long dense arrays are not sent.
 */
const ARRAY_KEYS_MAX = 64;
/** A long array that shows more holes than this (and more holes than elements) is sent sparse. */
const SPARSE_HOLES = 256;
const INITIAL_BYTES = 256;
/**
 * A buffer grown past this is dropped at the next encode() unless the previous message filled a
 * quarter of it: one huge message does not pin memory, a stream of large ones does not regrow
 * (and first-touch) a buffer from 256 bytes for every message.
 */
const RETAINED_BYTES = 1 << 20;
const MAX_BYTES = 0xffffffff;

// ---------------------------------------------------------------------------------------
// Intrinsics, taken once (a program may patch prototypes later; brand checks use these).

const objectProto = Object.prototype;
const getProto = Object.getPrototypeOf;
const objectKeys = Object.keys;
const hasOwn = (Object as any).hasOwn as (o: object, k: PropertyKey) => boolean;
const defineProperty = Object.defineProperty;
const getOwnDescriptor = Object.getOwnPropertyDescriptor;
const isArray = Array.isArray;
const isView = ArrayBuffer.isView;
const toStringTag = objectProto.toString;
const fromCharCode = String.fromCharCode;

function getter(proto: object, name: PropertyKey): ((this: any) => any) | undefined {
  return getOwnDescriptor(proto, name)?.get;
}
const typedArrayProto = getProto(Uint8Array.prototype);
const typedArrayName = getter(typedArrayProto, Symbol.toStringTag)!;
const typedArrayBuffer = getter(typedArrayProto, "buffer")!;
const typedArrayByteOffset = getter(typedArrayProto, "byteOffset")!;
const typedArrayLength = getter(typedArrayProto, "length")!;
const dataViewBuffer = getter(DataView.prototype, "buffer")!;
const dataViewByteOffset = getter(DataView.prototype, "byteOffset")!;
const dataViewByteLength = getter(DataView.prototype, "byteLength")!;
const arrayBufferByteLength = getter(ArrayBuffer.prototype, "byteLength")!;
const arrayBufferResizable = getter(ArrayBuffer.prototype, "resizable");
const arrayBufferMaxByteLength = getter(ArrayBuffer.prototype, "maxByteLength");
const arrayBufferDetached = getter(ArrayBuffer.prototype, "detached");
const SAB: typeof SharedArrayBuffer | undefined = typeof SharedArrayBuffer === "function" ? SharedArrayBuffer : undefined;
const sabByteLength = SAB ? getter(SAB.prototype, "byteLength") : undefined;
const dateGetTime = Date.prototype.getTime;
const regExpSource = getter(RegExp.prototype, "source")!;
const regExpFlags = getter(RegExp.prototype, "flags")!;
const mapSize = getter(Map.prototype, "size")!;
const setSize = getter(Set.prototype, "size")!;
const mapForEach = Map.prototype.forEach;
const setForEach = Set.prototype.forEach;
const numberValueOf = Number.prototype.valueOf;
const stringValueOf = String.prototype.valueOf;
const booleanValueOf = Boolean.prototype.valueOf;
const bigIntValueOf = typeof BigInt === "function" ? BigInt.prototype.valueOf : undefined;
const symbolValueOf = Symbol.prototype.valueOf;
const weakMapHas = typeof WeakMap === "function" ? WeakMap.prototype.has : undefined;
const weakSetHas = typeof WeakSet === "function" ? WeakSet.prototype.has : undefined;
const weakRefDeref = typeof WeakRef === "function" ? WeakRef.prototype.deref : undefined;
const isErrorIntrinsic: ((v: unknown) => boolean) | undefined = (Error as any).isError;
const DOMExceptionCtor: any = typeof (globalThis as any).DOMException === "function" ? (globalThis as any).DOMException : undefined;
const MessagePortCtor: any = typeof (globalThis as any).MessagePort === "function" ? (globalThis as any).MessagePort : undefined;
const isWellFormedIntrinsic: ((this: string) => boolean) | undefined = (String.prototype as any).isWellFormed;

const utf8Encoder = new TextEncoder();
// ignoreBOM: a string that starts with U+FEFF must keep it.
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const utf16Decoder = new TextDecoder("utf-16le", { ignoreBOM: true });
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Calls an intrinsic that checks its receiver's internal slots: true if v has them. */
function hasBrand(method: ((this: any, ...args: any[]) => any) | undefined, v: object, arg?: unknown): boolean {
  if (method === undefined) return false;
  try {
    method.call(v, arg);
    return true;
  } catch {
    return false;
  }
}

/** A Map's entries as [key, value, key, value, ...], read from its internal slots (subclasses may override iteration). */
function mapEntries(m: object): unknown[] {
  const list: unknown[] = [];
  mapForEach.call(m, (x: unknown, k: unknown) => list.push(k, x));
  return list;
}

function setItems(s: object): unknown[] {
  const list: unknown[] = [];
  setForEach.call(s, (x: unknown) => list.push(x));
  return list;
}

function isPolluted(): boolean {
  for (const _ in objectProto) return true;
  return false;
}

function isWellFormed(s: string): boolean {
  if (isWellFormedIntrinsic !== undefined) return isWellFormedIntrinsic.call(s);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) {
      if (c >= 0xdc00) return false;
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    }
  }
  return true;
}

// Typed array kinds, by the name their @@toStringTag getter reports (a brand check).
const viewCtors: (Function | undefined)[] = [
  DataView,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  typeof BigInt64Array === "function" ? BigInt64Array : undefined,
  typeof BigUint64Array === "function" ? BigUint64Array : undefined,
  (globalThis as any).Float16Array,
];
const viewCodes = new Map<string, number>();
for (let i = 1; i < viewCtors.length; i++) if (viewCtors[i]) viewCodes.set((viewCtors[i] as Function).name, i);

const errorCtors: (ErrorConstructor | undefined)[] = [
  Error,
  EvalError,
  RangeError,
  ReferenceError,
  SyntaxError,
  TypeError,
  URIError,
  typeof AggregateError === "function" ? (AggregateError as any) : undefined,
];
const errorNames = ["Error", "EvalError", "RangeError", "ReferenceError", "SyntaxError", "TypeError", "URIError", "AggregateError"];
const ERROR_DOMEXCEPTION = 8;
const errorKindByName = new Map<string, number>();
errorNames.forEach((name, i) => errorKindByName.set(name, i));

// ---------------------------------------------------------------------------------------
// Classifying the objects that are neither plain objects nor arrays.

const enum K {
  Plain = 1,
  NullProto,
  View,
  ArrayBuffer,
  Date,
  RegExp,
  Map,
  Set,
  Error,
  Number,
  String,
  Boolean,
  BigInt,
  // Refused (negative).
  RFunction = -1,
  RSymbol = -2,
  RSymbolObject = -3,
  RWeakMap = -4,
  RWeakSet = -5,
  RWeakRef = -6,
  RPromise = -7,
  RSharedArrayBuffer = -8,
  RSharedView = -9,
  RDetached = -10,
  RMessagePort = -11,
  RHost = -12,
}

function isError(v: object): boolean {
  if (isErrorIntrinsic !== undefined) return isErrorIntrinsic(v);
  return v instanceof Error;
}

/** What kind of value v is, for objects that are not plain objects, arrays or SharedObjects. */
function classify(v: object): K {
  if (isView(v)) {
    const buffer = typedArrayName.call(v) === undefined ? dataViewBuffer.call(v) : typedArrayBuffer.call(v);
    return isSharedArrayBuffer(buffer) ? K.RSharedView : K.View;
  }
  const tag: string = toStringTag.call(v);
  switch (tag) {
    case "[object Object]":
      return getProto(v) === null ? K.NullProto : K.Plain;
    case "[object Array]":
      return K.Plain; // an array from another realm is caught by isArray before; a Proxy lands here
    case "[object Date]":
      return hasBrand(dateGetTime, v) ? K.Date : K.Plain;
    case "[object RegExp]":
      return hasBrand(regExpSource, v) && v !== RegExp.prototype ? K.RegExp : K.Plain;
    case "[object Map]":
      return hasBrand(mapSize, v) ? K.Map : K.Plain;
    case "[object Set]":
      return hasBrand(setSize, v) ? K.Set : K.Plain;
    case "[object ArrayBuffer]":
      if (!hasBrand(arrayBufferByteLength, v)) return K.Plain;
      return arrayBufferDetached !== undefined && arrayBufferDetached.call(v) === true ? K.RDetached : K.ArrayBuffer;
    case "[object SharedArrayBuffer]":
      return hasBrand(sabByteLength, v) ? K.RSharedArrayBuffer : K.Plain;
    case "[object Error]":
      return isError(v) ? K.Error : K.Plain;
    case "[object Number]":
      return hasBrand(numberValueOf, v) ? K.Number : K.Plain;
    case "[object String]":
      return hasBrand(stringValueOf, v) ? K.String : K.Plain;
    case "[object Boolean]":
      return hasBrand(booleanValueOf, v) ? K.Boolean : K.Plain;
    case "[object BigInt]":
      return hasBrand(bigIntValueOf, v) ? K.BigInt : K.Plain;
    case "[object Symbol]":
      return hasBrand(symbolValueOf, v) ? K.RSymbolObject : K.Plain;
    case "[object WeakMap]":
      return hasBrand(weakMapHas, v, {}) ? K.RWeakMap : K.Plain;
    case "[object WeakSet]":
      return hasBrand(weakSetHas, v, {}) ? K.RWeakSet : K.Plain;
    case "[object WeakRef]":
      return hasBrand(weakRefDeref, v) ? K.RWeakRef : K.Plain;
    case "[object Promise]":
      return K.RPromise;
  }
  // Error subclasses with a tag of their own, DOMException.
  if (isError(v)) return K.Error;
  if (MessagePortCtor !== undefined && v instanceof MessagePortCtor) return K.RMessagePort;
  // Anything else that brands itself (platform objects, iterators, generators, Intl, Wasm
  // objects, module namespaces...) is refused rather than silently sent as {}.
  return K.RHost;
}

function isSharedArrayBuffer(buffer: object): boolean {
  return SAB !== undefined && !hasBrand(arrayBufferByteLength, buffer) && hasBrand(sabByteLength, buffer);
}

function article(name: string): string {
  return /^[AEIO]/.test(name) ? `an ${name}` : `a ${name}`; // a URL, a Uint8Array, an Int32Array
}

function tagName(v: object): string {
  return (toStringTag.call(v) as string).slice(8, -1);
}

function refusalMessage(kind: K, v: unknown, at: string): string {
  const cannot = "which cannot be sent to another process";
  switch (kind) {
    case K.RFunction:
      return `${at} is a function, ${cannot}`;
    case K.RSymbol:
      return `${at} is a symbol, ${cannot}`;
    case K.RSymbolObject:
      return `${at} is a Symbol object, ${cannot}`;
    case K.RWeakMap:
      return `${at} is a WeakMap, ${cannot}`;
    case K.RWeakSet:
      return `${at} is a WeakSet, ${cannot}`;
    case K.RWeakRef:
      return `${at} is a WeakRef, ${cannot}`;
    case K.RPromise:
      return `${at} is a Promise, ${cannot}; await it first`;
    case K.RSharedArrayBuffer:
      return `${at} is a SharedArrayBuffer, which cannot be sent through a queue or pipe; use postMessage or a shared Array instead`;
    case K.RSharedView:
      return `${at} is ${article(typedArrayName.call(v) ?? "DataView")} over a SharedArrayBuffer, which cannot be sent through a queue or pipe; use postMessage or a shared Array instead`;
    case K.RDetached:
      return `${at} is a detached ArrayBuffer (its contents were transferred), ${cannot}`;
    case K.RMessagePort:
      return `${at} is a MessagePort, which cannot be sent through a queue or pipe; transfer it with postMessage`;
    default:
      return `${at} is ${article(tagName(v as object))}, ${cannot}`;
  }
}

/** Thrown inside encode() on the first value that cannot be sent; encode() turns it into an UnsupportedValueError with a path. */
class Refusal {
  constructor(
    readonly kind: K,
    readonly value: unknown,
  ) {}
}

// ---------------------------------------------------------------------------------------
// Encoding.

export class Encoder {
  private buf = new Uint8Array(INITIAL_BYTES);
  private view = new DataView(this.buf.buffer);
  private pos = 0;
  /** Objects met so far, by id. */
  private objs: object[] = [];
  private count = 0;
  /** Object → id, used once there are more than LINEAR_IDS. */
  private ids = new Map<object, number>();
  private mapped = false;
  /** Forkless objects met so far, by slot. */
  private shared: SharedObject[] = [];
  private busy = false;
  /** The view returned last. */
  private out = this.buf.subarray(0, 0);
  /** Whether Object.prototype has enumerable properties (then for-in would list them). */
  private polluted = false;

  /**
   * Encodes value; returns a view of this encoder's buffer, valid until the next call.
   * Throws UnsupportedValueError, naming the path, if value holds anything that cannot be
   * sent; refs.retain() is only called once the whole value is known to be sendable.
   */
  encode(value: unknown, refs: SharedRefs): Uint8Array {
    // A getter that sends something itself: use a separate encoder.
    if (this.busy) return new Encoder().encode(value, refs);
    this.busy = true;
    if (this.buf.length > RETAINED_BYTES && this.pos < this.buf.length / 4) this.setBuffer(new Uint8Array(INITIAL_BYTES));
    this.pos = 0;
    this.polluted = isPolluted();
    try {
      this.value(value);
      if (this.shared.length !== 0) this.trailer(refs);
    } catch (error) {
      this.done();
      if (error instanceof Refusal) throw unsupported(value, error);
      throw error;
    }
    this.done();
    // Messages of one shape often have one length: reuse the last view then.
    let out = this.out;
    if (out.length !== this.pos || out.buffer !== this.buf.buffer) out = this.out = this.buf.subarray(0, this.pos);
    return out;
  }

  /** Lets go of the objects of the message. */
  private done(): void {
    if (this.count !== 0) this.forget(0);
    if (this.shared.length !== 0) this.shared.length = 0;
    this.busy = false;
  }

  private setBuffer(buf: Uint8Array<ArrayBuffer>): void {
    this.buf = buf;
    this.view = new DataView(buf.buffer);
  }

  private grow(need: number): void {
    const want = this.pos + need;
    if (want > MAX_BYTES) throw new RangeError(`forkless: a message of more than ${MAX_BYTES} bytes cannot be encoded`);
    let size = this.buf.length * 2;
    while (size < want) size *= 2;
    const buf = new Uint8Array(Math.min(size, MAX_BYTES));
    buf.set(this.buf.subarray(0, this.pos));
    this.setBuffer(buf);
  }

  /** Drops ids from `from` on (all of them at the end of encode()). */
  private forget(from: number): void {
    const objs = this.objs;
    const n = this.count;
    if (this.mapped) {
      if (from <= LINEAR_IDS) {
        this.ids.clear();
        this.mapped = false;
      } else {
        for (let i = from; i < n; i++) this.ids.delete(objs[i]);
      }
    }
    if (from === 0 && n > 4096) this.objs = [];
    else for (let i = from; i < n; i++) objs[i] = undefined as any;
    this.count = from;
  }

  private find(v: object): number {
    const n = this.count;
    if (!this.mapped) {
      const objs = this.objs;
      for (let i = 0; i < n; i++) if (objs[i] === v) return i;
      return -1;
    }
    const id = this.ids.get(v);
    return id === undefined ? -1 : id;
  }

  private remember(v: object): void {
    const n = this.count;
    const objs = this.objs;
    objs[n] = v;
    this.count = n + 1;
    if (n >= LINEAR_IDS) {
      const ids = this.ids;
      if (!this.mapped) {
        this.mapped = true;
        for (let i = 0; i < n; i++) ids.set(objs[i], i);
      }
      ids.set(v, n);
    }
  }

  private byte(b: number): void {
    if (this.pos >= this.buf.length) this.grow(1);
    this.buf[this.pos++] = b;
  }

  private u32(n: number): void {
    if (this.pos + 4 > this.buf.length) this.grow(4);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = n;
    buf[p + 1] = n >>> 8;
    buf[p + 2] = n >>> 16;
    buf[p + 3] = n >>> 24;
    this.pos = p + 4;
  }

  private f64(tag: number, x: number): void {
    if (this.pos + 9 > this.buf.length) this.grow(9);
    const p = this.pos;
    this.buf[p] = tag;
    this.view.setFloat64(p + 1, x, true);
    this.pos = p + 9;
  }

  private value(v: unknown): void {
    if (typeof v === "string") return this.string(v);
    if (typeof v === "number") return this.number(v);
    if (typeof v === "object") {
      if (v === null) return this.byte(T.Null);
      return this.object(v);
    }
    if (typeof v === "boolean") return this.byte(v ? T.True : T.False);
    if (v === undefined) return this.byte(T.Undefined);
    if (typeof v === "bigint") return this.bigint(v);
    throw new Refusal(typeof v === "function" ? K.RFunction : K.RSymbol, v);
  }

  private number(v: number): void {
    if (this.pos + 9 > this.buf.length) this.grow(9);
    const buf = this.buf;
    const p = this.pos;
    const i = v | 0;
    if (i === v) {
      if (i >>> 6 === 0) {
        if (i === 0 && 1 / v < 0) return this.f64(T.Float64, v); // -0
        buf[p] = i;
        this.pos = p + 1;
      } else if (i >= -0x80 && i < 0x80) {
        buf[p] = T.Int8;
        buf[p + 1] = i;
        this.pos = p + 2;
      } else if (i >= -0x8000 && i < 0x8000) {
        buf[p] = T.Int16;
        buf[p + 1] = i;
        buf[p + 2] = i >> 8;
        this.pos = p + 3;
      } else {
        buf[p] = T.Int32;
        buf[p + 1] = i;
        buf[p + 2] = i >> 8;
        buf[p + 3] = i >> 16;
        buf[p + 4] = i >> 24;
        this.pos = p + 5;
      }
      return;
    }
    buf[p] = T.Float64;
    this.view.setFloat64(p + 1, v, true);
    this.pos = p + 9;
  }

  private string(s: string): void {
    const n = s.length;
    if (n < SHORT_STRING) {
      if (this.pos + 1 + n > this.buf.length) this.grow(1 + n);
      const buf = this.buf;
      const start = this.pos;
      let p = start + 1;
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) return this.utf16(s, T.Utf16);
        buf[p++] = c;
      }
      buf[start] = T.FixAscii + n;
      this.pos = p;
      return;
    }
    if (n < LONG_STRING) return this.mediumString(s);
    this.longString(s);
  }

  /** An ASCII attempt by loop, else UTF-16. */
  private mediumString(s: string): void {
    const n = s.length;
    if (this.pos + 5 + n > this.buf.length) this.grow(5 + n);
    const buf = this.buf;
    const start = this.pos;
    let p: number;
    if (n < 256) {
      buf[start] = T.Ascii8;
      buf[start + 1] = n;
      p = start + 2;
    } else {
      buf[start] = T.Ascii32;
      this.view.setUint32(start + 1, n, true);
      p = start + 5;
    }
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return this.utf16(s, T.Utf16);
      buf[p++] = c;
    }
    this.pos = p;
  }

  private longString(s: string): void {
    if (!isWellFormed(s)) return this.utf16(s, T.Utf16);
    const n = s.length;
    // Eight characters in, spread over the string: mostly three-byte ones (CJK...) go
    // straight to UTF-16, without a UTF-8 attempt first.
    let wide = 0;
    for (let i = n >> 4; i < n; i += n >> 3) if (s.charCodeAt(i) >= 0x800) wide++;
    if (wide > 4) return this.utf16(s, T.Utf16WellFormed);
    // encodeInto writes at most 3 bytes per UTF-16 code unit.
    if (this.pos + 5 + 3 * n > this.buf.length) this.grow(5 + 3 * n);
    const start = this.pos;
    const { written } = utf8Encoder.encodeInto(s, this.buf.subarray(start + 5));
    if (written! > n + (n >> 2)) return this.utf16(s, T.Utf16WellFormed);
    this.buf[start] = T.Utf8;
    this.view.setUint32(start + 1, written!, true);
    this.pos = start + 5 + written!;
  }

  private utf16(s: string, tag: number): void {
    const n = s.length;
    if (this.pos + 5 + 2 * n > this.buf.length) this.grow(5 + 2 * n);
    const buf = this.buf;
    let p = this.pos;
    buf[p] = tag;
    this.view.setUint32(p + 1, n, true);
    p += 5;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      buf[p] = c;
      buf[p + 1] = c >> 8;
      p += 2;
    }
    this.pos = p;
  }

  private bigint(v: bigint): void {
    if (BigInt.asIntN(64, v) === v) {
      if (this.pos + 9 > this.buf.length) this.grow(9);
      this.buf[this.pos] = T.BigInt64;
      this.view.setBigInt64(this.pos + 1, v, true);
      this.pos += 9;
      return;
    }
    const negative = v < 0n;
    const hex = (negative ? -v : v).toString(16);
    const n = hex.length;
    if (this.pos + 6 + n > this.buf.length) this.grow(6 + n);
    const buf = this.buf;
    let p = this.pos;
    buf[p] = T.BigInt;
    buf[p + 1] = negative ? 1 : 0;
    this.view.setUint32(p + 2, n, true);
    p += 6;
    for (let i = 0; i < n; i++) buf[p++] = hex.charCodeAt(i);
    this.pos = p;
  }

  private object(v: object): void {
    const id = this.find(v);
    if (id >= 0) {
      this.byte(T.Ref);
      this.u32(id);
      return;
    }
    const proto = getProto(v);
    if (proto === objectProto) {
      this.remember(v);
      if (this.polluted) this.props(v, T.Object);
      else this.plainProps(v);
      return;
    }
    if (isArray(v)) {
      this.remember(v);
      this.array(v);
      return;
    }
    this.other(v, proto);
  }

  /**
   * A plain object's properties by for-in, which V8 serves from its enum cache without
   * allocating a key array; exact while Object.prototype has no enumerable properties
   * (checked once per encode()). Like structured clone, keys are taken when the walk of
   * the object starts, and a key a getter deletes before it is reached is skipped.
   */
  private plainProps(o: object): void {
    this.byte(T.Object);
    for (const k in o) {
      this.string(k);
      this.value((o as any)[k]);
    }
    this.byte(T.End);
  }

  /** Own enumerable string-keyed properties, in their order, then End. */
  private props(o: object, tag: number): void {
    this.byte(tag);
    const keys = objectKeys(o);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const x = (o as any)[k];
      // A getter met earlier may have deleted it: structured clone skips it then.
      if (x === undefined && !hasOwn(o, k)) continue;
      this.string(k);
      this.value(x);
    }
    this.byte(T.End);
  }

  private array(a: unknown[]): void {
    const n = a.length;
    if (n <= ARRAY_KEYS_MAX) {
      const keys = objectKeys(a);
      if (keys.length === n && (n === 0 || keys[n - 1] === String(n - 1))) {
        // Every index present, nothing else (keys count present indices plus named ones).
        this.byte(T.Array);
        this.u32(n);
        for (let i = 0; i < n; i++) this.value(a[i]);
        this.byte(T.End);
        return;
      }
      if (n > 16 && keys.length * 2 < n) return this.sparse(a, keys);
      // Holes and/or named properties: index keys come first, ascending.
      this.byte(T.Array);
      this.u32(n);
      let present = 0;
      for (let i = 0; i < n; i++) {
        if (present < keys.length && keys[present] === String(i)) {
          this.value(a[i]);
          present++;
        } else {
          this.byte(T.Hole);
        }
      }
      for (let j = present; j < keys.length; j++) {
        const k = keys[j];
        const x = (a as any)[k];
        if (x === undefined && !hasOwn(a, k)) continue;
        this.string(k);
        this.value(x);
      }
      this.byte(T.End);
      return;
    }
    // Long arrays: walked by index (see ARRAY_KEYS_MAX).
    const start = this.pos;
    const mark = this.count;
    const sharedMark = this.shared.length;
    this.byte(T.Array);
    this.u32(n);
    let holes = 0;
    for (let i = 0; i < n; i++) {
      const x = a[i];
      if (x === undefined && !(i in a)) {
        if (++holes > SPARSE_HOLES && holes * 2 > i) {
          // Mostly holes: start again, sparse.
          this.pos = start;
          this.forget(mark);
          this.shared.length = sharedMark;
          return this.sparse(a, objectKeys(a));
        }
        this.byte(T.Hole);
      } else {
        this.value(x);
      }
    }
    this.byte(T.End);
  }

  private sparse(a: unknown[], keys: string[]): void {
    this.byte(T.SparseArray);
    this.u32(a.length);
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      const x = (a as any)[k];
      if (x === undefined && !hasOwn(a, k)) continue;
      this.string(k);
      this.value(x);
    }
    this.byte(T.End);
  }

  /** Everything that is not a plain object or an array. */
  private other(v: object, proto: object | null): void {
    if (v instanceof SharedObject) {
      this.remember(v);
      this.byte(T.Shared);
      this.u32(this.shared.length);
      this.shared.push(v);
      return;
    }
    const kind = proto === null ? (toStringTag.call(v) === "[object Object]" ? K.NullProto : K.RHost) : classify(v);
    if (kind < 0) throw new Refusal(kind, v);
    this.remember(v);
    switch (kind) {
      case K.Plain:
        return this.props(v, T.Object);
      case K.NullProto:
        return this.props(v, T.ObjectNull);
      case K.View:
        return this.arrayView(v as ArrayBufferView);
      case K.ArrayBuffer:
        return this.arrayBuffer(v as ArrayBuffer);
      case K.Date:
        return this.f64(T.Date, dateGetTime.call(v));
      case K.RegExp:
        this.byte(T.RegExp);
        this.string(regExpSource.call(v));
        this.string(regExpFlags.call(v));
        return;
      case K.Map: {
        // Structured clone copies the entries first; getters below may change the map.
        const entries = mapEntries(v);
        this.byte(T.Map);
        for (let i = 0; i < entries.length; i++) this.value(entries[i]);
        this.byte(T.End);
        return;
      }
      case K.Set: {
        const items = setItems(v);
        this.byte(T.Set);
        for (let i = 0; i < items.length; i++) this.value(items[i]);
        this.byte(T.End);
        return;
      }
      case K.Error:
        return this.error(v as Error);
      case K.Number:
        return this.f64(T.NumberObject, numberValueOf.call(v));
      case K.String:
        this.byte(T.StringObject);
        return this.string(stringValueOf.call(v));
      case K.Boolean:
        return this.byte(booleanValueOf.call(v) ? T.TrueObject : T.FalseObject);
      case K.BigInt:
        this.byte(T.BigIntObject);
        return this.bigint(bigIntValueOf!.call(v));
    }
  }

  private arrayBuffer(b: ArrayBuffer): void {
    const n: number = arrayBufferByteLength.call(b);
    const resizable = arrayBufferResizable !== undefined && arrayBufferResizable.call(b) === true;
    if (this.pos + 13 + n > this.buf.length) this.grow(13 + n);
    const p = this.pos;
    if (resizable) {
      this.buf[p] = T.ResizableArrayBuffer;
      this.view.setUint32(p + 1, n, true);
      this.view.setFloat64(p + 5, arrayBufferMaxByteLength!.call(b), true);
      this.pos = p + 13;
    } else {
      this.buf[p] = T.ArrayBuffer;
      this.view.setUint32(p + 1, n, true);
      this.pos = p + 5;
    }
    this.buf.set(new Uint8Array(b, 0, n), this.pos);
    this.pos += n;
  }

  private arrayView(v: ArrayBufferView): void {
    const name: string | undefined = typedArrayName.call(v);
    let code: number, buffer: ArrayBuffer, offset: number, length: number;
    if (name === undefined) {
      code = 0;
      buffer = dataViewBuffer.call(v);
      offset = dataViewByteOffset.call(v);
      length = dataViewByteLength.call(v);
    } else {
      code = viewCodes.get(name)!;
      buffer = typedArrayBuffer.call(v);
      offset = typedArrayByteOffset.call(v);
      length = typedArrayLength.call(v);
    }
    this.byte(T.View);
    this.byte(code);
    this.object(buffer);
    this.u32(offset);
    this.u32(length);
  }

  private error(e: Error): void {
    let kind: number;
    let name: unknown;
    if (DOMExceptionCtor !== undefined && e instanceof DOMExceptionCtor) {
      kind = ERROR_DOMEXCEPTION;
      name = e.name;
    } else {
      name = e.name;
      const known = typeof name === "string" ? errorKindByName.get(name) : undefined;
      if (known !== undefined && errorCtors[known] !== undefined) kind = known;
      else {
        kind = 0;
        for (let i = errorCtors.length - 1; i > 0; i--) {
          const ctor = errorCtors[i];
          if (ctor !== undefined && e instanceof ctor) {
            kind = i;
            break;
          }
        }
      }
    }
    let flags = 0;
    if (typeof name === "string" && (kind === ERROR_DOMEXCEPTION || name !== errorNames[kind])) flags |= EF.Name;
    // An own data property, as structured clone reads it (a DOMException's is a getter).
    const messageDesc = kind === ERROR_DOMEXCEPTION ? { value: e.message } : getOwnDescriptor(e, "message");
    if (messageDesc !== undefined && "value" in messageDesc) flags |= EF.Message;
    const stack: unknown = e.stack;
    if (typeof stack === "string") flags |= EF.Stack;
    const causeDesc = getOwnDescriptor(e, "cause");
    if (causeDesc !== undefined && "value" in causeDesc) flags |= EF.Cause;
    const errorsDesc = kind === 7 ? getOwnDescriptor(e, "errors") : undefined;
    if (errorsDesc !== undefined && "value" in errorsDesc) flags |= EF.Errors;
    this.byte(T.Error);
    this.byte(kind);
    this.byte(flags);
    if (flags & EF.Name) this.string(name as string);
    if (flags & EF.Message) this.string(String(messageDesc!.value));
    if (flags & EF.Stack) this.string(stack as string);
    if (flags & EF.Cause) this.value(causeDesc!.value);
    if (flags & EF.Errors) this.value(errorsDesc!.value);
  }

  /** Retains every forkless object met, writes their handles after the body, and prepends the header. */
  private trailer(refs: SharedRefs): void {
    const body = this.pos;
    const objects = this.shared.slice();
    const handles: Handle[] = [];
    for (let i = 0; i < objects.length; i++) handles.push(refs.retain(objects[i]));
    // The handles are read first, with ids of their own.
    this.forget(0);
    this.shared.length = 0;
    this.u32(handles.length);
    for (let i = 0; i < handles.length; i++) this.value(handles[i]);
    if (this.shared.length !== 0) throw new TypeError("forkless: a handle cannot hold a forkless object");
    if (this.pos + 5 > this.buf.length) this.grow(5);
    this.buf.copyWithin(5, 0, this.pos);
    this.buf[0] = T.SharedHeader;
    this.view.setUint32(1, body, true);
    this.pos += 5;
  }
}

// ---------------------------------------------------------------------------------------
// Naming the path of a refused value: a second, slow walk, only after encode() failed.

function pathKey(path: string, name: string | number): string {
  if (typeof name === "number") return `${path}[${name}]`;
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
}

function unsupported(root: unknown, refusal: Refusal): UnsupportedValueError {
  let message: string | null = null;
  try {
    message = findRefused(root, "value", new Set());
  } catch {
    // A getter that throws on the second walk: fall back to the message without a path.
  }
  return new UnsupportedValueError(message ?? refusalMessage(refusal.kind, refusal.value, "a value inside value"));
}

/** Walks like the encoder, in the same order; returns the message for the first refused value. */
function findRefused(v: unknown, at: string, seen: Set<object>): string | null {
  if (typeof v === "function") return refusalMessage(K.RFunction, v, at);
  if (typeof v === "symbol") return refusalMessage(K.RSymbol, v, at);
  if (typeof v !== "object" || v === null) return null;
  if (seen.has(v)) return null;
  seen.add(v);
  const proto = getProto(v);
  if (proto === objectProto) return findInProps(v, objectKeys(v), at, seen);
  if (isArray(v)) return findInArray(v, at, seen);
  if (v instanceof SharedObject) return null;
  const kind = proto === null ? (toStringTag.call(v) === "[object Object]" ? K.NullProto : K.RHost) : classify(v);
  if (kind < 0) return refusalMessage(kind, v, at);
  switch (kind) {
    case K.Plain:
    case K.NullProto:
      return findInProps(v, objectKeys(v), at, seen);
    case K.Map: {
      const entries = mapEntries(v);
      for (let i = 0; i < entries.length; i += 2) {
        const k = entries[i];
        const found = findRefused(k, `${at}.keys()[${i / 2}]`, seen) ?? findRefused(entries[i + 1], pathKey(at, typeof k === "string" ? k : i / 2), seen);
        if (found !== null) return found;
      }
      return null;
    }
    case K.Set: {
      const items = setItems(v);
      for (let i = 0; i < items.length; i++) {
        const found = findRefused(items[i], `${at}.values()[${i}]`, seen);
        if (found !== null) return found;
      }
      return null;
    }
    case K.View: {
      const buffer = typedArrayName.call(v) === undefined ? dataViewBuffer.call(v) : typedArrayBuffer.call(v);
      return findRefused(buffer, `${at}.buffer`, seen);
    }
    case K.Error: {
      const cause = getOwnDescriptor(v, "cause");
      const errors = getOwnDescriptor(v, "errors");
      return (
        (cause !== undefined && "value" in cause ? findRefused(cause.value, `${at}.cause`, seen) : null) ??
        (errors !== undefined && "value" in errors ? findRefused(errors.value, `${at}.errors`, seen) : null)
      );
    }
  }
  return null;
}

function findInProps(o: object, keys: string[], at: string, seen: Set<object>): string | null {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const index = isArray(o) && /^(?:0|[1-9]\d*)$/.test(k) ? Number(k) : -1;
    const found = findRefused((o as any)[k], pathKey(at, index >= 0 && index < 0xffffffff ? index : k), seen);
    if (found !== null) return found;
  }
  return null;
}

function findInArray(a: unknown[], at: string, seen: Set<object>): string | null {
  if (a.length <= ARRAY_KEYS_MAX) return findInProps(a, objectKeys(a), at, seen);
  let holes = 0;
  for (let i = 0; i < a.length; i++) {
    if (!(i in a)) {
      if (++holes > SPARSE_HOLES && holes * 2 > i) return findInProps(a, objectKeys(a), at, seen);
      continue;
    }
    const found = findRefused(a[i], `${at}[${i}]`, seen);
    if (found !== null) return found;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Decoding. The state lives in module variables (saved and restored around a nested call).

let d8: Uint8Array = new Uint8Array(0); // the message

let dpos = 0;
const EMPTY = new Uint8Array(0);
let dobjs: unknown[] = [];
let dcount = 0;
let dlive: SharedObject[] = [];

const keyCache: (string | undefined)[] = new Array(KEY_CACHE_SIZE).fill(undefined);

function corrupt(): Error {
  return new TypeError("forkless: cannot decode a corrupt message");
}

/** Whether a decode() is running (a nested one, from revive() or a setter, saves its state). */
let decoding = false;

/**
 * Decodes a value encoded by Encoder.encode(). bytes must not be a view of a
 * SharedArrayBuffer (TextDecoder refuses those in browsers): copy them out first.
 * Forkless objects are rebuilt with refs.revive(), once each.
 */
export function decode(bytes: Uint8Array, refs: SharedRefs): unknown {
  if (decoding || bytes[0] === T.SharedHeader) return decodeSaving(bytes, refs);
  decoding = true;
  d8 = bytes;
  dpos = 0;
  dcount = 0;
  let value: unknown;
  try {
    value = readValue();
    if (dpos !== bytes.length) throw corrupt();
  } catch (error) {
    decoding = false;
    d8 = EMPTY;
    clearObjs();
    throw error;
  }
  decoding = false;
  d8 = EMPTY;
  clearObjs();
  return value;
}

/** decode() for messages with forkless objects, and for nested calls: saves and restores the state. */
function decodeSaving(bytes: Uint8Array, refs: SharedRefs): unknown {
  const s8 = d8;
  const spos = dpos;
  const sobjs = dobjs;
  const scount = dcount;
  const slive = dlive;
  const sdecoding = decoding;
  if (decoding) {
    dobjs = [];
    dlive = [];
  }
  decoding = true;
  d8 = bytes;
  dpos = 0;
  dcount = 0;
  try {
    let end = bytes.length;
    if (bytes[0] === T.SharedHeader) {
      if (end < 5) throw corrupt();
      const body = 5 + readU32At(1);
      if (body > end) throw corrupt();
      dpos = body;
      const n = readU32();
      for (let i = 0; i < n; i++) dlive.push(refs.revive(readValue() as Handle));
      if (dpos !== end) throw corrupt();
      clearObjs();
      dpos = 5;
      end = body;
    }
    const value = readValue();
    if (dpos !== end) throw corrupt();
    return value;
  } finally {
    clearObjs();
    dlive.length = 0;
    d8 = s8;
    dpos = spos;
    dobjs = sobjs;
    dcount = scount;
    dlive = slive;
    decoding = sdecoding;
  }
}

function clearObjs(): void {
  const n = dcount;
  if (n > 4096) dobjs = [];
  else for (let i = 0; i < n; i++) dobjs[i] = undefined;
  dcount = 0;
}

function readU32At(p: number): number {
  const b = d8;
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

function readU32(): number {
  const p = dpos;
  if (p + 4 > d8.length) throw corrupt();
  dpos = p + 4;
  return readU32At(p);
}

// Eight bytes are copied here to read a double or a 64-bit integer: cheaper than a
// DataView per message buffer (and no DataView holds on to a message).
const scratch = new ArrayBuffer(8);
const f64Scratch = new Float64Array(scratch);
const i64Scratch = typeof BigInt64Array === "function" ? new BigInt64Array(scratch) : undefined;
const scratchBytes = new Uint8Array(scratch);

function readF64(): number {
  read8();
  return f64Scratch[0];
}

function read8(): void {
  const p = dpos;
  const b = d8;
  if (p + 8 > b.length) throw corrupt();
  dpos = p + 8;
  const s = scratchBytes;
  if (littleEndian) {
    s[0] = b[p];
    s[1] = b[p + 1];
    s[2] = b[p + 2];
    s[3] = b[p + 3];
    s[4] = b[p + 4];
    s[5] = b[p + 5];
    s[6] = b[p + 6];
    s[7] = b[p + 7];
  } else {
    for (let i = 0; i < 8; i++) s[i] = b[p + 7 - i];
  }
}

function remember(o: unknown): void {
  dobjs[dcount++] = o;
}

function readValue(): unknown {
  const t = d8[dpos++];
  if (t <= T.FixIntMax) return t;
  if (t < T.FixAsciiEnd) return readAscii(t - T.FixAscii);
  switch (t) {
    case T.Undefined:
      return undefined;
    case T.Null:
      return null;
    case T.False:
      return false;
    case T.True:
      return true;
    case T.Int8:
      return (d8[dpos++] << 24) >> 24;
    case T.Int16: {
      const p = dpos;
      dpos = p + 2;
      return ((d8[p] | (d8[p + 1] << 8)) << 16) >> 16;
    }
    case T.Int32: {
      const p = dpos;
      const b = d8;
      dpos = p + 4;
      return b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
    }
    case T.Float64:
      return readF64();
    case T.Ascii8:
      return readAscii(d8[dpos++]);
    case T.Ascii32:
      return readAscii(readU32());
    case T.Utf8:
      return readUtf8(readU32());
    case T.Utf16:
    case T.Utf16WellFormed:
      return readUtf16(readU32(), t === T.Utf16WellFormed);
    case T.BigInt64:
    case T.BigInt:
      return readBigInt(t);
    case T.Object:
      return readProps({});
    case T.ObjectNull:
      return readProps(Object.create(null));
    case T.Array:
      return readArray();
    case T.SparseArray: {
      const a: unknown[] = [];
      a.length = readU32();
      return readProps(a);
    }
    case T.Ref: {
      const id = readU32();
      if (id >= dcount) throw corrupt();
      return dobjs[id];
    }
    case T.Map: {
      const m = new Map();
      remember(m);
      while (d8[dpos] !== T.End) {
        const k = readValue();
        m.set(k, readValue());
      }
      dpos++;
      return m;
    }
    case T.Set: {
      const s = new Set();
      remember(s);
      while (d8[dpos] !== T.End) s.add(readValue());
      dpos++;
      return s;
    }
    case T.Date: {
      const d = new Date(readF64());
      remember(d);
      return d;
    }
    case T.RegExp: {
      const source = readString();
      const r = new RegExp(source, readString());
      remember(r);
      return r;
    }
    case T.ArrayBuffer:
    case T.ResizableArrayBuffer:
      return readArrayBuffer(t);
    case T.View:
      return readView();
    case T.Error:
      return readError();
    case T.NumberObject: {
      const o = new Number(readF64());
      remember(o);
      return o;
    }
    case T.StringObject: {
      const o = new String(readString());
      remember(o);
      return o;
    }
    case T.FalseObject:
    case T.TrueObject: {
      const o = new Boolean(t === T.TrueObject);
      remember(o);
      return o;
    }
    case T.BigIntObject: {
      const t2 = d8[dpos++];
      if (t2 !== T.BigInt64 && t2 !== T.BigInt) throw corrupt();
      const o = Object(readBigInt(t2));
      remember(o);
      return o;
    }
    case T.Shared: {
      const slot = readU32();
      if (slot >= dlive.length) throw corrupt();
      const o = dlive[slot];
      remember(o);
      return o;
    }
  }
  throw corrupt();
}

/** Reads a string value (its tag first). */
function readString(): string {
  const t = d8[dpos++];
  if (t >= T.FixAscii && t < T.FixAsciiEnd) return readAscii(t - T.FixAscii);
  return readStringTagged(t);
}

function readStringTagged(t: number): string {
  switch (t) {
    case T.Ascii8:
      return readAscii(d8[dpos++]);
    case T.Ascii32:
      return readAscii(readU32());
    case T.Utf8:
      return readUtf8(readU32());
    case T.Utf16:
    case T.Utf16WellFormed:
      return readUtf16(readU32(), t === T.Utf16WellFormed);
  }
  throw corrupt();
}

function readAscii(n: number): string {
  const b = d8;
  const p = dpos;
  if (p + n > b.length) throw corrupt();
  dpos = p + n;
  switch (n) {
    case 0:
      return "";
    case 1:
      return fromCharCode(b[p]);
    case 2:
      return fromCharCode(b[p], b[p + 1]);
    case 3:
      return fromCharCode(b[p], b[p + 1], b[p + 2]);
    case 4:
      return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3]);
    case 5:
      return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4]);
    case 6:
      return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5]);
    case 7:
      return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6]);
    case 8:
      return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
    case 9:
      return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7], b[p + 8]);
    case 10:
      return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7], b[p + 8], b[p + 9]);
    case 11:
      return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7], b[p + 8], b[p + 9], b[p + 10]);
    case 12:
      return fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7], b[p + 8], b[p + 9], b[p + 10], b[p + 11]);
  }
  if (n >= DECODE_ASCII_NATIVE) return utf8Decoder.decode(b.subarray(p, p + n));
  // Sixteen at a time, then four, then one.
  let s = "";
  let i = p;
  const end = p + n;
  for (; i + 16 <= end; i += 16) {
    s += fromCharCode(
      b[i], b[i + 1], b[i + 2], b[i + 3], b[i + 4], b[i + 5], b[i + 6], b[i + 7],
      b[i + 8], b[i + 9], b[i + 10], b[i + 11], b[i + 12], b[i + 13], b[i + 14], b[i + 15],
    );
  }
  for (; i + 4 <= end; i += 4) s += fromCharCode(b[i], b[i + 1], b[i + 2], b[i + 3]);
  for (; i < end; i++) s += fromCharCode(b[i]);
  return s;
}

/** An object key: short ASCII keys come from a cache of strings already made. */
function readKey(t: number): string {
  if (t >= T.FixAscii && t < T.FixAsciiEnd) {
    const n = t - T.FixAscii;
    if (n <= KEY_CACHE_MAX) {
      const b = d8;
      const p = dpos;
      const end = p + n;
      if (end > b.length) throw corrupt();
      let h = n;
      for (let i = p; i < end; i++) h = (Math.imul(h, 31) + b[i]) | 0;
      const slot = (h ^ (h >>> 13)) & (KEY_CACHE_SIZE - 1);
      const cached = keyCache[slot];
      if (cached !== undefined && cached.length === n) {
        let i = 0;
        while (i < n && cached.charCodeAt(i) === b[p + i]) i++;
        if (i === n) {
          dpos = end;
          return cached;
        }
      }
      const s = readAscii(n);
      keyCache[slot] = s;
      return s;
    }
    return readAscii(n);
  }
  return readStringTagged(t);
}

function readUtf8(n: number): string {
  const p = dpos;
  if (p + n > d8.length) throw corrupt();
  dpos = p + n;
  return utf8Decoder.decode(d8.subarray(p, p + n));
}

function readUtf16(n: number, wellFormed: boolean): string {
  const b = d8;
  const p = dpos;
  if (p + 2 * n > b.length) throw corrupt();
  dpos = p + 2 * n;
  if (n < DECODE_UTF16_NATIVE || !littleEndian) {
    let s = "";
    for (let i = p, end = p + 2 * n; i < end; i += 2) s += fromCharCode(b[i] | (b[i + 1] << 8));
    return s;
  }
  // TextDecoder would replace lone surrogates: only for strings known to have none.
  if (wellFormed) return utf16Decoder.decode(b.subarray(p, p + 2 * n));
  // fromCharCode.apply over an aligned copy, in chunks an argument list can hold.
  const units = new Uint16Array(b.buffer.slice(b.byteOffset + p, b.byteOffset + p + 2 * n) as ArrayBuffer);
  const CHUNK = 1024;
  if (n <= CHUNK) return fromCharCode.apply(null, units as unknown as number[]);
  let s = "";
  for (let i = 0; i < n; i += CHUNK) s += fromCharCode.apply(null, units.subarray(i, i + CHUNK) as unknown as number[]);
  return s;
}

function readBigInt(t: number): bigint {
  if (t === T.BigInt64) {
    read8();
    return i64Scratch![0];
  }
  const negative = d8[dpos++] === 1;
  const n = readU32();
  const p = dpos;
  if (p + n > d8.length) throw corrupt();
  dpos = p + n;
  const magnitude = BigInt("0x" + utf8Decoder.decode(d8.subarray(p, p + n)));
  return negative ? -magnitude : magnitude;
}

function setProp(o: any, k: string, x: unknown): void {
  // "__proto__" as an own key must not set the prototype.
  if (k === "__proto__") defineProperty(o, k, { value: x, writable: true, enumerable: true, configurable: true });
  else o[k] = x;
}

function readProps(o: any): object {
  remember(o);
  for (;;) {
    const t = d8[dpos++];
    if (t === T.End) return o;
    const k = readKey(t);
    const x = readValue();
    if (k === "__proto__") setProp(o, k, x);
    else o[k] = x;
  }
}

function readArray(): unknown[] {
  const n = readU32();
  const a: unknown[] = [];
  remember(a);
  for (let i = 0; i < n; i++) {
    if (d8[dpos] === T.Hole) {
      dpos++;
      a.length = i + 1;
    } else {
      a.push(readValue());
    }
  }
  // Named properties.
  for (;;) {
    const t = d8[dpos++];
    if (t === T.End) return a;
    const k = readKey(t);
    setProp(a, k, readValue());
  }
}

function readArrayBuffer(t: number): ArrayBuffer {
  const n = readU32();
  let buffer: ArrayBuffer;
  if (t === T.ResizableArrayBuffer) {
    const max = readF64();
    buffer = new (ArrayBuffer as any)(n, { maxByteLength: max });
  } else {
    buffer = new ArrayBuffer(n);
  }
  const p = dpos;
  if (p + n > d8.length) throw corrupt();
  new Uint8Array(buffer).set(d8.subarray(p, p + n));
  dpos = p + n;
  remember(buffer);
  return buffer;
}

function readView(): ArrayBufferView {
  const code = d8[dpos++];
  const ctor = viewCtors[code] as any;
  if (ctor === undefined) throw new TypeError(`forkless: this engine has no ${code === 12 ? "Float16Array" : "typed array of kind " + code}`);
  const id = dcount++; // the view's id comes before its buffer's
  const buffer = readValue();
  if (!(buffer instanceof ArrayBuffer)) throw corrupt();
  const offset = readU32();
  const length = readU32();
  const view = new ctor(buffer, offset, length);
  dobjs[id] = view;
  return view;
}

function readError(): Error {
  const kind = d8[dpos++];
  const flags = d8[dpos++];
  const name = flags & EF.Name ? readString() : undefined;
  const message = flags & EF.Message ? readString() : undefined;
  const stack = flags & EF.Stack ? readString() : undefined;
  let e: any;
  if (kind === ERROR_DOMEXCEPTION && DOMExceptionCtor !== undefined) {
    e = new DOMExceptionCtor(message ?? "", name);
  } else {
    const ctor: any = errorCtors[kind] ?? Error;
    if (kind === 7) e = message === undefined ? new ctor([]) : new ctor([], message);
    else e = message === undefined ? new ctor() : new ctor(message);
    if (name !== undefined) defineProperty(e, "name", { value: name, writable: true, enumerable: false, configurable: true });
  }
  try {
    if (stack !== undefined) defineProperty(e, "stack", { value: stack, writable: true, enumerable: false, configurable: true });
    else delete e.stack;
  } catch {
    // An engine whose stack property cannot be replaced keeps its own.
  }
  remember(e);
  if (flags & EF.Cause) defineProperty(e, "cause", { value: readValue(), writable: true, enumerable: false, configurable: true });
  if (flags & EF.Errors) defineProperty(e, "errors", { value: readValue(), writable: true, enumerable: false, configurable: true });
  else if (kind === 7) delete e.errors;
  return e;
}
