// The value codec of queues and pipes: any value structured clone accepts becomes bytes
// (to cross a ring buffer in shared memory) and back again, exactly; forkless objects
// travel as handles and arrive live. Plain JavaScript only: no eval, no Function
// constructor, no Buffer, so it runs under a strict Content-Security-Policy in browsers.
//
// Format: one value, written depth first. Its first byte is a tag:
//   0x00-0x3f  the integers 0..63
//   0x40-0x5f  an ASCII string of 0..31 characters, its bytes following
//   0x60-0x85  every other kind (enum T below)
// Every object (arrays, buffers, views, errors, forkless objects included) takes the next
// id in the order it is first met; meeting it again writes T.Ref and that id, which keeps
// shared references and cycles. A message that holds forkless objects starts with
// T.SharedHeader and the length of its body; their handles follow the body, so the
// encoder asks for them (refs.retain) only once the whole value is known to be sendable,
// and the decoder revives them (once each) before it reads the body.
// Multi-byte numbers are little-endian. The format is private to one build of forkless:
// both ends of a queue run the same code, so it carries no version.
//
// Nesting: both directions recurse for the first NEST_RECURSIVE levels (the fast path) and
// walk anything deeper with an explicit stack, so no depth the encoder accepts can overflow
// the stack of the thread that decodes it (a worker with a big stack may send a value 100,000
// levels deep to a main thread with a small one: the item was already taken off the queue
// when a recursive decoder would have failed, and it would have been lost).
//
// The decoder creates own data properties, as structured clone does ([[DefineOwnProperty]],
// never [[Set]]): a setter or a read-only property on Object.prototype or Array.prototype
// (a library's, or prototype pollution) never sees message data, and "__proto__" is a key
// like any other. No user code runs while a message is decoded, except refs.revive().
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
  Array = 0x70, // u32 length, length × (value | Hole) (or fewer, then SparseTail), (key, value)* End
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
  View = 0x7b, // u8 type (| VIEW_TRACKING), buffer (ArrayBuffer or Ref), u32 byteOffset, [u32 length: elements; bytes for DataView]
  Error = 0x7c, // u8 kind, u8 flags, [name], [message], [stack], [cause value], [errors value]
  NumberObject = 0x7d, // f64
  StringObject = 0x7e, // string value
  FalseObject = 0x7f,
  TrueObject = 0x80,
  BigIntObject = 0x81, // bigint value
  Shared = 0x82, // u32 slot in the trailer
  SharedHeader = 0x83, // u32 body length; body; trailer: u32 count, count × handle value
  Utf16WellFormed = 0x84, // as Utf16, known to hold no lone surrogate
  SparseTail = 0x85, // in an Array's elements: the rest are holes or come as (index key, value) pairs with its properties
}

/** Set in a View's type byte: the view tracks its resizable buffer's length (no u32 length follows). */
const VIEW_TRACKING = 0x80;

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
/** Object templates kept by the decoder (see readObject), the most keys a template has, and its score bounds. */
const SHAPE_CACHE_SIZE = 4096; // power of two
const SHAPE_KEYS_MAX = 32;
const SHAPE_SCORE_MAX = 4;
const SHAPE_REPLACE = -2;
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
/**
 * Containers nested up to this deep are encoded and decoded by recursion (the fast path),
 * deeper ones with an explicit stack. Recursion takes about 0.4 KB of stack a level (both
 * directions, Node 20-24: 2,300 levels filled the main thread's 984 KB), so 128 levels fit
 * with room to spare in the smallest stacks in use (Node starts no worker with less than
 * about 0.4 MB; browser workers have more). The explicit stack costs 1.7-1.8 times as much
 * a level, and only what lies deeper reaches it.
 */
const NEST_RECURSIVE = 128;
/** How deep the walk that names the path of a refused value goes (only after a refusal). */
const FIND_DEPTH = 64;

// ---------------------------------------------------------------------------------------
// Intrinsics, taken once (a program may patch prototypes later; brand checks use these).

const ObjectCtor = Object;
const objectProto = Object.prototype;
const arrayProto = Array.prototype;
const getProto = Object.getPrototypeOf;
const createObject = Object.create;
const setProto = Object.setPrototypeOf;
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
const mapSet = Map.prototype.set;
const mapGet = Map.prototype.get;
const mapDelete = Map.prototype.delete;
const mapClear = Map.prototype.clear;
const setAdd = Set.prototype.add;
const MapCtor = Map;
const SetCtor = Set;
const DateCtor = Date;
const RegExpCtor = RegExp;
const ArrayBufferCtor = ArrayBuffer;
const NumberCtor = Number;
const StringCtor = String;
const BooleanCtor = Boolean;
const BigIntCtor: ((s: string) => bigint) | undefined = typeof BigInt === "function" ? BigInt : undefined;
const RangeErrorCtor = RangeError;
const arrayBufferResize: ((this: ArrayBuffer, n: number) => void) | undefined = (ArrayBuffer.prototype as any).resize;
const typedArrayKeys = (typedArrayProto as any).keys as (this: any) => unknown;
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
const textDecode = TextDecoder.prototype.decode;
const textEncodeInto = TextEncoder.prototype.encodeInto;
const imul = Math.imul;
const floor = Math.floor;
/**
 * Node's proxy check (no engine lets plain JavaScript tell a Proxy from its target; Node's
 * util.types.isProxy asks V8). Structured clone refuses proxies; in a browser a Proxy cannot be
 * detected, so it is sent as what its traps report (a plain object or an array).
 */
const isProxy: ((v: unknown) => boolean) | undefined = (() => {
  try {
    const f = (globalThis as any).process?.getBuiltinModule?.("node:util")?.types?.isProxy;
    return typeof f === "function" ? f : undefined;
  } catch {
    return undefined;
  }
})();

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

/**
 * The codec's own lists (ids, frames, entries, the key cache): objects without a prototype,
 * indexed like arrays (as fast, in V8). An array written past its end or into a hole does
 * [[Set]] through Array.prototype and Object.prototype, where a setter (a library's, or
 * prototype pollution) would be handed the values stored and could swallow them: the ids
 * of a message would then go missing. A table has nothing to inherit.
 */
class Table<V> {
  [i: number]: V;
  length = 0; // a class field: defined, not [[Set]]
}
setProto(Table.prototype, null);

function table<V>(): Table<V> {
  return new Table<V>();
}

/** A Map's entries as key, value, key, value, ..., read from its internal slots (subclasses may override iteration). */
function mapEntries(m: object): Table<unknown> {
  const list = table<unknown>();
  let n = 0;
  mapForEach.call(m, (x: unknown, k: unknown) => {
    list[n++] = k;
    list[n++] = x;
  });
  list.length = n;
  return list;
}

function setItems(s: object): Table<unknown> {
  const list = table<unknown>();
  let n = 0;
  setForEach.call(s, (x: unknown) => {
    list[n++] = x;
  });
  list.length = n;
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
const viewCodes: Record<string, number> = createObject(null);
for (let i = 1; i < viewCtors.length; i++) if (viewCtors[i]) viewCodes[(viewCtors[i] as Function).name] = i;

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
const errorKindByName: Record<string, number> = createObject(null);
errorNames.forEach((name, i) => (errorKindByName[name] = i));

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
  RProxy = -13,
  ROutOfBounds = -14,
}

function isError(v: object): boolean {
  if (isErrorIntrinsic !== undefined) return isErrorIntrinsic(v);
  return v instanceof Error;
}

