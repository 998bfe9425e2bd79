// Values that cross into another process. Everything structured clone accepts passes as
// is; forkless objects (anywhere inside arrays, objects, Maps, Sets) travel as handles and
// arrive live on the same shared blocks; what cannot cross is refused up front with its
// path, before anything is sent.
import { SharedObject, TransitBuilder, adoptHandle, type Handle } from "./handles";

const MARK = "__forklessHandle__";
/** Wraps a user object whose only key happens to be MARK or ESCAPE, so it is never taken for a handle. */
const ESCAPE = "__forklessEscaped__";

interface Marked {
  [MARK]: Handle;
}

function isPlainContainer(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

// Types structured clone copies itself; we leave them untouched.
function isCloneLeaf(value: object): boolean {
  return (
    value instanceof Date ||
    value instanceof RegExp ||
    value instanceof ArrayBuffer ||
    ArrayBuffer.isView(value) ||
    value instanceof Error ||
    (typeof SharedArrayBuffer !== "undefined" && value instanceof SharedArrayBuffer) ||
    value instanceof Boolean ||
    value instanceof Number ||
    value instanceof String ||
    (typeof BigInt !== "undefined" && Object.prototype.toString.call(value) === "[object BigInt]")
  );
}

function key(path: string, name: string | number): string {
  if (typeof name === "number") return `${path}[${name}]`;
  return /^[A-Za-z_$][\w$]*$/.test(name) ? `${path}.${name}` : `${path}[${JSON.stringify(name)}]`;
}

/**
 * Prepares value for postMessage: forkless objects become marked handles, collected in
 * `transit` (which takes their references when the caller commits it; the receiver adopts
 * them from there, and a handle the transit does not carry is refused). Throws a TypeError
 * naming the path of anything that cannot cross, having collected nothing.
 */
export function encodeForTransfer(value: unknown, path: string, transit: TransitBuilder): unknown {
  const seen = new Map<object, unknown>();
  const marks: [Record<string, unknown>, SharedObject][] = [];
  const out = encodeWalk(value, path, seen, marks);
  for (const [mark, object] of marks) mark[MARK] = transit.retain(object);
  return out;
}

/** An own-keys list that could be mistaken for our marker or escape. */
function looksLikeMarker(v: object): boolean {
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === MARK || keys[0] === ESCAPE);
}

function encodeWalk(
  value: unknown,
  path: string,
  seen: Map<object, unknown>,
  marks: [Record<string, unknown>, SharedObject][],
): unknown {
  const walk = (v: unknown, at: string): unknown => {
    if (typeof v === "function") {
      throw new TypeError(
        `${at} is a function, which cannot be sent to another process; pass data instead (or export the function and name it)`,
      );
    }
    if (typeof v === "symbol") throw new TypeError(`${at} is a symbol, which cannot be sent to another process`);
    if (typeof v !== "object" || v === null) return v;
    if (seen.has(v)) return seen.get(v);
    if (v instanceof SharedObject) {
      v.toHandle(); // throws ClosedError now, before anything is retained
      const marked: Record<string, unknown> = { [MARK]: null };
      marks.push([marked, v]);
      seen.set(v, marked);
      return marked;
    }
    if (v instanceof WeakMap || v instanceof WeakSet || (typeof WeakRef !== "undefined" && v instanceof WeakRef)) {
      throw new TypeError(`${at} is a ${v.constructor.name}, which cannot be sent to another process`);
    }
    if (typeof Promise !== "undefined" && v instanceof Promise) {
      throw new TypeError(`${at} is a Promise, which cannot be sent to another process; await it first`);
    }
    if (isCloneLeaf(v)) {
      seen.set(v, v);
      return v;
    }
    if (Array.isArray(v)) {
      const out: unknown[] = new Array(v.length);
      seen.set(v, out);
      for (let i = 0; i < v.length; i++) if (i in v) out[i] = walk(v[i], key(at, i));
      return out;
    }
    if (v instanceof Map) {
      const out = new Map();
      seen.set(v, out);
      let i = 0;
      for (const [k, item] of v) {
        out.set(walk(k, `${at}.keys()[${i}]`), walk(item, key(at, typeof k === "string" ? k : i)));
        i++;
      }
      return out;
    }
    if (v instanceof Set) {
      const out = new Set();
      seen.set(v, out);
      let i = 0;
      for (const item of v) out.add(walk(item, `${at}.values()[${i++}]`));
      return out;
    }
    if (!isPlainContainer(v) && typeof (globalThis as any).MessagePort === "function" && v instanceof (globalThis as any).MessagePort) {
      throw new TypeError(`${at} is a MessagePort; transfer ports with postMessage yourself`);
    }
    // Plain objects, and class instances (which arrive as plain objects, as structured clone does).
    const out: Record<string, unknown> = {};
    const result = looksLikeMarker(v) ? { [ESCAPE]: out } : out;
    seen.set(v, result);
    for (const name of Object.keys(v)) out[name] = walk((v as any)[name], key(at, name));
    return result;
  };
  return walk(value, path);
}

/** The receiving side of encodeForTransfer: marked handles become live objects, in place. */
export function decodeTransferred(value: unknown): unknown {
  // Structured clone keeps shared references, so one marker may appear in several places.
  const seen = new Map<object, unknown>();
  const walk = (v: unknown): unknown => {
    if (typeof v !== "object" || v === null) return v;
    if (seen.has(v)) return seen.get(v);
    if (!isCloneLeaf(v) && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Set) && looksLikeMarker(v)) {
      if (MARK in v) {
        const live = adoptHandle((v as Marked)[MARK]);
        seen.set(v, live);
        return live;
      }
      // An escaped user object: its own fields are plain data again (it is not itself a marker).
      const inner = (v as any)[ESCAPE];
      seen.set(v, inner);
      seen.set(inner, inner);
      for (const name of Object.keys(inner)) inner[name] = walk(inner[name]);
      return inner;
    }
    seen.set(v, v);
    if (isCloneLeaf(v)) return v;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) if (i in v) v[i] = walk(v[i]);
    } else if (v instanceof Map) {
      const entries = [...v];
      v.clear();
      for (const [k, item] of entries) v.set(walk(k), walk(item));
    } else if (v instanceof Set) {
      const items = [...v];
      v.clear();
      for (const item of items) v.add(walk(item));
    } else {
      for (const name of Object.keys(v)) (v as any)[name] = walk((v as any)[name]);
    }
    return v;
  };
  return walk(value);
}