/** What kind of value v is, for objects that are not plain objects, arrays or SharedObjects. */
function classify(v: object): K {
  if (isView(v)) return classifyView(v);
  // The tag is a hint (a class may report any tag, a subclass of a built-in may hide its
  // own); a brand check confirms it, and when none does, the prototype chain decides.
  const tag: string = toStringTag.call(v);
  switch (tag) {
    case "[object Object]":
      break;
    case "[object Date]":
      if (hasBrand(dateGetTime, v)) return K.Date;
      break;
    case "[object RegExp]":
      if (isRegExp(v)) return K.RegExp;
      break;
    case "[object Map]":
      if (hasBrand(mapSize, v)) return K.Map;
      break;
    case "[object Set]":
      if (hasBrand(setSize, v)) return K.Set;
      break;
    case "[object ArrayBuffer]":
      if (hasBrand(arrayBufferByteLength, v)) return arrayBufferKind(v);
      break;
    case "[object SharedArrayBuffer]":
      if (hasBrand(sabByteLength, v)) return K.RSharedArrayBuffer;
      break;
    case "[object Error]":
      if (isError(v)) return K.Error;
      break;
    case "[object Number]":
      if (hasBrand(numberValueOf, v)) return K.Number;
      break;
    case "[object String]":
      if (hasBrand(stringValueOf, v)) return K.String;
      break;
    case "[object Boolean]":
      if (hasBrand(booleanValueOf, v)) return K.Boolean;
      break;
    case "[object BigInt]":
      if (hasBrand(bigIntValueOf, v)) return K.BigInt;
      break;
    case "[object Symbol]":
      if (hasBrand(symbolValueOf, v)) return K.RSymbolObject;
      break;
    case "[object WeakMap]":
      if (hasBrand(weakMapHas, v, {})) return K.RWeakMap;
      break;
    case "[object WeakSet]":
      if (hasBrand(weakSetHas, v, {})) return K.RWeakSet;
      break;
    case "[object WeakRef]":
      if (hasBrand(weakRefDeref, v)) return K.RWeakRef;
      break;
  }
  // A built-in's prototype in the chain: a subclass instance whose tag was changed (a Map
  // reporting "Object" would otherwise arrive as {}), or an ordinary object made from that
  // prototype (Object.create(Map.prototype): {} for structured clone too).
  for (let p = getProto(v); p !== null && p !== objectProto; p = getProto(p)) {
    const kind = mapGet.call(builtinPrototypes, p) as K | undefined;
    if (kind !== undefined) return hasKind(v, kind) ? (kind === K.ArrayBuffer ? arrayBufferKind(v) : kind) : K.Plain;
  }
  if (tag === "[object Object]" || (tag !== "[object Promise]" && builtinTags[tag] === true)) return K.Plain; // class instances, or a tag that failed its brand check
  // Error subclasses with a tag of their own, DOMException.
  if (isError(v)) return K.Error;
  if (MessagePortCtor !== undefined && v instanceof MessagePortCtor) return K.RMessagePort;
  // Anything else that brands itself (platform objects, iterators, generators, Intl, Wasm
  // objects, module namespaces...) is refused rather than silently sent as {}.
  return K.RHost;
}

function isRegExp(v: object): boolean {
  return hasBrand(regExpSource, v) && v !== RegExp.prototype; // the prototype's source getter answers "(?:)"
}

function arrayBufferKind(v: object): K {
  return arrayBufferDetached !== undefined && arrayBufferDetached.call(v) === true ? K.RDetached : K.ArrayBuffer;
}

/** Tags of built-in kinds: when their brand check fails, the object is an ordinary one. */
const builtinTags: Record<string, boolean> = createObject(null);
for (const name of ["Date", "RegExp", "Map", "Set", "ArrayBuffer", "SharedArrayBuffer", "Error", "Number", "String", "Boolean", "BigInt", "Symbol", "WeakMap", "WeakSet", "WeakRef", "Array", "Arguments", "Function"]) builtinTags[`[object ${name}]`] = true;

/** The built-in prototypes whose instances are more than their own properties. */
const builtinPrototypes = new Map<object, K>();
function addPrototype(ctor: any, kind: K): void {
  if (typeof ctor === "function" && ctor.prototype) builtinPrototypes.set(ctor.prototype, kind);
}
addPrototype(Date, K.Date);
addPrototype(RegExp, K.RegExp);
addPrototype(Map, K.Map);
addPrototype(Set, K.Set);
addPrototype(ArrayBuffer, K.ArrayBuffer);
addPrototype((globalThis as any).SharedArrayBuffer, K.RSharedArrayBuffer);
addPrototype(Error, K.Error); // native errors' prototypes inherit Error.prototype
addPrototype(Number, K.Number);
addPrototype(String, K.String);
addPrototype(Boolean, K.Boolean);
addPrototype((globalThis as any).BigInt, K.BigInt);
addPrototype(Symbol, K.RSymbolObject);
addPrototype((globalThis as any).WeakMap, K.RWeakMap);
addPrototype((globalThis as any).WeakSet, K.RWeakSet);
addPrototype((globalThis as any).WeakRef, K.RWeakRef);
addPrototype(Promise, K.RPromise);

/** Whether v has the internal slots of kind (a Promise cannot be checked without side effects: its prototype decides). */
function hasKind(v: object, kind: K): boolean {
  switch (kind) {
    case K.Date:
      return hasBrand(dateGetTime, v);
    case K.RegExp:
      return isRegExp(v);
    case K.Map:
      return hasBrand(mapSize, v);
    case K.Set:
      return hasBrand(setSize, v);
    case K.ArrayBuffer:
      return hasBrand(arrayBufferByteLength, v);
    case K.RSharedArrayBuffer:
      return hasBrand(sabByteLength, v);
    case K.Error:
      return isError(v);
    case K.Number:
      return hasBrand(numberValueOf, v);
    case K.String:
      return hasBrand(stringValueOf, v);
    case K.Boolean:
      return hasBrand(booleanValueOf, v);
    case K.BigInt:
      return hasBrand(bigIntValueOf, v);
    case K.RSymbolObject:
      return hasBrand(symbolValueOf, v);
    case K.RWeakMap:
      return hasBrand(weakMapHas, v, {});
    case K.RWeakSet:
      return hasBrand(weakSetHas, v, {});
    case K.RWeakRef:
      return hasBrand(weakRefDeref, v);
  }
  return true;
}

/** Views: refused over shared memory, and when out of their resizable buffer's bounds (as structured clone refuses them). */
function classifyView(v: object): K {
  const typed = typedArrayName.call(v) !== undefined;
  const buffer = typed ? typedArrayBuffer.call(v) : dataViewBuffer.call(v);
  if (isSharedArrayBuffer(buffer)) return K.RSharedView;
  // A detached buffer is refused (and named) as the view's buffer.
  if (isResizable(buffer) && !(arrayBufferDetached !== undefined && arrayBufferDetached.call(buffer) === true)) {
    // Both intrinsics throw for a view out of bounds (and only then, for a view).
    if (!hasBrand(typed ? typedArrayKeys : dataViewByteLength, v)) return K.ROutOfBounds;
  }
  return K.View;
}

function isResizable(buffer: object): boolean {
  return arrayBufferResizable !== undefined && arrayBufferResizable.call(buffer) === true;
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
    case K.RProxy:
      return `${at} is a Proxy, ${cannot} (structured clone refuses proxies too); send a copy of what it stands for instead`;
    case K.ROutOfBounds:
      return `${at} is ${article(typedArrayName.call(v) ?? "DataView")} out of the bounds of its resizable ArrayBuffer (the buffer shrank), ${cannot}`;
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
  private objs = table<object | undefined>();
  private count = 0;
  /** Object → id, used once there are more than LINEAR_IDS. */
  private ids = new Map<object, number>();
  private mapped = false;
  /** Forkless objects met so far, by slot. */
  private shared = table<SharedObject>();
  private busy = false;
  /** The view returned last. */
  private out = this.buf.subarray(0, 0);
  /** Whether Object.prototype has enumerable properties (then for-in would list them). */
  private polluted = false;
  /** Containers open on the recursive path; from NEST_RECURSIVE on, deep() takes over. */
  private depth = 0;
  /** An error's cause and errors, as error() read them, for its caller to write. */
  private errorCause: unknown = undefined;
  private errorErrors: unknown = undefined;

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
    this.depth = 0;
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
    if (this.shared.length !== 0) this.forgetShared();
    this.errorCause = this.errorErrors = undefined;
    this.busy = false;
  }

  private forgetShared(): void {
    const shared = this.shared;
    for (let i = 0; i < shared.length; i++) shared[i] = undefined as any;
    shared.length = 0;
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
        mapClear.call(this.ids);
        this.mapped = false;
      } else {
        for (let i = from; i < n; i++) mapDelete.call(this.ids, objs[i]);
      }
    }
    if (from === 0 && n > 4096) this.objs = table();
    else for (let i = from; i < n; i++) objs[i] = undefined;
    this.count = from;
  }

  private find(v: object): number {
    const n = this.count;
    if (!this.mapped) {
      const objs = this.objs;
      for (let i = 0; i < n; i++) if (objs[i] === v) return i;
      return -1;
    }
    const id = mapGet.call(this.ids, v) as number | undefined;
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
        for (let i = 0; i < n; i++) mapSet.call(ids, objs[i], i);
      }
      mapSet.call(ids, v, n);
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
    const { written } = textEncodeInto.call(utf8Encoder, s, this.buf.subarray(start + 5));
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
    // Before anything reads it: getPrototypeOf alone would run a trap.
    if (isProxy !== undefined && isProxy(v)) throw new Refusal(K.RProxy, v);
    if (this.depth >= NEST_RECURSIVE) return this.deep(v);
    const proto = getProto(v);
    if (proto === objectProto) {
      this.remember(v);
      this.depth++;
      if (this.polluted) this.props(v, T.Object);
      else this.plainProps(v);
      this.depth--;
      return;
    }
    if (isArray(v)) {
      this.remember(v);
      this.depth++;
      this.array(v);
      this.depth--;
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
      if (n > 16 && keys.length * 2 < n) return this.sparse(a, keys, 0);
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
      this.keyed(a, keys, present);
      return;
    }
    // Long arrays: walked by index (see ARRAY_KEYS_MAX).
    this.byte(T.Array);
    this.u32(n);
    let holes = 0;
    for (let i = 0; i < n; i++) {
      const x = a[i];
      if (x === undefined && !(i in a)) {
        if (++holes > SPARSE_HOLES && holes * 2 > i) {
          // Mostly holes: the rest goes as keys (what was written stays, no getter runs twice).
          this.byte(T.SparseTail);
          const keys = objectKeys(a);
          return this.keyed(a, keys, indexKeysBelow(keys, i));
        }
        this.byte(T.Hole);
      } else {
        this.value(x);
      }
    }
    this.byte(T.End);
  }

  private sparse(a: unknown[], keys: string[], from: number): void {
    this.byte(T.SparseArray);
    this.u32(a.length);
    this.keyed(a, keys, from);
  }

  /** (key, value) pairs for keys[from...], then End. */
  private keyed(a: unknown[], keys: string[], from: number): void {
    for (let i = from; i < keys.length; i++) {
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
      this.shareRef(v);
      return;
    }
    const kind = proto === null ? (toStringTag.call(v) === "[object Object]" ? K.NullProto : K.RHost) : classify(v);
    if (kind < 0) throw new Refusal(kind, v);
    this.remember(v);
    this.depth++;
    switch (kind) {
      case K.Plain:
        this.props(v, T.Object);
        break;
      case K.NullProto:
        this.props(v, T.ObjectNull);
        break;
      case K.Map: {
        // Structured clone copies the entries first; getters below may change the map.
        const entries = mapEntries(v);
        this.byte(T.Map);
        for (let i = 0; i < entries.length; i++) this.value(entries[i]);
        this.byte(T.End);
        break;
      }
      case K.Set: {
        const items = setItems(v);
        this.byte(T.Set);
        for (let i = 0; i < items.length; i++) this.value(items[i]);
        this.byte(T.End);
        break;
      }
      case K.Error: {
        const flags = this.error(v as Error);
        if (flags & EF.Cause) this.value(this.errorCause);
        if (flags & EF.Errors) this.value(this.errorErrors);
        break;
      }
      default:
        this.leaf(v, kind);
    }
    this.depth--;
  }

  private shareRef(v: SharedObject): void {
    const shared = this.shared;
    this.byte(T.Shared);
    this.u32(shared.length);
    shared[shared.length++] = v;
  }

  /** The kinds that hold no other values (a view's buffer is written by arrayView). */
  private leaf(v: object, kind: K): void {
    switch (kind) {
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

  /**
   * A value nested NEST_RECURSIVE deep and everything inside it, written in the same order
   * and format as the recursive path, with an explicit stack: a frame per open container
   * (parallel arrays: kind, container, its key/entry list, a position, a bound, a count).
   */
  private deep(root: object): void {
    const kinds = table<number>();
    const objs = table<any>();
    const lists = table<any>();
    const at = table<number>();
    const ends = table<number>();
    const counts = table<number>();
    let sp = -1;
    let v: unknown = root;
    for (;;) {
      // Write v: a leaf whole, a container's head (and a frame for what it holds).
      if (typeof v !== "object" || v === null) this.value(v);
      else {
        const id = this.find(v);
        if (id >= 0) {
          this.byte(T.Ref);
          this.u32(id);
        } else {
          if (isProxy !== undefined && isProxy(v)) throw new Refusal(K.RProxy, v);
          const proto = getProto(v);
          const array = proto !== objectProto && isArray(v);
          let kind: K | 0;
          if (proto === objectProto || array) kind = K.Plain;
          else if (v instanceof SharedObject) {
            this.remember(v);
            this.shareRef(v);
            kind = 0;
          } else {
            kind = proto === null ? (toStringTag.call(v) === "[object Object]" ? K.NullProto : K.RHost) : classify(v);
            if (kind < 0) throw new Refusal(kind, v);
          }
          if (kind !== 0) {
            this.remember(v);
            let frame = -1;
            let list: unknown = undefined;
            let end = 0;
            let count = 0;
            if (array) {
              const a = v as unknown[];
              const n = a.length;
              if (n <= ARRAY_KEYS_MAX) {
                const keys = objectKeys(a);
                list = keys;
                if (n > 16 && keys.length * 2 < n) {
                  this.byte(T.SparseArray);
                  this.u32(n);
                  frame = W.Props;
                } else {
                  this.byte(T.Array);
                  this.u32(n);
                  frame = W.Items;
                  end = n;
                }
              } else {
                this.byte(T.Array);
                this.u32(n);
                frame = W.Long;
                end = n;
              }
            } else {
              switch (kind) {
                case K.Plain:
                case K.NullProto:
                  this.byte(kind === K.NullProto ? T.ObjectNull : T.Object);
                  list = objectKeys(v);
                  frame = W.Props;
                  break;
                case K.Map:
                  list = mapEntries(v);
                  this.byte(T.Map);
                  frame = W.List;
                  break;
                case K.Set:
                  list = setItems(v);
                  this.byte(T.Set);
                  frame = W.List;
                  break;
                case K.Error:
                  count = this.error(v as Error) & (EF.Cause | EF.Errors);
                  list = [this.errorCause, this.errorErrors];
                  this.errorCause = this.errorErrors = undefined;
                  frame = W.Error;
                  break;
                default:
                  this.leaf(v, kind);
              }
            }
            if (frame >= 0) {
              sp++;
              kinds[sp] = frame;
              objs[sp] = v;
              lists[sp] = list;
              at[sp] = 0;
              ends[sp] = end;
              counts[sp] = count;
            }
          }
        }
      }
      // The next value to write: the next one the innermost open container holds.
      next: for (;;) {
        if (sp < 0) return;
        const o = objs[sp];
        switch (kinds[sp]) {
          case W.Items: {
            // A short array: index keys come first, ascending; a missing one is a hole.
            const keys: string[] = lists[sp];
            const n = ends[sp];
            let i = at[sp];
            let present = counts[sp];
            while (i < n) {
              if (present < keys.length && keys[present] === String(i)) {
                v = o[i];
                at[sp] = i + 1;
                counts[sp] = present + 1;
                break next;
              }
              this.byte(T.Hole);
              i++;
            }
            kinds[sp] = W.Props;
            at[sp] = present;
            continue;
          }
          case W.Long: {
            const n = ends[sp];
            let i = at[sp];
            let holes = counts[sp];
            while (i < n) {
              const x = o[i];
              if (x === undefined && !(i in o)) {
                if (++holes > SPARSE_HOLES && holes * 2 > i) {
                  this.byte(T.SparseTail);
                  const keys = objectKeys(o);
                  kinds[sp] = W.Props;
                  lists[sp] = keys;
                  at[sp] = indexKeysBelow(keys, i);
                  continue next;
                }
                this.byte(T.Hole);
                i++;
                continue;
              }
              v = x;
              at[sp] = i + 1;
              counts[sp] = holes;
              break next;
            }
            this.byte(T.End);
            break;
          }
          case W.Props: {
            const keys: string[] = lists[sp];
            let j = at[sp];
            while (j < keys.length) {
              const k = keys[j++];
              const x = o[k];
              if (x === undefined && !hasOwn(o, k)) continue;
              this.string(k);
              v = x;
              at[sp] = j;
              break next;
            }
            this.byte(T.End);
            break;
          }
          case W.List: {
            const list: Table<unknown> = lists[sp];
            const j = at[sp];
            if (j < list.length) {
              v = list[j];
              at[sp] = j + 1;
              break next;
            }
            this.byte(T.End);
            break;
          }
          case W.Error: {
            const left = counts[sp];
            if (left & EF.Cause) {
              v = lists[sp][0];
              counts[sp] = left & ~EF.Cause;
              break next;
            }
            if (left & EF.Errors) {
              v = lists[sp][1];
              counts[sp] = 0;
              break next;
            }
            break;
          }
        }
        // Done with this container.
        objs[sp] = lists[sp] = undefined;
        sp--;
      }
    }
  }

  private arrayBuffer(b: ArrayBuffer): void {
    const n: number = arrayBufferByteLength.call(b);
    const resizable = isResizable(b);
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
      code = viewCodes[name];
      buffer = typedArrayBuffer.call(v);
      offset = typedArrayByteOffset.call(v);
      length = typedArrayLength.call(v);
    }
    const tracking = isResizable(buffer) && isLengthTracking(v, code, buffer, offset, length);
    this.byte(T.View);
    this.byte(tracking ? code | VIEW_TRACKING : code);
    this.object(buffer);
    this.u32(offset);
    if (!tracking) this.u32(length);
  }

  /** Writes an error's head; returns its flags, its cause and errors left in errorCause/errorErrors. */
  private error(e: Error): number {
    let kind: number;
    let name: unknown;
    if (DOMExceptionCtor !== undefined && e instanceof DOMExceptionCtor) {
      kind = ERROR_DOMEXCEPTION;
      name = e.name;
    } else {
      name = e.name;
      const known = typeof name === "string" ? errorKindByName[name] : undefined;
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
    this.errorCause = flags & EF.Cause ? causeDesc!.value : undefined;
    this.errorErrors = flags & EF.Errors ? errorsDesc!.value : undefined;
    return flags;
  }

  /** Retains every forkless object met, writes their handles after the body, and prepends the header. */
  private trailer(refs: SharedRefs): void {
    const body = this.pos;
    const objects = this.shared;
    const count = objects.length;
    const handles = table<Handle>();
    for (let i = 0; i < count; i++) handles[i] = refs.retain(objects[i]);
    // The handles are read first, with ids of their own.
    this.forget(0);
    this.forgetShared();
    this.u32(count);
    for (let i = 0; i < count; i++) this.value(handles[i]);
    if (this.shared.length !== 0) throw new TypeError("forkless: a handle cannot hold a forkless object");
    if (this.pos + 5 > this.buf.length) this.grow(5);
    this.buf.copyWithin(5, 0, this.pos);
    this.buf[0] = T.SharedHeader;
    this.view.setUint32(1, body, true);
    this.pos += 5;
  }
}

// Frames of Encoder.deep().
const enum W {
  Props, // an object's (or array's) (key, value) pairs: lists = keys, at = next key
  Items, // a short array's elements: lists = its keys, at = next index, ends = length, counts = index keys used
  Long, // a long array's elements: at = next index, ends = length, counts = holes so far
  List, // a Map's entries or a Set's items: lists = them, at = next
  Error, // counts = EF.Cause | EF.Errors still to write, lists = [cause, errors]
}

/** How many of keys (Object.keys of an array: index keys first, ascending) are indices below i. */
function indexKeysBelow(keys: string[], i: number): number {
  let j = 0;
  while (j < keys.length) {
    const k = keys[j];
    const index = +k;
    if (!(index < i) || String(index) !== k) break;
    j++;
  }
  return j;
}

/**
 * Whether a view over a resizable buffer tracks the buffer's length (made without a length).
 * No intrinsic tells: a view that ends where a tracking one would is checked by growing the
 * buffer by one element and shrinking it back (its contents stay as they were; no other code
 * runs meanwhile). A buffer already at its maxByteLength is checked on a structuredClone copy
 * of the view (shrunk there, where a fixed-length view falls out of bounds). A zero-length view
 * at the end of a buffer at its maximum cannot be told apart: it is sent as fixed-length.
 */
function isLengthTracking(v: ArrayBufferView, code: number, buffer: ArrayBuffer, offset: number, length: number): boolean {
  if (arrayBufferResize === undefined) return false;
  const typed = code !== 0;
  const size: number = typed ? (viewCtors[code] as any).BYTES_PER_ELEMENT : 1;
  const byteLength: number = arrayBufferByteLength.call(buffer);
  if (length !== floor((byteLength - offset) / size)) return false;
  const lengthOf = (view: object): number => (typed ? typedArrayLength.call(view) : dataViewByteLength.call(view));
  try {
    if (byteLength + size <= arrayBufferMaxByteLength!.call(buffer)) {
      arrayBufferResize.call(buffer, byteLength + size);
      const grown = lengthOf(v);
      arrayBufferResize.call(buffer, byteLength);
      return grown !== length;
    }
    if (length === 0 || typeof structuredClone !== "function") return false;
    const copy: any = structuredClone(v);
    arrayBufferResize.call(typed ? typedArrayBuffer.call(copy) : dataViewBuffer.call(copy), byteLength - size);
    return hasBrand(typed ? typedArrayKeys : dataViewByteLength, copy); // still in bounds: it tracked the shrink
  } catch {
    return false; // a buffer that cannot be resized (e.g. over Wasm memory)
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
    message = findRefused(root, "value", new Set(), 0);
  } catch {
    // A getter that throws on the second walk: fall back to the message without a path.
  }
  // Not found within FIND_DEPTH levels (or the walk failed).
  return new UnsupportedValueError(message ?? refusalMessage(refusal.kind, refusal.value, `a value inside value (more than ${FIND_DEPTH} levels deep)`));
}

/** Walks like the encoder, in the same order, FIND_DEPTH levels deep; returns the message for the first refused value. */
function findRefused(v: unknown, at: string, seen: Set<object>, depth: number): string | null {
  if (typeof v === "function") return refusalMessage(K.RFunction, v, at);
  if (typeof v === "symbol") return refusalMessage(K.RSymbol, v, at);
  if (typeof v !== "object" || v === null) return null;
  if (seen.has(v)) return null;
  seen.add(v);
  if (isProxy !== undefined && isProxy(v)) return refusalMessage(K.RProxy, v, at);
  if (depth >= FIND_DEPTH) return null;
  depth++;
  const proto = getProto(v);
  if (proto === objectProto) return findInProps(v, objectKeys(v), at, seen, depth);
  if (isArray(v)) return findInArray(v, at, seen, depth);
  if (v instanceof SharedObject) return null;
  const kind = proto === null ? (toStringTag.call(v) === "[object Object]" ? K.NullProto : K.RHost) : classify(v);
  if (kind < 0) return refusalMessage(kind, v, at);
  switch (kind) {
    case K.Plain:
    case K.NullProto:
      return findInProps(v, objectKeys(v), at, seen, depth);
    case K.Map: {
      const entries = mapEntries(v);
      for (let i = 0; i < entries.length; i += 2) {
        const k = entries[i];
        const found = findRefused(k, `${at}.keys()[${i / 2}]`, seen, depth) ?? findRefused(entries[i + 1], pathKey(at, typeof k === "string" ? k : i / 2), seen, depth);
        if (found !== null) return found;
      }
      return null;
    }
    case K.Set: {
      const items = setItems(v);
      for (let i = 0; i < items.length; i++) {
        const found = findRefused(items[i], `${at}.values()[${i}]`, seen, depth);
        if (found !== null) return found;
      }
      return null;
    }
    case K.View: {
      const buffer = typedArrayName.call(v) === undefined ? dataViewBuffer.call(v) : typedArrayBuffer.call(v);
      return findRefused(buffer, `${at}.buffer`, seen, depth);
    }
    case K.Error: {
      const cause = getOwnDescriptor(v, "cause");
      const errors = getOwnDescriptor(v, "errors");
      return (
        (cause !== undefined && "value" in cause ? findRefused(cause.value, `${at}.cause`, seen, depth) : null) ??
        (errors !== undefined && "value" in errors ? findRefused(errors.value, `${at}.errors`, seen, depth) : null)
      );
    }
  }
  return null;
}

function findInProps(o: object, keys: string[], at: string, seen: Set<object>, depth: number, from = 0): string | null {
  for (let i = from; i < keys.length; i++) {
    const k = keys[i];
    const index = isArray(o) && /^(?:0|[1-9]\d*)$/.test(k) ? Number(k) : -1;
    const found = findRefused((o as any)[k], pathKey(at, index >= 0 && index < 0xffffffff ? index : k), seen, depth);
    if (found !== null) return found;
  }
  return null;
}

function findInArray(a: unknown[], at: string, seen: Set<object>, depth: number): string | null {
  if (a.length <= ARRAY_KEYS_MAX) return findInProps(a, objectKeys(a), at, seen, depth);
  let holes = 0;
  for (let i = 0; i < a.length; i++) {
    if (!(i in a)) {
      if (++holes > SPARSE_HOLES && holes * 2 > i) {
        const keys = objectKeys(a);
        return findInProps(a, keys, at, seen, depth, indexKeysBelow(keys, i));
      }
      continue;
    }
    const found = findRefused(a[i], `${at}[${i}]`, seen, depth);
    if (found !== null) return found;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Decoding. The state lives in module variables (saved and restored around a nested call).

let d8: Uint8Array = new Uint8Array(0); // the message

let dpos = 0;
const EMPTY = new Uint8Array(0);
let dobjs = table<unknown>();
let dcount = 0;
let dlive = table<SharedObject>();
/** Containers open on the recursive path; from nestLimit on, readDeep() takes over. */
let ddepth = 0;
let nestLimit = NEST_RECURSIVE;

const keyCache = table<string | undefined>();
for (let i = 0; i < KEY_CACHE_SIZE; i++) keyCache[i] = undefined; // filled in order: V8 keeps fast elements

function corrupt(what?: string): Error {
  return new TypeError(`forkless: cannot decode a corrupt message${what ? ` (${what})` : ""}; it was not written by this build's encoder, or was changed in transit`);
}

/** Whether a decode() is running (a nested one, from revive(), saves its state). */
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
  ddepth = 0;
  dkeysTop = 0;
  let value: unknown;
  try {
    try {
      value = readValue();
    } catch (error) {
      value = readAgain(error, 0, 0);
    }
    if (dpos !== bytes.length) checkEnd(bytes.length);
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
  const sdepth = ddepth;
  const slimit = nestLimit;
  const skeys = dkeysTop;
  if (decoding) {
    dobjs = table();
    dlive = table();
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
      ddepth = 0;
      nestLimit = NEST_RECURSIVE;
      for (let i = 0; i < n; i++) dlive[dlive.length++] = refs.revive(readValue() as Handle);
      if (dpos !== end) throw corrupt();
      clearObjs();
      dpos = 5;
      end = body;
    }
    const start = dpos;
    const keysStart = dkeysTop;
    ddepth = 0;
    let value: unknown;
    try {
      value = readValue();
    } catch (error) {
      value = readAgain(error, start, keysStart);
    }
    checkEnd(end);
    return value;
  } finally {
    clearObjs();
    for (let i = 0; i < dlive.length; i++) dlive[i] = undefined as any;
    dlive.length = 0;
    d8 = s8;
    dpos = spos;
    dobjs = sobjs;
    dcount = scount;
    dlive = slive;
    decoding = sdecoding;
    ddepth = sdepth;
    nestLimit = slimit;
    dkeysTop = skeys;
  }
}

/**
 * Reads the value again, all of it with the explicit stack, after the recursive path
 * overflowed the stack (a thread whose stack was nearly used up before decode() was called):
 * nothing but this code ran meanwhile, so the message is still whole.
 */
function readAgain(error: unknown, start: number, keysStart: number): unknown {
  if (!(error instanceof RangeErrorCtor || (error as any)?.name === "InternalError")) throw error; // InternalError: Firefox's "too much recursion"
  clearObjs();
  dpos = start;
  ddepth = 0;
  dkeysTop = keysStart;
  nestLimit = 0;
  try {
    return readValue();
  } finally {
    nestLimit = NEST_RECURSIVE;
  }
}

function checkEnd(end: number): void {
  if (dpos !== end) throw corrupt(dpos < end ? "bytes after the value" : "truncated");
}

function clearObjs(): void {
  const n = dcount;
  if (n > 4096) dobjs = table();
  else for (let i = 0; i < n; i++) dobjs[i] = undefined;
  dcount = 0;
}

function readU32At(p: number): number {
  const b = d8;
  return (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0;
}

function readU32(): number {
  const p = dpos;
  if (p + 4 > d8.length) throw corrupt("truncated");
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
  if (p + 8 > b.length) throw corrupt("truncated");
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

// A reused descriptor for defineProperty: null-prototype, so nothing inherited is read as a field.
const dataDescriptor: PropertyDescriptor = createObject(null);
dataDescriptor.writable = true;
dataDescriptor.enumerable = true;
dataDescriptor.configurable = true;

/** An own, enumerable, writable, configurable data property, as structured clone makes them. */
function defineData(o: object, k: PropertyKey, x: unknown): void {
  dataDescriptor.value = x;
  try {
    defineProperty(o, k, dataDescriptor);
  } catch {
    throw corrupt(`property ${typeof k === "string" ? JSON.stringify(k) : String(k)} cannot be defined`); // an array's "length"
  } finally {
    dataDescriptor.value = undefined;
  }
}

/**
 * o[k] = x is [[Set]]: it makes an own data property only while nothing on the prototype
 * chain has k (a setter would get x; a read-only k would refuse it). `k in objectProto` is the
 * whole chain of a plain object, and runs nothing; a key found there is defined instead.
 */
function putProp(o: any, k: string, x: unknown): void {
  if (k in objectProto) defineData(o, k, x);
  else o[k] = x;
}

/**
 * The same for an array (index keys included), whose chain is Array.prototype, then
 * Object.prototype, unless a program changed that: then `in` could run a Proxy's trap.
 */
function putArrayProp(a: any, k: string | number, x: unknown): void {
  if (getProto(arrayProto) !== objectProto || k in arrayProto) defineData(a, k, x);
  else a[k] = x;
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
      if (ddepth >= nestLimit) {
        dpos--;
        return readDeep();
      }
      return readObject();
    case T.ObjectNull:
    case T.SparseArray:
    case T.Map:
    case T.Set:
    case T.Error:
      if (ddepth >= nestLimit) {
        dpos--;
        return readDeep();
      }
      return readContainer(t);
    case T.Array:
      if (ddepth >= nestLimit) {
        dpos--;
        return readDeep();
      }
      return readArray();
    case T.Ref: {
      const id = readU32();
      if (id >= dcount) throw corrupt("a reference to an object not yet read");
      return dobjs[id];
    }
    case T.Date: {
      const d = new DateCtor(readF64());
      remember(d);
      return d;
    }
    case T.RegExp:
      return readRegExp();
    case T.ArrayBuffer:
    case T.ResizableArrayBuffer:
      return readArrayBuffer(t);
    case T.View:
      return readView();
    case T.NumberObject: {
      const o = new NumberCtor(readF64());
      remember(o);
      return o;
    }
    case T.StringObject: {
      const o = new StringCtor(readString());
      remember(o);
      return o;
    }
    case T.FalseObject:
    case T.TrueObject: {
      const o = new BooleanCtor(t === T.TrueObject);
      remember(o);
      return o;
    }
    case T.BigIntObject: {
      const t2 = d8[dpos++];
      if (t2 !== T.BigInt64 && t2 !== T.BigInt) throw corrupt();
      const o = ObjectCtor(readBigInt(t2));
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
  throw corrupt(dpos > d8.length ? "truncated" : `unknown tag ${t}`);
}

/**
 * Plain objects are made from templates. o[k] = x is [[Set]], which consults Object.prototype
 * for every new key (see putProp): checking `k in objectProto` first costs about 8 ns a key,
 * a quarter of a small object's decode. A template of a shape (an object with its keys as own
 * data properties, made once with that check) can instead be copied with {...template}, which
 * defines each property (V8 copies it in one step); the values then go into properties the
 * copy already owns, and nothing on Object.prototype is looked at, whatever was added to it
 * since. The shape is predicted from the object's first key and the key it is stored under
 * (an order's "id" and its customer's "id" start different shapes), and checked key by key:
 * a key that differs (or an early End) drops the template's remaining keys (deleted from the
 * last one, which keeps V8's fast map) and carries on with the check. A shape that keeps
 * missing is replaced by the one met.
 */
interface Shape {
  readonly keys: Table<string>;
  readonly n: number;
  readonly template: object;
  /** Hits minus misses, capped: below SHAPE_REPLACE the next shape met replaces this one. */
  score: number;
}
const shapes = table<Shape | undefined>();
for (let i = 0; i < SHAPE_CACHE_SIZE; i++) shapes[i] = undefined;
/** The keys of the objects being read on the checked path (a stack: nested objects push theirs above). */
const dkeys = table<string>();
let dkeysTop = 0;
/** Where the value being read goes: the cache slot + 1 of the key it is stored under (an array's, for its items); a hint only. */
let dctx = 0;

function readObject(): object {
  const ctx = dctx;
  let t = d8[dpos++];
  if (t === T.End) {
    const empty = {};
    remember(empty);
    return empty;
  }
  let k = readKey(t);
  const slot = keySlot < 0 ? -1 : (keySlot ^ (imul(ctx, 0x9e3779b1) >>> 20)) & (SHAPE_CACHE_SIZE - 1);
  dctx = keySlot + 1;
  const shape = slot >= 0 ? shapes[slot] : undefined;
  let o: any;
  let i = 0; // keys the template gave so far
  ddepth++;
  if (shape !== undefined && shape.keys[0] === k) {
    o = { ...shape.template };
    remember(o);
    const keys = shape.keys;
    const n = shape.n;
    for (;;) {
      o[k] = readValue(); // an own property of the copy
      i++;
      t = d8[dpos++];
      if (t === T.End) {
        dctx = ctx;
        ddepth--;
        if (i === n) {
          if (shape.score < SHAPE_SCORE_MAX) shape.score++;
          return o;
        }
        for (let j = n - 1; j >= i; j--) delete o[keys[j]];
        if (--shape.score < SHAPE_REPLACE) shapes[slot] = newShape(keys, 0, i);
        return o;
      }
      k = readKey(t);
      dctx = keySlot + 1;
      if (i >= n || keys[i] !== k) break;
    }
    for (let j = shape.n - 1; j >= i; j--) delete o[shape.keys[j]];
    shape.score--;
  } else {
    if (shape !== undefined) shape.score--; // a shape of another first key in the slot
    o = {};
    remember(o);
  }
  // The checked path: the first i keys came from the template; k was read next.
  const ks = dkeys;
  const base = dkeysTop;
  let top = base;
  for (let j = 0; j < i; j++) ks[top++] = shape!.keys[j];
  for (;;) {
    ks[top++] = k;
    dkeysTop = top;
    const x = readValue();
    if (k in objectProto) defineData(o, k, x); // see putProp
    else o[k] = x;
    t = d8[dpos++];
    if (t === T.End) break;
    k = readKey(t);
    dctx = keySlot + 1;
  }
  dctx = ctx;
  dkeysTop = base;
  if (slot >= 0 && top - base <= SHAPE_KEYS_MAX && (shape === undefined || shape.score < SHAPE_REPLACE)) shapes[slot] = newShape(ks, base, top - base);
  for (let j = base; j < top; j++) ks[j] = undefined as any;
  ddepth--;
  return o;
}

/** A shape of count keys from keys[from...]; none for a repeated key (a corrupt message). */
function newShape(keys: Table<string>, from: number, count: number): Shape | undefined {
  const own = table<string>();
  const template: any = {};
  for (let i = 0; i < count; i++) {
    const k = (own[i] = keys[from + i]);
    for (let j = 0; j < i; j++) if (own[j] === k) return undefined;
    if (k in objectProto) defineData(template, k, undefined);
    else template[k] = undefined;
  }
  own.length = count;
  return { keys: own, n: count, template, score: 0 };
}

function readArray(): unknown[] {
  const n = readU32();
  const a: unknown[] = [];
  remember(a);
  ddepth++;
  const plain = getProto(arrayProto) === objectProto;
  const ctx = dctx;
  for (let i = 0; i < n; i++) {
    dctx = ctx;
    const t = d8[dpos];
    if (t === T.Hole) {
      dpos++;
      a.length = i + 1;
    } else if (t === T.SparseTail) {
      dpos++;
      a.length = n;
      break;
    } else {
      const x = readValue();
      if (plain && !(i in arrayProto)) a[i] = x;
      else defineData(a, i, x);
    }
  }
  readArrayProps(a);
  ddepth--;
  return a;
}

function readArrayProps(a: unknown[]): void {
  for (;;) {
    const t = d8[dpos++];
    if (t === T.End) return;
    const k = readKey(t);
    putArrayProp(a, k, readValue());
  }
}

/** The other containers, on the recursive path. */
function readContainer(t: number): unknown {
  ddepth++;
  let value: any;
  switch (t) {
    case T.ObjectNull: {
      const o = (value = createObject(null));
      remember(o);
      // Nothing to inherit a setter from: [[Set]] defines ("__proto__" included).
      for (let u = d8[dpos++]; u !== T.End; u = d8[dpos++]) {
        const k = readKey(u);
        o[k] = readValue();
      }
      break;
    }
    case T.SparseArray: {
      const a = (value = [] as unknown[]);
      a.length = readU32();
      remember(a);
      readArrayProps(a);
      break;
    }
    case T.Map: {
      const m = (value = new MapCtor());
      remember(m);
      while (d8[dpos] !== T.End) {
        const k = readValue();
        mapSet.call(m, k, readValue());
      }
      dpos++;
      break;
    }
    case T.Set: {
      const s = (value = new SetCtor());
      remember(s);
      while (d8[dpos] !== T.End) setAdd.call(s, readValue());
      dpos++;
      break;
    }
    default: {
      const e = (value = readErrorHead());
      const flags = errorFlags;
      if (flags & EF.Cause) defineError(e, "cause", readValue());
      if (flags & EF.Errors) defineError(e, "errors", readValue());
    }
  }
  ddepth--;
  return value;
}

// Frames of readDeep().
const enum R {
  Props, // (key, value)* End into an object: keys = the key being read
  NullProps, // the same, null prototype
  ArrayProps, // the same, into an array
  Items, // an array's elements: at = next index, ends = length
  MapKey, // (key, value)* End into a Map
  MapValue, // keys = the entry's key
  SetItems, // value* End into a Set
  Error, // at = EF.Cause | EF.Errors still to read
}

/**
 * The container at dpos and everything inside it, read with an explicit stack (one frame
 * per open container, in parallel arrays), in the same order and with the same ids as the
 * recursive path. Its memory is bounded by the message: every frame took at least a byte.
 */
function readDeep(): unknown {
  const kinds = table<number>();
  const objs = table<any>();
  const at = table<number>();
  const ends = table<number>();
  const keys = table<unknown>();
  let sp = -1;
  let x: unknown;
  for (;;) {
    // Read a value: a leaf whole, a container as its head and a frame.
    const t = d8[dpos];
    let frame = -1;
    let o: any;
    let n = 0;
    switch (t) {
      case T.Object:
        dpos++;
        remember((o = {}));
        frame = R.Props;
        break;
      case T.ObjectNull:
        dpos++;
        remember((o = createObject(null)));
        frame = R.NullProps;
        break;
      case T.Array:
        dpos++;
        n = readU32();
        remember((o = []));
        frame = R.Items;
        break;
      case T.SparseArray:
        dpos++;
        o = [];
        o.length = readU32();
        remember(o);
        frame = R.ArrayProps;
        break;
      case T.Map:
        dpos++;
        remember((o = new MapCtor()));
        frame = R.MapKey;
        break;
      case T.Set:
        dpos++;
        remember((o = new SetCtor()));
        frame = R.SetItems;
        break;
      case T.Error:
        dpos++;
        o = readErrorHead();
        n = errorFlags & (EF.Cause | EF.Errors);
        frame = R.Error;
        break;
      default:
        x = readValue(); // not a container: no recursion
    }
    if (frame >= 0) {
      sp++;
      kinds[sp] = frame;
      objs[sp] = o;
      at[sp] = frame === R.Error ? n : 0;
      ends[sp] = n;
      keys[sp] = undefined;
    }
    // Store the value read into its container, and find the next one to read; a finished
    // container is itself the value read for the one around it.
    let have = frame < 0;
    for (;;) {
      if (have) {
        if (sp < 0) return x;
        const c = objs[sp];
        switch (kinds[sp]) {
          case R.Props:
            putProp(c, keys[sp] as string, x);
            break;
          case R.NullProps:
            c[keys[sp] as string] = x;
            break;
          case R.ArrayProps:
            putArrayProp(c, keys[sp] as string, x);
            break;
          case R.Items:
            putArrayProp(c, at[sp]++, x);
            break;
          case R.MapKey:
            keys[sp] = x;
            kinds[sp] = R.MapValue;
            break;
          case R.MapValue:
            mapSet.call(c, keys[sp], x);
            kinds[sp] = R.MapKey;
            break;
          case R.SetItems:
            setAdd.call(c, x);
            break;
          case R.Error: {
            const left = at[sp];
            if (left & EF.Cause) {
              defineError(c, "cause", x);
              at[sp] = left & ~EF.Cause;
            } else {
              defineError(c, "errors", x);
              at[sp] = 0;
            }
          }
        }
        if (kinds[sp] !== R.MapValue) keys[sp] = undefined;
      }
      let more = false;
      switch (kinds[sp]) {
        case R.Items: {
          const c = objs[sp];
          const end = ends[sp];
          let i = at[sp];
          while (i < end) {
            const u = d8[dpos];
            if (u === T.Hole) {
              dpos++;
              c.length = ++i;
            } else if (u === T.SparseTail) {
              dpos++;
              c.length = i = end;
            } else break;
          }
          at[sp] = i;
          if (i < end) {
            more = true;
            break;
          }
          kinds[sp] = R.ArrayProps;
        }
        // falls through: then its named properties
        case R.Props:
        case R.NullProps:
        case R.ArrayProps: {
          const u = d8[dpos++];
          if (u !== T.End) {
            keys[sp] = readKey(u);
            more = true;
          }
          break;
        }
        case R.MapKey:
        case R.SetItems:
          if (d8[dpos] === T.End) dpos++;
          else more = true;
          break;
        case R.MapValue:
          more = true;
          break;
        case R.Error:
          more = at[sp] !== 0;
          break;
      }
      if (more) break;
      x = objs[sp];
      objs[sp] = keys[sp] = undefined;
      sp--;
      have = true;
    }
  }
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
  throw corrupt(dpos > d8.length ? "truncated" : "a string expected");
}

function readAscii(n: number): string {
  const b = d8;
  const p = dpos;
  if (p + n > b.length) throw corrupt("truncated");
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
  if (n >= DECODE_ASCII_NATIVE) return textDecode.call(utf8Decoder, b.subarray(p, p + n));
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

/** The key cache slot of the key readKey() returned last, or -1. */
let keySlot = -1;

/** An object key: short ASCII keys come from a cache of strings already made. */
function readKey(t: number): string {
  if (t >= T.FixAscii && t < T.FixAsciiEnd) {
    const n = t - T.FixAscii;
    if (n <= KEY_CACHE_MAX) {
      const b = d8;
      const p = dpos;
      const end = p + n;
      if (end > b.length) throw corrupt("truncated");
      let h = n;
      for (let i = p; i < end; i++) h = (imul(h, 31) + b[i]) | 0;
      const slot = (h ^ (h >>> 13)) & (KEY_CACHE_SIZE - 1);
      keySlot = slot;
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
    keySlot = -1;
    return readAscii(n);
  }
  keySlot = -1;
  return readStringTagged(t);
}

function readUtf8(n: number): string {
  const p = dpos;
  if (p + n > d8.length) throw corrupt("truncated");
  dpos = p + n;
  return textDecode.call(utf8Decoder, d8.subarray(p, p + n));
}

function readUtf16(n: number, wellFormed: boolean): string {
  const b = d8;
  const p = dpos;
  if (p + 2 * n > b.length) throw corrupt("truncated");
  dpos = p + 2 * n;
  if (n < DECODE_UTF16_NATIVE || !littleEndian) {
    let s = "";
    for (let i = p, end = p + 2 * n; i < end; i += 2) s += fromCharCode(b[i] | (b[i + 1] << 8));
    return s;
  }
  // TextDecoder would replace lone surrogates: only for strings known to have none.
  if (wellFormed) return textDecode.call(utf16Decoder, b.subarray(p, p + 2 * n));
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
  const sign = d8[dpos++];
  const n = readU32();
  const p = dpos;
  if (sign > 1 || p + n > d8.length) throw corrupt(sign > 1 ? "a bigint's sign" : "truncated");
  dpos = p + n;
  for (let i = p; i < p + n; i++) {
    const c = d8[i];
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) throw corrupt("a bigint's digits");
  }
  if (n === 0) throw corrupt("a bigint's digits");
  const hex = textDecode.call(utf8Decoder, d8.subarray(p, p + n));
  let magnitude: bigint;
  try {
    magnitude = BigIntCtor!("0x" + hex);
  } catch (error) {
    throw new RangeErrorCtor(`forkless: cannot decode a bigint of ${n * 4} bits: ${(error as Error).message}`, { cause: error });
  }
  return sign === 1 ? -magnitude : magnitude;
}

function readRegExp(): RegExp {
  const source = readString();
  const flags = readString();
  let r: RegExp;
  try {
    r = new RegExpCtor(source, flags);
  } catch (error) {
    // Corrupt, or flags this engine lacks (the v flag before 2023).
    throw new SyntaxError(`forkless: cannot decode the RegExp /${source}/${flags}: ${(error as Error).message}`, { cause: error });
  }
  remember(r);
  return r;
}

function readArrayBuffer(t: number): ArrayBuffer {
  const n = readU32();
  let max = 0;
  if (t === T.ResizableArrayBuffer) {
    max = readF64();
    if (!(max >= n && max <= Number.MAX_SAFE_INTEGER && max === floor(max))) throw corrupt("an ArrayBuffer's maxByteLength");
  }
  // Checked before allocating: a corrupt length must not allocate up to 4 GiB.
  const p = dpos;
  if (p + n > d8.length) throw corrupt("truncated");
  let buffer: ArrayBuffer;
  if (t === T.ResizableArrayBuffer) {
    try {
      buffer = new (ArrayBufferCtor as any)(n, { maxByteLength: max });
    } catch (error) {
      throw new RangeErrorCtor(`forkless: cannot make a resizable ArrayBuffer of ${n} bytes with maxByteLength ${max} here: ${(error as Error).message}`, { cause: error });
    }
  } else {
    buffer = new ArrayBufferCtor(n);
  }
  new Uint8Array(buffer).set(d8.subarray(p, p + n));
  dpos = p + n;
  remember(buffer);
  return buffer;
}

function readView(): ArrayBufferView {
  const type = d8[dpos++];
  const code = type & ~VIEW_TRACKING;
  const tracking = type !== code;
  const ctor = code < viewCtors.length ? (viewCtors[code] as any) : undefined; // no index past the end: it would be looked up on Array.prototype
  if (ctor === undefined) {
    if (code < viewCtors.length) throw new TypeError(`forkless: this engine has no ${code === 12 ? "Float16Array" : "typed array of kind " + code}`);
    throw corrupt("a view's type");
  }
  const id = dcount++; // the view's id comes before its buffer's
  // Its buffer: an ArrayBuffer, or a reference to one read before.
  const t = d8[dpos++];
  let buffer: any;
  if (t === T.ArrayBuffer || t === T.ResizableArrayBuffer) buffer = readArrayBuffer(t);
  else if (t === T.Ref) {
    const ref = readU32();
    buffer = ref < dcount ? dobjs[ref] : undefined;
  }
  if (typeof buffer !== "object" || buffer === null || !hasBrand(arrayBufferByteLength, buffer)) throw corrupt("a view's buffer");
  const offset = readU32();
  const size: number = code === 0 ? 1 : ctor.BYTES_PER_ELEMENT;
  const byteLength: number = arrayBufferByteLength.call(buffer);
  let view: ArrayBufferView;
  if (tracking) {
    if (!isResizable(buffer) || offset > byteLength || offset % size !== 0) throw corrupt("a view's bounds");
    view = new ctor(buffer, offset);
  } else {
    const length = readU32();
    if (offset % size !== 0 || offset + length * size > byteLength) throw corrupt("a view's bounds");
    view = new ctor(buffer, offset, length);
  }
  dobjs[id] = view;
  return view;
}

/** The flags of the error readErrorHead() read last. */
let errorFlags = 0;

/** An error's kind, flags, name, message and stack; its cause and errors are read by the caller. */
function readErrorHead(): Error {
  const kind = d8[dpos++];
  const flags = (errorFlags = d8[dpos++]);
  const name = flags & EF.Name ? readString() : undefined;
  const message = flags & EF.Message ? readString() : undefined;
  const stack = flags & EF.Stack ? readString() : undefined;
  let e: any;
  if (kind === ERROR_DOMEXCEPTION && DOMExceptionCtor !== undefined) {
    e = new DOMExceptionCtor(message ?? "", name);
  } else {
    const ctor: any = (kind < errorCtors.length ? errorCtors[kind] : undefined) ?? Error;
    if (kind === 7) e = message === undefined ? new ctor([]) : new ctor([], message);
    else e = message === undefined ? new ctor() : new ctor(message);
    if (name !== undefined) defineError(e, "name", name);
  }
  try {
    if (stack !== undefined) defineError(e, "stack", stack);
    else delete e.stack;
  } catch {
    // An engine whose stack property cannot be replaced keeps its own.
  }
  if (kind === 7 && !(flags & EF.Errors)) delete e.errors;
  remember(e);
  return e;
}

function defineError(e: object, k: string, x: unknown): void {
  defineProperty(e, k, { value: x, writable: true, enumerable: false, configurable: true });
}
