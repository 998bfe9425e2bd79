// The queue/pipe value codec (host/codec.ts): every value structured clone accepts
// round-trips exactly, refused values are named by their path, forkless objects travel
// as handles (a fake SharedRefs records the calls; real ones are covered by the queue tests).
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";

const root = fileURLToPath(new URL("../..", import.meta.url));
let dir;
let Encoder, decode, UnsupportedValueError, SharedObject;

// The codec is internal (not in dist), so it is bundled from source here; the runtime it
// imports through handles.ts gets an empty Wasm module, which these tests never start.
before(async () => {
  dir = mkdtempSync(join(tmpdir(), "forkless-codec-test-"));
  const outfile = join(dir, "codec.mjs");
  await build({
    stdin: {
      contents: 'export * from "./host/codec.ts"; export { SharedObject } from "./host/handles.ts";',
      resolveDir: root,
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    platform: "neutral",
    outfile,
    logLevel: "warning",
    plugins: [
      {
        name: "stub-wasm",
        setup(b) {
          b.onResolve({ filter: /^forkless:(wasm|abi)$/ }, (args) => ({ path: args.path.slice(9), namespace: "stub" }));
          b.onLoad({ filter: /.*/, namespace: "stub" }, (args) => ({
            // The module's numbers are real (the build wrote them); the module itself is never started here.
            contents: args.path === "abi" ? `export default ${readFileSync(join(root, "build/abi.json"), "utf8")};` : 'export default "";',
            loader: "js",
          }));
        },
      },
    ],
  });
  ({ Encoder, decode, UnsupportedValueError, SharedObject } = await import(pathToFileURL(outfile).href));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// A SharedRefs that records its calls. retain() hands out handles with an extra field;
// revive() makes a new "live" object per call, so identity shows how often it ran.
function fakeRefs() {
  const refs = {
    retained: [],
    revived: [],
    retain(object) {
      refs.retained.push(object);
      return { $forkless: "Fake", p: object.p, g: 7, extra: { tag: object.tag } };
    },
    revive(handle) {
      refs.revived.push(handle);
      return { live: true, handle };
    },
  };
  return refs;
}

let encoder;
function enc() {
  return (encoder ??= new Encoder());
}

/** encode → copy out (as the ring buffer does) → decode. */
function roundTrip(value, refs = fakeRefs()) {
  const view = enc().encode(value, refs);
  assert.ok(view instanceof Uint8Array);
  assert.ok(!(view.buffer instanceof SharedArrayBuffer), "encode() writes into a private buffer");
  return decode(view.slice(), refs);
}

function same(value) {
  const out = roundTrip(value);
  assert.deepStrictEqual(out, value);
  return out;
}

function refusal(value, message) {
  assert.throws(
    () => enc().encode(value, fakeRefs()),
    (error) => {
      assert.ok(error instanceof UnsupportedValueError, `${error}`);
      assert.ok(error instanceof TypeError);
      assert.equal(error.name, "UnsupportedValueError");
      if (message instanceof RegExp) assert.match(error.message, message);
      else assert.equal(error.message, message);
      return true;
    },
  );
}

describe("primitives", () => {
  test("undefined, null, booleans", () => {
    for (const v of [undefined, null, true, false]) assert.equal(roundTrip(v), v);
  });

  test("numbers: every integer width, doubles, -0, NaN, infinities", () => {
    const values = [
      0, 1, 2, 63, 64, 100, 127, 128, 255, 256, 32767, 32768, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1,
      2 ** 53 - 1, 2 ** 53, 2 ** 60, -1, -63, -64, -127, -128, -129, -32768, -32769, -(2 ** 31), -(2 ** 31) - 1,
      -(2 ** 53), 0.5, -0.5, 3.14159, 1e300, -1e300, 1e-300, Number.MIN_VALUE, Number.MAX_VALUE, Number.EPSILON,
      Infinity, -Infinity,
    ];
    for (const v of values) assert.equal(roundTrip(v), v, `number ${v}`);
    assert.ok(Object.is(roundTrip(-0), -0), "-0 stays -0");
    assert.ok(Object.is(roundTrip(0), 0), "0 stays +0");
    assert.ok(Number.isNaN(roundTrip(NaN)));
    const [a, b, c] = roundTrip([-0, NaN, 0]);
    assert.ok(Object.is(a, -0) && Number.isNaN(b) && Object.is(c, 0));
  });

  test("BigInt: small, 64-bit edges, huge, negative", () => {
    const values = [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 63n, -(2n ** 63n) - 1n, 2n ** 64n, -(2n ** 64n), 2n ** 4000n + 12345n, -(3n ** 3000n)];
    for (const v of values) assert.equal(roundTrip(v), v);
  });
});

describe("strings", () => {
  const samples = {
    empty: "",
    ascii: "item-12345",
    nul: "a\u0000b",
    latin1: "Crème brûlée",
    cjk: "日本語のテキスト",
    astral: "😀 🎉 𝄞 👩‍👩‍👧",
    loneHigh: "\uD800",
    loneLow: "\uDC00",
    loneMiddle: "ab\uDBFFcd",
    reversedPair: "\uDC00\uD800",
    highAtEnd: "abc\uD83D",
    bom: "\uFEFFhello",
    bomOnly: "\uFEFF",
  };
  for (const [name, s] of Object.entries(samples)) {
    test(`${name}, short and long`, () => {
      assert.equal(roundTrip(s), s);
      for (const n of [31, 32, 47, 48, 95, 96, 255, 256, 300, 5000, 70000]) {
        const long = s.repeat(Math.ceil(n / Math.max(1, s.length))).slice(0, n) + s;
        assert.equal(roundTrip(long), long, `${name} at ${long.length}`);
      }
    });
  }

  test("ASCII strings of every length 0..300 (all encodings and decoders)", () => {
    let s = "";
    for (let n = 0; n <= 300; n++) {
      assert.equal(roundTrip(s), s);
      s += String.fromCharCode(32 + (n % 95));
    }
  });

  test("every UTF-16 code unit, lone surrogates included", () => {
    const units = [];
    for (let c = 0; c < 0x10000; c++) units.push(c);
    const all = String.fromCharCode(...units.slice(0, 40000)) + String.fromCharCode(...units.slice(40000));
    assert.equal(roundTrip(all), all);
    // A BOM that TextDecoder would strip, at the start of a long well-formed non-ASCII string.
    const bomCjk = "\uFEFF" + "漢字".repeat(500);
    assert.equal(roundTrip(bomCjk), bomCjk);
    const bomAscii = "\uFEFF" + "x".repeat(500);
    assert.equal(roundTrip(bomAscii), bomAscii);
  });

  test("strings as keys", () => {
    const o = { "": 1, "日本": 2, "\uD800": 3, "a b": 4, ["k".repeat(100)]: 5, ["é".repeat(60)]: 6 };
    const out = same(o);
    assert.deepEqual(Object.keys(out), Object.keys(o));
  });
});

describe("arrays", () => {
  test("dense, nested, empty", () => {
    same([]);
    same([1, "two", [3, [4, [5]]], { six: 6 }]);
    same(Array.from({ length: 64 }, (_, i) => i));
    same(Array.from({ length: 65 }, (_, i) => i * 1.5));
    same([undefined, null, undefined]);
  });

  test("holes are kept (short, long, trailing, all holes)", () => {
    const cases = [[1, , 3], [, 1], [1, ,], new Array(5), [, , , "x"], Object.assign(new Array(1000), { 3: "a", 998: "b" })];
    const long = Array.from({ length: 5000 }, (_, i) => i);
    delete long[0];
    delete long[2500];
    delete long[4999];
    cases.push(long);
    for (const a of cases) {
      const out = roundTrip(a);
      assert.equal(out.length, a.length);
      for (let i = 0; i < a.length; i++) {
        assert.equal(i in out, i in a, `index ${i} of length ${a.length}`);
        if (i in a) assert.equal(out[i], a[i]);
      }
      assert.deepStrictEqual(out, a);
    }
  });

  test("sparse arrays, up to length 2^32 - 1", () => {
    const a = [];
    a[1_000_000] = "far";
    a[5] = "near";
    const out = roundTrip(a);
    assert.equal(out.length, 1_000_001);
    assert.deepEqual(Object.keys(out), ["5", "1000000"]);
    assert.equal(out[1_000_000], "far");

    const huge = [];
    huge.length = 2 ** 32 - 1;
    huge[7] = 7;
    huge[2 ** 32 - 2] = "last";
    huge.name = "named";
    const outHuge = roundTrip(huge);
    assert.equal(outHuge.length, 2 ** 32 - 1);
    assert.deepEqual(Object.keys(outHuge), ["7", String(2 ** 32 - 2), "name"]);
    assert.equal(outHuge[2 ** 32 - 2], "last");
  });

  test("non-index properties of arrays (as structured clone keeps them)", () => {
    const a = [1, 2];
    a.foo = "x";
    a["-1"] = "minus";
    const out = same(a);
    assert.equal(out.foo, "x");
    assert.deepEqual(Object.keys(out), ["0", "1", "foo", "-1"]);

    const holey = [, 1];
    holey.foo = "bar"; // as many keys as length: must not be taken for a dense array
    const outHoley = same(holey);
    assert.ok(!(0 in outHoley));
    assert.equal(outHoley.foo, "bar");

    const match = "a-b-c".match(/(?<mid>b)/);
    const outMatch = roundTrip(match);
    assert.equal(outMatch.index, 2);
    assert.equal(outMatch.input, "a-b-c");
    assert.equal(Object.getPrototypeOf(outMatch.groups), null, "groups has a null prototype, and keeps it");
    assert.deepEqual({ ...outMatch.groups }, { mid: "b" });
    assert.deepEqual([...outMatch], ["b", "b"]);
    assert.deepEqual(Object.keys(outMatch), Object.keys(match));
  });

  test("non-index properties are dropped on dense arrays longer than 64 (documented limit)", () => {
    const a = Array.from({ length: 65 }, (_, i) => i);
    a.extra = 1;
    const out = roundTrip(a);
    assert.deepEqual([...out], [...a]);
    assert.equal(out.extra, undefined);
  });

  test("__proto__ as an own key does not set the prototype", () => {
    const o = JSON.parse('{"__proto__": {"polluted": 1}, "a": 2}');
    const out = same(o);
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out), ["__proto__", "a"]);
    assert.equal(({}).polluted, undefined);
    const a = [1];
    Object.defineProperty(a, "__proto__", { value: 5, enumerable: true, writable: true, configurable: true });
    const outA = roundTrip(a);
    assert.equal(Object.getPrototypeOf(outA), Array.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(outA, "__proto__").value, 5);
  });
});

describe("objects", () => {
  test("plain objects keep key order, integer-like keys first as JS orders them", () => {
    const o = { b: 1, 2: "two", a: { deep: [1, { deeper: true }] }, 1: "one", "01": "str", "-0": 0, "4294967295": "big" };
    const out = same(o);
    assert.deepEqual(Object.keys(out), Object.keys(o));
  });

  test("the hot case: a small object", () => {
    same({ id: 12345, name: "item-12345", value: 3.14159 });
    assert.ok(enc().encode({ id: 12345, name: "item-12345", value: 3.14159 }, fakeRefs()).length <= 40);
  });

  test("null prototype is kept", () => {
    const o = Object.create(null);
    o.x = 1;
    o.nested = Object.create(null);
    const out = same(o);
    assert.equal(Object.getPrototypeOf(out), null);
    assert.equal(Object.getPrototypeOf(out.nested), null);
  });

  test("class instances become plain objects of their own enumerable string-keyed properties", () => {
    class Point {
      constructor() {
        this.x = 1;
        this.y = 2;
        this[Symbol("hidden")] = 3;
        Object.defineProperty(this, "secret", { value: 4, enumerable: false });
      }
      get sum() {
        return this.x + this.y;
      }
      method() {}
    }
    function Legacy() {
      this.own = 1;
    }
    Legacy.prototype.inherited = 2; // enumerable, but not own
    for (const v of [new Point(), new Legacy()]) {
      const out = roundTrip(v);
      assert.equal(Object.getPrototypeOf(out), Object.prototype);
      assert.deepStrictEqual(out, structuredClone(v));
    }
    assert.deepStrictEqual(roundTrip(new Point()), { x: 1, y: 2 });
  });

  test("symbol keys and non-enumerable properties are skipped; getters are read", () => {
    const o = { a: 1, [Symbol("s")]: 2 };
    Object.defineProperty(o, "hidden", { value: 3, enumerable: false });
    Object.defineProperty(o, "got", { get: () => "value", enumerable: true });
    assert.deepStrictEqual(roundTrip(o), { a: 1, got: "value" });
  });

  test("a property deleted by an earlier getter is skipped, as structured clone does", () => {
    const o = {
      get a() {
        delete o.b;
        return 1;
      },
      b: 2,
      c: 3,
    };
    assert.deepStrictEqual(roundTrip(o), structuredClone(o));
    const k = Object.create(null);
    Object.defineProperty(k, "a", { enumerable: true, get: () => (delete k.b, 1) });
    k.b = 2;
    assert.deepEqual(Object.keys(roundTrip(k)), ["a"]);
  });

  test("enumerable properties on Object.prototype are not taken as own", () => {
    Object.prototype.pollution = "bad"; // eslint-disable-line no-extend-native
    try {
      const out = roundTrip({ a: 1, nested: { b: 2 } });
      assert.deepEqual(Object.keys(out), ["a", "nested"]);
      assert.deepEqual(Object.keys(out.nested), ["b"]);
    } finally {
      delete Object.prototype.pollution;
    }
  });
});

describe("Map and Set", () => {
  test("keys and values of any type, insertion order", () => {
    const key = { k: 1 };
    const m = new Map([
      [key, "object key"],
      ["s", new Set([1, "1", 1n, null, undefined, NaN, key])],
      [NaN, -0],
      [1n, [1, 2]],
      [new Date(5), /x/g],
      [undefined, null],
    ]);
    const out = same(m);
    assert.deepEqual([...out.keys()].map((k) => typeof k), [...m.keys()].map((k) => typeof k));
    const outKey = [...out.keys()][0];
    assert.ok([...out.get("s")].includes(outKey), "the key object and the set member are one object");
    assert.ok(Object.is(out.get(NaN), -0));
  });

  test("subclasses arrive as Map and Set, with their entries (not what they iterate)", () => {
    class Odd extends Map {
      *[Symbol.iterator]() {
        yield ["fake", 1];
      }
      entries() {
        return this[Symbol.iterator]();
      }
    }
    const m = new Odd([["real", 2]]);
    const out = roundTrip(m);
    assert.equal(Object.getPrototypeOf(out), Map.prototype);
    assert.deepEqual([...out], [["real", 2]]);
    class MySet extends Set {}
    assert.deepStrictEqual(roundTrip(new MySet([1, 2])), new Set([1, 2]));
  });

  test("containing themselves", () => {
    const m = new Map();
    m.set(m, m);
    const s = new Set();
    s.add(s);
    const outM = roundTrip(m);
    assert.equal(outM.get(outM), outM);
    const outS = roundTrip(s);
    assert.ok(outS.has(outS));
  });
});

describe("Date, RegExp, boxed primitives", () => {
  test("dates, invalid and extreme ones included", () => {
    for (const t of [0, 1718000000000, -1, 8.64e15, -8.64e15, 0.5]) same(new Date(t));
    const invalid = roundTrip(new Date(NaN));
    assert.ok(invalid instanceof Date);
    assert.ok(Number.isNaN(invalid.getTime()));
  });

  test("regexps keep source and flags; lastIndex is reset as structured clone does", () => {
    const flags = ["", "g", "i", "m", "s", "u", "y", "d", "gimsuyd"];
    try {
      new RegExp("a", "v");
      flags.push("v", "dgimsvy");
    } catch {}
    for (const f of flags) {
      const r = new RegExp(f.includes("v") ? "a/b[\\d--[3]]+(?<n>x)?" : "a/b[\\]/]+\\d(?<n>x)?", f);
      r.lastIndex = 3;
      const out = roundTrip(r);
      assert.ok(out instanceof RegExp);
      assert.equal(out.source, r.source);
      assert.equal(out.flags, r.flags);
      assert.equal(out.lastIndex, 0);
      assert.equal(out.lastIndex, structuredClone(r).lastIndex);
    }
  });

  test("boxed primitives", () => {
    const values = [new Number(1), new Number(-0), new Number(NaN), new String("x"), new String("日\uD800"), new Boolean(false), new Boolean(true), Object(1n), Object(-(2n ** 100n))];
    for (const v of values) {
      const out = roundTrip(v);
      assert.equal(typeof out, "object");
      assert.equal(Object.prototype.toString.call(out), Object.prototype.toString.call(v));
      assert.ok(Object.is(out.valueOf(), v.valueOf()));
    }
  });
});

describe("binary data", () => {
  const kinds = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array];
  if (typeof globalThis.Float16Array === "function") kinds.push(globalThis.Float16Array);

  test("ArrayBuffer, empty and resizable", () => {
    same(new ArrayBuffer(0));
    const b = new Uint8Array([1, 2, 3, 255]).buffer;
    same(b);
    let resizable;
    try {
      resizable = new ArrayBuffer(4, { maxByteLength: 64 });
    } catch {}
    if (resizable?.resizable) {
      new Uint8Array(resizable).set([9, 8, 7, 6]);
      const out = roundTrip(resizable);
      assert.equal(out.resizable, true);
      assert.equal(out.maxByteLength, 64);
      assert.deepEqual([...new Uint8Array(out)], [9, 8, 7, 6]);
    }
  });

  test("every typed array kind, and DataView", () => {
    for (const Kind of kinds) {
      const bigint = Kind === BigInt64Array || Kind === BigUint64Array;
      const a = new Kind(5);
      for (let i = 0; i < 5; i++) a[i] = bigint ? BigInt(i * 1000 - 1) * (Kind === BigUint64Array ? -1n : 1n) : i * 33.25 - 7;
      const out = same(a);
      assert.equal(out.constructor, Kind);
      assert.ok(!(out.buffer instanceof SharedArrayBuffer));
    }
    const dv = new DataView(new ArrayBuffer(16), 4, 8);
    dv.setFloat64(0, Math.PI);
    const out = same(dv);
    assert.ok(out instanceof DataView);
    assert.equal(out.byteOffset, 4);
    assert.equal(out.byteLength, 8);
    assert.equal(out.getFloat64(0), Math.PI);
    assert.ok(Object.is(roundTrip(new Float64Array([-0, NaN]))[0], -0));
  });

  test("views sharing one buffer decode to views sharing one buffer", () => {
    const buffer = new ArrayBuffer(64);
    const bytes = new Uint8Array(buffer, 8, 16);
    const words = new Uint32Array(buffer, 24, 4);
    const dv = new DataView(buffer, 40);
    bytes.fill(1);
    words.fill(0xdeadbeef);
    const [b, w, d, raw, bAgain] = roundTrip([bytes, words, dv, buffer, bytes]);
    assert.equal(b.buffer, w.buffer);
    assert.equal(b.buffer, d.buffer);
    assert.equal(b.buffer, raw);
    assert.equal(bAgain, b);
    assert.equal(raw.byteLength, 64);
    assert.deepEqual([b.byteOffset, b.length, w.byteOffset, w.length, d.byteOffset, d.byteLength], [8, 16, 24, 4, 40, 24]);
    b[0] = 99;
    assert.equal(new Uint8Array(raw)[8], 99, "writes through one view show in the other");
    assert.equal(w[0], 0xdeadbeef);
  });

  test("a subclass of a typed array arrives as its base kind", () => {
    class Bytes extends Uint8Array {}
    const out = roundTrip(new Bytes([1, 2]));
    assert.equal(out.constructor, Uint8Array);
    assert.deepEqual([...out], [1, 2]);
  });
});

describe("errors", () => {
  const kinds = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError];

  test("every built-in kind keeps its constructor, name, message and stack", () => {
    for (const Kind of kinds) {
      const e = new Kind(`a ${Kind.name}`);
      const out = roundTrip(e);
      assert.equal(Object.getPrototypeOf(out), Kind.prototype);
      assert.equal(out.name, Kind.name);
      assert.equal(out.message, e.message);
      assert.equal(out.stack, e.stack);
      assert.ok(!Object.prototype.hasOwnProperty.call(out, "name"));
      assert.equal(Object.getOwnPropertyDescriptor(out, "message").enumerable, false);
    }
  });

  test("cause, including a cause that is the error itself", () => {
    const e = new Error("outer", { cause: { code: 42, inner: new TypeError("inner") } });
    const out = roundTrip(e);
    assert.equal(out.cause.code, 42);
    assert.ok(out.cause.inner instanceof TypeError);
    assert.equal(out.cause.inner.message, "inner");
    const d = Object.getOwnPropertyDescriptor(out, "cause");
    assert.deepEqual([d.writable, d.enumerable, d.configurable], [true, false, true]);
    const self = new Error("self");
    self.cause = self;
    const outSelf = roundTrip(self);
    assert.equal(outSelf.cause, outSelf);
    const undefinedCause = roundTrip(new Error("x", { cause: undefined }));
    assert.ok(Object.prototype.hasOwnProperty.call(undefinedCause, "cause"));
    assert.ok(!Object.prototype.hasOwnProperty.call(roundTrip(new Error("x")), "cause"));
  });

  test("no message means no own message; a missing stack stays missing", () => {
    const out = roundTrip(new Error());
    assert.ok(!Object.prototype.hasOwnProperty.call(out, "message"));
    assert.equal(out.message, "");
    const e = new Error("no stack");
    Object.defineProperty(e, "stack", { value: undefined, configurable: true });
    const outE = roundTrip(e);
    assert.equal(typeof outE.stack, "undefined");
    assert.equal(outE.message, "no stack");
  });

  test("AggregateError keeps its errors", () => {
    const e = new AggregateError([new RangeError("r"), "plain", { o: 1 }], "many", { cause: 1 });
    const out = roundTrip(e);
    assert.ok(out instanceof AggregateError);
    assert.equal(out.message, "many");
    assert.equal(out.cause, 1);
    assert.equal(out.errors.length, 3);
    assert.ok(out.errors[0] instanceof RangeError);
    assert.deepStrictEqual(out.errors.slice(1), ["plain", { o: 1 }]);
  });

  test("custom error classes keep name, message and stack (as their built-in base)", () => {
    class MyError extends Error {
      constructor(message) {
        super(message);
        this.name = "MyError";
        this.code = "E_MINE"; // dropped, as structured clone drops it
      }
    }
    const e = new MyError("mine");
    const out = roundTrip(e);
    assert.equal(Object.getPrototypeOf(out), Error.prototype);
    assert.equal(out.name, "MyError");
    assert.equal(out.message, "mine");
    assert.equal(out.stack, e.stack);
    assert.equal(out.code, undefined);
    class Inherited extends TypeError {}
    const outInherited = roundTrip(new Inherited("i"));
    assert.equal(Object.getPrototypeOf(outInherited), TypeError.prototype);
    assert.equal(outInherited.name, "TypeError");
    class Renamed extends RangeError {
      get name() {
        return "Renamed";
      }
    }
    const outRenamed = roundTrip(new Renamed("r"));
    assert.ok(outRenamed instanceof RangeError);
    assert.equal(outRenamed.name, "Renamed");
  });

  test("DOMException keeps name and message", { skip: typeof DOMException !== "function" }, () => {
    const e = new DOMException("stopped", "AbortError");
    const out = roundTrip(e);
    assert.ok(out instanceof DOMException);
    assert.equal(out.name, "AbortError");
    assert.equal(out.message, "stopped");
    assert.equal(out.code, e.code);
  });
});

describe("shared references and cycles", () => {
  test("an object met twice decodes to one object", () => {
    const shared = { s: 1 };
    const date = new Date(1);
    const out = roundTrip({ a: shared, b: [shared, shared], m: new Map([[shared, shared]]), d1: date, d2: date });
    assert.equal(out.a, out.b[0]);
    assert.equal(out.b[0], out.b[1]);
    assert.equal([...out.m.keys()][0], out.a);
    assert.equal(out.m.get(out.a), out.a);
    assert.equal(out.d1, out.d2);
  });

  test("cycles: a → b → a, self-containing arrays, deep rings", () => {
    const a = { name: "a" };
    const b = { name: "b", a };
    a.b = b;
    const out = roundTrip(a);
    assert.equal(out.b.a, out);
    const arr = [1];
    arr.push(arr);
    const outArr = roundTrip(arr);
    assert.equal(outArr[1], outArr);
    // A ring of 200 objects (past the linear id search, into the Map).
    const first = { i: 0 };
    let last = first;
    for (let i = 1; i < 200; i++) last = last.next = { i };
    last.next = first;
    const ring = roundTrip(first);
    let node = ring;
    for (let i = 0; i < 200; i++) node = node.next;
    assert.equal(node, ring);
  });

  test("many distinct and repeated objects (ids past the linear search)", () => {
    const objects = Array.from({ length: 100 }, (_, i) => ({ i }));
    const value = [...objects, ...objects.slice().reverse()];
    const out = roundTrip(value);
    for (let i = 0; i < 100; i++) assert.equal(out[i], out[199 - i]);
  });
});

describe("forkless objects", () => {
  function sharedClass() {
    return class FakeShared extends SharedObject {
      constructor(p, tag) {
        super();
        this.p = p;
        this.tag = tag;
      }
    };
  }

  test("travel as handles; one retain and one revive per object, however often it appears", () => {
    const FakeShared = sharedClass();
    const lock = new FakeShared(64, "lock");
    const event = new FakeShared(128, "event");
    const refs = fakeRefs();
    const bytes = enc().encode({ lock, again: lock, list: [event, lock], map: new Map([[lock, event]]), error: new Error("e", { cause: event }) }, refs).slice();
    assert.deepEqual(refs.retained, [lock, event]);
    const out = decode(bytes, refs);
    assert.equal(refs.revived.length, 2);
    assert.deepEqual(refs.revived[0], { $forkless: "Fake", p: 64, g: 7, extra: { tag: "lock" } });
    assert.equal(out.lock.live, true);
    assert.equal(out.lock, out.again);
    assert.equal(out.list[1], out.lock);
    assert.equal(out.list[0].handle.p, 128);
    assert.equal(out.map.get(out.lock), out.list[0]);
    assert.equal(out.error.cause, out.list[0]);
    // The root itself.
    const refs2 = fakeRefs();
    const root = decode(enc().encode(lock, refs2).slice(), refs2);
    assert.equal(root.handle.p, 64);
  });

  test("nothing is retained when the value is refused", () => {
    const FakeShared = sharedClass();
    const refs = fakeRefs();
    assert.throws(() => enc().encode([new FakeShared(8, "x"), () => 1], refs), UnsupportedValueError);
    assert.deepEqual(refs.retained, []);
  });

  test("a message with forkless objects and other shared references", () => {
    const FakeShared = sharedClass();
    const lock = new FakeShared(8, "l");
    const obj = { o: 1 };
    const refs = fakeRefs();
    const out = decode(enc().encode([obj, lock, obj, { lock, obj }], refs).slice(), refs);
    assert.equal(out[0], out[2]);
    assert.equal(out[3].obj, out[0]);
    assert.equal(out[3].lock, out[1]);
    assert.equal(refs.revived.length, 1);
  });
});

describe("refused values name their path", () => {
  test("functions and symbols", () => {
    refusal({ tasks: [0, 1, 2, { callback() {} }] }, "value.tasks[3].callback is a function, which cannot be sent to another process");
    refusal(() => 1, "value is a function, which cannot be sent to another process");
    refusal({ s: Symbol("x") }, "value.s is a symbol, which cannot be sent to another process");
    refusal({ "a b": [{ "c-d": class {} }] }, 'value["a b"][0]["c-d"] is a function, which cannot be sent to another process');
    refusal(Object(Symbol("boxed")), /^value is a Symbol object, which cannot be sent/);
  });

  test("inside Map, Set, errors, null-prototype objects and array properties", () => {
    refusal({ m: new Map([["key", () => 1]]) }, /^value\.m\.key is a function/);
    refusal({ m: new Map([[() => 1, 1]]) }, /^value\.m\.keys\(\)\[0\] is a function/);
    refusal({ m: new Map([[{}, 1], [2, Symbol()]]) }, /^value\.m\[1\] is a symbol/);
    refusal(new Set([1, () => 1]), /^value\.values\(\)\[1\] is a function/);
    refusal(new Error("e", { cause: { f() {} } }), /^value\.cause\.f is a function/);
    refusal(new AggregateError([1, Symbol()]), /^value\.errors\[1\] is a symbol/);
    const n = Object.create(null);
    n.deep = { fn: Math.max };
    refusal([n], /^value\[0\]\.deep\.fn is a function/);
    const a = [1];
    a.extra = () => 1;
    refusal({ a }, /^value\.a\.extra is a function/);
    const long = Array.from({ length: 100 }, () => 0);
    long[77] = () => 1;
    refusal(long, /^value\[77\] is a function/);
  });

  test("weak collections, promises, shared memory, ports and other host objects", () => {
    refusal({ w: new WeakMap() }, "value.w is a WeakMap, which cannot be sent to another process");
    refusal([new WeakSet()], "value[0] is a WeakSet, which cannot be sent to another process");
    refusal({ r: new WeakRef({}) }, "value.r is a WeakRef, which cannot be sent to another process");
    refusal({ p: Promise.resolve(1) }, /^value\.p is a Promise, which cannot be sent to another process; await it first$/);
    refusal({ sab: new SharedArrayBuffer(8) }, /^value\.sab is a SharedArrayBuffer, .*use postMessage or a shared Array instead$/);
    refusal({ view: new Int32Array(new SharedArrayBuffer(8)) }, /^value\.view is an Int32Array over a SharedArrayBuffer, .*use postMessage or a shared Array instead$/);
    refusal({ dv: new DataView(new SharedArrayBuffer(8)) }, /^value\.dv is a DataView over a SharedArrayBuffer/);
    const { port1, port2 } = new MessageChannel();
    try {
      refusal({ port: port1 }, /^value\.port is a MessagePort, .*transfer it with postMessage$/);
    } finally {
      port1.close();
      port2.close();
    }
    refusal({ g: (function* () {})() }, /^value\.g is a Generator, which cannot be sent/);
    refusal({ it: new Map().entries() }, /^value\.it is a Map Iterator, which cannot be sent/);
    refusal({ mem: new WebAssembly.Memory({ initial: 1 }) }, /^value\.mem is a WebAssembly\.Memory, which cannot be sent/);
    refusal({ url: new URL("https://example.com/") }, /^value\.url is a URL, which cannot be sent/);
    const detached = new ArrayBuffer(8);
    const view = new Uint8Array(detached);
    structuredClone(detached, { transfer: [detached] });
    if (detached.detached === true) {
      refusal({ detached }, /^value\.detached is a detached ArrayBuffer/);
      refusal({ view }, /^value\.view\.buffer is a detached ArrayBuffer/);
    }
  });

  test("the encoder keeps working after a refusal", () => {
    refusal({ big: "x".repeat(100000), fn() {} }, /^value\.fn is a function/);
    same({ after: "refusal", n: [1, 2, 3] });
  });
});

describe("the encoder", () => {
  test("returns a view of its buffer, reused between calls, valid until the next call", () => {
    const e = new Encoder();
    const a = e.encode({ n: 1 }, fakeRefs());
    const copy = a.slice();
    e.encode({ n: 2 }, fakeRefs());
    assert.deepEqual(decode(copy, fakeRefs()), { n: 1 });
  });

  test("grows for big messages and gives big buffers back afterwards", () => {
    const e = new Encoder();
    const big = { s: "y".repeat(3_000_000) };
    assert.deepEqual(decode(e.encode(big, fakeRefs()).slice(), fakeRefs()), big);
    const small = e.encode({ tiny: true }, fakeRefs());
    assert.ok(small.buffer.byteLength <= 1 << 20, "a huge buffer is not kept after a small message");
    assert.deepEqual(decode(small.slice(), fakeRefs()), { tiny: true });
  });

  test("keeps a big buffer while messages stay big, and gives it back after a small one", () => {
    const e = new Encoder();
    const payload = new Uint8Array(4 << 20).fill(9).buffer;
    const first = e.encode(payload, fakeRefs());
    const internal = first.buffer;
    assert.ok(internal.byteLength > 1 << 20);
    const second = e.encode(payload, fakeRefs());
    assert.equal(second.buffer, internal, "a second 4 MiB message reuses the buffer instead of regrowing one");
    assert.deepEqual(new Uint8Array(decode(second.slice(), fakeRefs())), new Uint8Array(payload));
    e.encode({ tiny: true }, fakeRefs()); // the last message filled the buffer: kept once more
    const small = e.encode({ tiny: 2 }, fakeRefs());
    assert.ok(small.buffer.byteLength <= 1 << 20, "after a small message the big buffer is let go");
    assert.deepEqual(decode(small.slice(), fakeRefs()), { tiny: 2 });
  });

  test("a getter that sends a message itself (re-entrant encode)", () => {
    const e = new Encoder();
    let inner;
    const value = {
      a: 1,
      get b() {
        inner = e.encode({ inner: [1, 2, 3] }, fakeRefs()).slice();
        return 2;
      },
      c: "three",
    };
    const outer = e.encode(value, fakeRefs()).slice();
    assert.deepEqual(decode(outer, fakeRefs()), { a: 1, b: 2, c: "three" });
    assert.deepEqual(decode(inner, fakeRefs()), { inner: [1, 2, 3] });
  });

  test("decode accepts a view at any offset of a larger buffer", () => {
    const bytes = enc().encode({ x: 1.5, s: "日本語".repeat(20), big: 2n ** 70n, arr: new Float64Array([1, 2]) }, fakeRefs());
    const host = new Uint8Array(bytes.length + 13);
    host.set(bytes, 7);
    assert.deepStrictEqual(decode(host.subarray(7, 7 + bytes.length), fakeRefs()), { x: 1.5, s: "日本語".repeat(20), big: 2n ** 70n, arr: new Float64Array([1, 2]) });
  });

  test("decode refuses a truncated or corrupt message", () => {
    const bytes = enc().encode({ a: [1, 2, "three"], b: 3.5 }, fakeRefs()).slice();
    for (let n = 0; n < bytes.length; n++) assert.throws(() => decode(bytes.subarray(0, n), fakeRefs()));
    assert.throws(() => decode(new Uint8Array([0xff]), fakeRefs()));
    assert.throws(() => decode(new Uint8Array([1, 2]), fakeRefs()));
  });
});

// ---------------------------------------------------------------------------------------
// Random values from a seeded generator.

function mulberry32(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomValues(seed, count) {
  const rand = mulberry32(seed);
  const int = (n) => Math.floor(rand() * n);
  const alphabets = ["abcxyz0123456789-_ ", "éüßñçÅ", "日本語漢字", "😀🎉𝄞", "\uD800\uDC00\uDBFF", "\u0000\uFEFF\u007f\u0080"];
  const string = () => {
    const len = rand() < 0.8 ? int(12) : rand() < 0.8 ? int(120) : int(3000);
    const alphabet = rand() < 0.6 ? alphabets[0] : alphabets[int(alphabets.length)];
    let s = "";
    for (let i = 0; i < len; i++) s += alphabet[int(alphabet.length)] ?? "";
    return s;
  };
  const specials = [0, -0, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, Number.MIN_VALUE, 255, -129];
  const leaf = () => {
    switch (int(12)) {
      case 0: return undefined;
      case 1: return null;
      case 2: return rand() < 0.5;
      case 3: return int(200) - 100;
      case 4: return (rand() - 0.5) * 10 ** int(20);
      case 5: return specials[int(specials.length)];
      case 6: return BigInt(int(1e9)) * (rand() < 0.5 ? -1n : 1n) * (rand() < 0.3 ? 2n ** BigInt(int(300)) : 1n);
      case 7: return new Date(int(4e12) - 1e12); // (Node 20 and 22 never find two invalid Dates deep-equal; tested above)
      case 8: return new RegExp("[a-z]+" + int(10), ["", "g", "iu", "dsy"][int(4)]);
      case 9: return [new Number(rand()), new String(string()), new Boolean(rand() < 0.5), Object(BigInt(int(99)))][int(4)];
      default: return string();
    }
  };
  const viewKinds = [Uint8Array, Int16Array, Float32Array, Float64Array, BigInt64Array, DataView];
  const value = (depth, pool) => {
    if (pool.length && rand() < 0.08) return pool[int(pool.length)]; // shared references and cycles
    if (depth > 3 || rand() < 0.45) return leaf();
    switch (int(9)) {
      case 0:
      case 1: {
        const a = [];
        pool.push(a);
        const n = int(8);
        for (let i = 0; i < n; i++) if (rand() < 0.85) a[i] = value(depth + 1, pool);
        a.length = Math.max(a.length, n);
        if (rand() < 0.1) a.extra = value(depth + 1, pool);
        return a;
      }
      case 2:
      case 3: {
        const o = rand() < 0.15 ? Object.create(null) : {};
        pool.push(o);
        const n = int(7);
        for (let i = 0; i < n; i++) o[rand() < 0.2 ? String(int(50)) : string().slice(0, 10)] = value(depth + 1, pool);
        return o;
      }
      case 4: {
        const m = new Map();
        pool.push(m);
        for (let i = int(5); i > 0; i--) m.set(rand() < 0.5 ? string() : value(depth + 1, pool), value(depth + 1, pool));
        return m;
      }
      case 5: {
        const s = new Set();
        pool.push(s);
        for (let i = int(5); i > 0; i--) s.add(value(depth + 1, pool));
        return s;
      }
      case 6: {
        const buffer = new ArrayBuffer(64);
        new Uint8Array(buffer).forEach((_, i, a) => (a[i] = int(256)));
        const Kind = viewKinds[int(viewKinds.length)];
        const size = Kind === DataView ? 1 : Kind.BYTES_PER_ELEMENT;
        const view = new Kind(buffer, size * int(4), int(4));
        return rand() < 0.5 ? [view, new Uint8Array(buffer, 1, 3), buffer] : view;
      }
      case 7: {
        const kinds = [Error, TypeError, RangeError, SyntaxError];
        const e = new kinds[int(kinds.length)](string(), rand() < 0.4 ? { cause: value(depth + 1, pool) } : undefined);
        pool.push(e);
        return e;
      }
      default:
        return leaf();
    }
  };
  return Array.from({ length: count }, () => value(0, []));
}

test("2,000 random nested values round-trip (seeded)", () => {
  const values = randomValues(20240917, 2000);
  const e = new Encoder();
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const bytes = e.encode(v, fakeRefs()).slice();
    const out = decode(bytes, fakeRefs());
    assert.deepStrictEqual(out, v, `value #${i}`);
    // The decoded value encodes to the same bytes: nothing was lost or reshaped.
    assert.deepEqual(e.encode(out, fakeRefs()), bytes, `value #${i} re-encoded`);
  }
});

describe("huge values", () => {
  // Decoded straight from the encoder's view (no copy): fresh memory is slow to touch on some machines.
  const roundTripInPlace = (value) => decode(enc().encode(value, fakeRefs()), fakeRefs());

  test("a 64 MiB ArrayBuffer", () => {
    const buffer = new ArrayBuffer(64 * 1024 * 1024);
    const words = new Uint32Array(buffer);
    for (let i = 0; i < words.length; i += 997) words[i] = i * 2654435761;
    const out = roundTripInPlace(buffer);
    assert.equal(out.byteLength, buffer.byteLength);
    assert.ok(Buffer.from(out).equals(Buffer.from(buffer)));
  });

  test("a 10 MB string, and long non-ASCII ones", () => {
    const ascii = "0123456789abcdef".repeat(655360);
    assert.equal(ascii.length, 10485760);
    assert.equal(roundTripInPlace(ascii), ascii);
    const mixed = "añ日😀\uD800".repeat(200_000); // with lone surrogates: UTF-16
    assert.equal(mixed.length, 1_200_000);
    assert.equal(roundTripInPlace(mixed), mixed);
    const cjk = "漢字かな".repeat(250_000); // well-formed, more than 1.25 UTF-8 bytes a character: UTF-16
    assert.equal(roundTripInPlace(cjk), cjk);
  });

  test("an array of 1e6 numbers", () => {
    const a = Array.from({ length: 1_000_000 }, (_, i) => (i % 3 === 0 ? i : i % 3 === 1 ? -i * 0.5 : i * 1e6));
    const out = roundTripInPlace(a);
    assert.equal(out.length, a.length);
    for (let i = 0; i < a.length; i++) if (!Object.is(out[i], a[i])) assert.fail(`index ${i}: ${out[i]} !== ${a[i]}`);
  });
});

// ---------------------------------------------------------------------------------------
// Nesting deeper than a stack, prototypes with setters, proxies, resizable buffers, hostile input.

const deepWorker = new URL("./workers/codec-deep.mjs", import.meta.url);

/** Runs workers/codec-deep.mjs on a stack of stackSizeMb; resolves with what it posts. */
function inWorker(stackSizeMb, data) {
  return new Promise((resolve, reject) => {
    const w = new Worker(deepWorker, {
      workerData: { codec: pathToFileURL(join(dir, "codec.mjs")).href, ...data },
      resourceLimits: { stackSizeMb },
      transferList: data.bytes ? [data.bytes.buffer] : [],
    });
    w.once("message", (m) => {
      w.terminate();
      if (m.error) reject(new Error(`worker (stackSizeMb ${stackSizeMb}): ${m.error}`));
      else resolve(m);
    });
    w.once("error", reject);
  });
}

// Node cannot start a worker with less than about 0.4 MB of stack: 0.5 MB is a third of the
// main thread's (recursion about 4,200 frames deep against 13,900).
const SMALL_STACK = 0.5;
const BIG_STACK = 4;

describe("nesting deeper than any stack", () => {
  for (const kind of ["array", "object", "mixed"]) {
    for (const depth of [5_000, 100_000]) {
      test(`a ${kind} chain ${depth.toLocaleString("en-US")} deep, put by a thread with a big stack, decodes on the main thread and on a small stack`, async () => {
        const { bytes } = await inWorker(BIG_STACK, { task: "encode", kind, depth });
        // The main thread (about 1 MB of stack): a recursive decoder overflowed here, after
        // the item had already left the queue.
        const value = decode(bytes.slice(), fakeRefs());
        let v = value;
        let found = 0;
        while (typeof v === "object" && v !== null) {
          v = Array.isArray(v) ? v[0] : v instanceof Map ? v.get("k") : v instanceof Set ? [...v][0] : v instanceof Error ? v.cause : "a" in v ? v.a : v.n;
          found++;
        }
        assert.equal(found, depth);
        assert.equal(v, "bottom");
        assert.deepEqual(await inWorker(SMALL_STACK, { task: "decode", bytes: bytes.slice() }), { depth, bottom: "bottom" });
      });
    }
  }

  test("the encoder does not depend on the stack either (100,000 levels on a small stack)", async () => {
    for (const kind of ["array", "mixed"]) {
      const { bytes } = await inWorker(SMALL_STACK, { task: "encode", kind, depth: 100_000 });
      assert.deepEqual(await inWorker(SMALL_STACK, { task: "decode", bytes }), { depth: 100_000, bottom: "bottom" });
    }
  });

  test("every kind of value round-trips below the recursion limit too (the explicit-stack paths)", () => {
    // Each random value is wrapped 300 levels deep (past the 128 recursive ones, in containers
    // of every kind), so it is written and read entirely by the iterative encoder and decoder.
    const values = randomValues(77, 400);
    const e = new Encoder();
    const wrap = (v, i) => {
      for (let d = 0; d < 300; d++) {
        switch ((d + i) % 5) {
          case 0: v = [v]; break;
          case 1: v = { w: v }; break;
          case 2: v = new Map([[d, v]]); break;
          case 3: v = new Set([v]); break;
          default: v = new Error("w", { cause: v });
        }
      }
      return v;
    };
    for (let i = 0; i < values.length; i++) {
      const wrapped = wrap(values[i], i);
      const bytes = e.encode(wrapped, fakeRefs()).slice();
      const out = decode(bytes, fakeRefs());
      assert.deepStrictEqual(out, wrapped, `value #${i}`);
      assert.deepEqual(e.encode(out, fakeRefs()), bytes, `value #${i} re-encoded`);
    }
  });

  test("shared references and cycles across the recursion limit", () => {
    const root = { name: "root", shared: { s: 1 } };
    let v = root;
    for (let i = 0; i < 1000; i++) v = v.next = { i, back: i % 100 === 0 ? root : undefined, same: root.shared };
    v.last = [root, root.shared, v];
    const out = roundTrip(root);
    let node = out;
    for (let i = 0; i < 1000; i++) {
      node = node.next;
      assert.equal(node.same, out.shared);
      if (i % 100 === 0) assert.equal(node.back, out);
    }
    assert.equal(node.last[0], out);
    assert.equal(node.last[2], node);
  });

  test("forkless objects nested past the recursion limit travel as handles", () => {
    class FakeShared extends SharedObject {
      constructor(p) {
        super();
        this.p = p;
      }
    }
    const lock = new FakeShared(64);
    let v = { lock, again: lock };
    for (let i = 0; i < 300; i++) v = i % 2 ? [v] : { v };
    const refs = fakeRefs();
    const out = decode(enc().encode([lock, v], refs).slice(), refs);
    assert.deepEqual(refs.retained, [lock]);
    assert.equal(refs.revived.length, 1);
    let inner = out[1];
    for (let i = 299; i >= 0; i--) inner = i % 2 ? inner[0] : inner.v;
    assert.equal(inner.lock, out[0]);
    assert.equal(inner.again, out[0]);
    assert.equal(out[0].handle.p, 64);
  });

  test("deep arrays of every layout: holes, a sparse tail, named properties, long and short", () => {
    const long = Array.from({ length: 3000 }, (_, i) => i);
    long.length = 100_000; // holes from 3000 on: the rest is sent as keys
    long[99_999] = "end";
    const holey = [1, , 3];
    holey.name = "holey";
    const sparse = [];
    sparse[40] = "x";
    const deep = [long, holey, sparse, new AggregateError([new TypeError("t")], "agg", { cause: holey })];
    let v = deep;
    for (let i = 0; i < 200; i++) v = [v];
    const out = roundTrip(v);
    let inner = out;
    for (let i = 0; i < 200; i++) inner = inner[0];
    assert.deepStrictEqual(inner, deep);
    assert.equal(inner[3].cause, inner[1]);
  });
});

describe("received values are own data properties (never [[Set]])", () => {
  /**
   * Installs setters (and a read-only property) on the prototypes; returns what they saw
   * (a string: an array's push would itself run the Array.prototype[0] setter) and an undo.
   */
  function pollute() {
    const log = { seen: "" };
    const installed = new Map(); // (an array written now would meet the setters)
    const install = (proto, key, desc) => {
      Object.defineProperty(proto, key, { configurable: true, ...desc });
      installed.set(`${installed.size}`, { proto, key });
    };
    for (const key of ["x", "1", "7", "name"]) install(Object.prototype, key, { set(v) { log.seen += `Object.prototype.${key} `; }, get() { return "inherited"; } });
    for (const key of ["0", "2", "x"]) install(Array.prototype, key, { set(v) { log.seen += `Array.prototype.${key} `; }, get() { return "inherited"; } });
    install(Object.prototype, "frozen", { value: "read-only", writable: false });
    return {
      get seen() {
        return log.seen;
      },
      undo() {
        installed.forEach(({ proto, key }) => delete proto[key]);
      },
    };
  }

  function assertOwn(o, key, value) {
    const d = Object.getOwnPropertyDescriptor(o, key);
    assert.ok(d, `${String(key)} is an own property`);
    assert.deepEqual([d.writable, d.enumerable, d.configurable], [true, true, true], `${String(key)} is a plain data property`);
    if (value !== undefined) assert.equal(d.value, value);
  }

  test("setters on Object.prototype and Array.prototype never run, and swallow nothing", () => {
    const shared = { id: 1, name: "shared" };
    const value = {
      x: 1,
      name: "n",
      frozen: "mine",
      list: ["a", "b", "c", "d"],
      long: Array.from({ length: 100 }, (_, i) => i),
      holey: [, "one", , "three"],
      sparse: Object.assign(new Array(1000), { 7: "seven" }),
      records: Array.from({ length: 20 }, (_, i) => ({ x: i, name: `r${i}`, 1: i, same: shared })),
      map: new Map([["x", shared]]),
      set: new Set([shared]),
    };
    value.self = value;
    const bytes = enc().encode(value, fakeRefs()).slice();
    // Templates of these shapes exist from before the setters were installed, and new ones
    // are made while they are: both must hold.
    decode(bytes, fakeRefs());
    const p = pollute();
    let out, out2;
    try {
      out = decode(bytes, fakeRefs());
      out2 = decode(enc().encode({ fresh: { x: "new shape", frozen: 2, name: "nn" } }, fakeRefs()).slice(), fakeRefs());
    } finally {
      p.undo();
    }
    assert.equal(p.seen, "");
    assertOwn(out, "x", 1);
    assertOwn(out, "name", "n");
    assertOwn(out, "frozen", "mine");
    assertOwn(out2.fresh, "x", "new shape");
    assertOwn(out2.fresh, "frozen", 2);
    for (let i = 0; i < 4; i++) assertOwn(out.list, i, "abcd"[i]);
    for (let i = 0; i < 100; i++) assertOwn(out.long, i, i);
    assert.ok(!Object.hasOwn(out.holey, 0) && !Object.hasOwn(out.holey, 2));
    assertOwn(out.holey, 1, "one");
    assertOwn(out.sparse, 7, "seven");
    for (let i = 0; i < 20; i++) {
      assertOwn(out.records[i], "x", i);
      assertOwn(out.records[i], "1", i);
      assertOwn(out.records[i], "name", `r${i}`);
    }
    // The codec's own id tables are not swallowed either: references still resolve.
    assert.equal(out.self, out);
    assert.equal(out.records[19].same, out.records[0].same);
    assert.equal(out.map.get("x"), out.records[0].same);
    assert.ok(out.set.has(out.records[0].same));
    assert.deepStrictEqual(out, decode(bytes, fakeRefs()));
  });

  test("objects whose shapes vary (the template cache guesses, and corrects itself)", () => {
    const shapes = [{ x: 1, name: 2 }, { x: 1 }, { x: 1, name: 2, extra: 3 }, { x: 1, other: 2, name: 3 }, { name: 1, x: 2 }, {}];
    const messages = Array.from({ length: 60 }, (_, i) => enc().encode({ v: shapes[i % 6], w: [shapes[i % 6], { x: i }] }, fakeRefs()).slice());
    const values = Array.from({ length: 60 }, (_, i) => shapes[i % 6]);
    const outs = new Map(); // (no array writes while the setters are there)
    const p = pollute();
    try {
      for (let i = 0; i < 60; i++) outs.set(i, decode(messages[i], fakeRefs()));
    } finally {
      p.undo();
    }
    assert.equal(p.seen, "");
    for (let i = 0; i < 60; i++) {
      const out = outs.get(i);
      assert.deepStrictEqual(out.v, values[i]);
      assert.deepEqual(Object.keys(out.v), Object.keys(values[i]), `key order of #${i}`);
      for (const k of Object.keys(values[i])) assertOwn(out.v, k, values[i][k]);
      assertOwn(out.w[1], "x", i);
    }
  });

  test("a patched Map.prototype.set or Set.prototype.add never sees message data", () => {
    const bytes = enc().encode({ m: new Map([["secret", 1]]), s: new Set(["secret"]) }, fakeRefs()).slice(); // (their constructors call set and add)
    const { set } = Map.prototype;
    const { add } = Set.prototype;
    const seen = [];
    Map.prototype.set = function (k, v) {
      seen.push(k);
      return set.call(this, k, v);
    };
    Set.prototype.add = function (v) {
      seen.push(v);
      return add.call(this, v);
    };
    let out;
    try {
      out = decode(bytes, fakeRefs());
    } finally {
      Map.prototype.set = set;
      Set.prototype.add = add;
    }
    assert.deepEqual(seen, []);
    assert.equal(out.m.get("secret"), 1);
    assert.ok(out.s.has("secret"));
  });
});

describe("proxies", { skip: typeof process.getBuiltinModule !== "function" && "needs process.getBuiltinModule (Node 20.16+) for util.types.isProxy" }, () => {
  test("are refused, as structured clone refuses them, with their path", () => {
    assert.throws(() => structuredClone(new Proxy({}, {})), /could not be cloned/);
    refusal(new Proxy({ a: 1 }, {}), /^value is a Proxy, which cannot be sent to another process/);
    refusal({ list: [1, new Proxy([1, 2], {})] }, /^value\.list\[1\] is a Proxy/);
    refusal({ m: new Map([["k", new Proxy({}, {})]]) }, /^value\.m\.k is a Proxy/);
    let trapped = 0;
    const counting = new Proxy({}, { get: () => ++trapped, ownKeys: () => (trapped++, []), getPrototypeOf: () => (trapped++, Object.prototype) });
    refusal({ counting }, /^value\.counting is a Proxy/);
    assert.equal(trapped, 0, "no trap runs");
  });
});

const resizable = (() => {
  try {
    return new ArrayBuffer(1, { maxByteLength: 2 }).resizable === true;
  } catch {
    return false;
  }
})();

describe("views over resizable buffers", { skip: !resizable && "this engine has no resizable ArrayBuffer" }, () => {
  test("length-tracking views arrive length-tracking, fixed-length ones fixed, as structured clone has them", () => {
    const rab = new ArrayBuffer(16, { maxByteLength: 64 });
    new Uint8Array(rab).forEach((_, i, a) => (a[i] = i));
    const full = new ArrayBuffer(16, { maxByteLength: 16 }); // at its maximum: checked on a copy
    const views = {
      bytes: new Uint8Array(rab),
      words: new Uint16Array(rab, 4),
      dv: new DataView(rab),
      dvOffset: new DataView(rab, 6),
      fixed: new Uint8Array(rab, 0, 16),
      fixedWords: new Uint16Array(rab, 4, 6),
      fixedDv: new DataView(rab, 6, 10),
      fullTracking: new Float64Array(full),
      fullFixed: new Float64Array(full, 0, 2),
      fullOffset: new Uint8Array(full, 15),
      buffer: rab,
    };
    const out = roundTrip(views);
    const clone = structuredClone(views);
    assert.equal(out.bytes.buffer, out.buffer, "one buffer");
    assert.equal(out.buffer.maxByteLength, 64);
    assert.equal(out.fullTracking.buffer.maxByteLength, 16);
    const lengths = (o) => [o.bytes.length, o.words.length, o.dv.byteLength, o.dvOffset.byteLength, o.fixed.length, o.fixedWords.length, o.fixedDv.byteLength, o.fullTracking.length, o.fullFixed.length, o.fullOffset.length];
    assert.deepEqual(lengths(out), lengths(clone));
    for (const o of [out, clone]) {
      o.buffer.resize(40);
      o.fullTracking.buffer.resize(8);
    }
    assert.deepEqual(lengths(out), lengths(clone));
    assert.deepEqual(lengths(out), [40, 18, 40, 34, 16, 6, 10, 1, 0, 0]);
    // The sender's buffers are as they were (the encoder probes by resizing and restoring).
    assert.equal(rab.byteLength, 16);
    assert.equal(full.byteLength, 16);
    assert.deepEqual([...new Uint8Array(rab)], Array.from({ length: 16 }, (_, i) => i));
  });

  test("a view out of its shrunk buffer's bounds is refused, as structured clone refuses it", () => {
    const rab = new ArrayBuffer(16, { maxByteLength: 32 });
    const view = new Uint32Array(rab, 8, 2);
    const dv = new DataView(rab, 8, 8);
    rab.resize(12);
    assert.throws(() => structuredClone(view), /could not be cloned/);
    refusal({ view }, /^value\.view is a Uint32Array out of the bounds of its resizable ArrayBuffer/);
    refusal([dv], /^value\[0\] is a DataView out of the bounds/);
  });
});

describe("hostile values and corrupt messages", () => {
  const tagOf = (value) => enc().encode(value, fakeRefs())[0];

  test("a built-in with a changed tag is still what it is; a lying class is still an object", () => {
    class TaggedMap extends Map {
      get [Symbol.toStringTag]() {
        return "Object";
      }
    }
    class OddMap extends Map {
      get [Symbol.toStringTag]() {
        return "Odd";
      }
    }
    class OddDate extends Date {
      get [Symbol.toStringTag]() {
        return "Odd";
      }
    }
    const values = [new TaggedMap([[1, "one"]]), new OddMap([[2, "two"]]), new OddDate(5), Object.create(Map.prototype), { [Symbol.toStringTag]: "Map", a: 1 }];
    for (const v of values) {
      const out = roundTrip(v);
      assert.deepStrictEqual(out, structuredClone(v));
    }
    assert.deepEqual([...roundTrip(values[0])], [[1, "one"]]);
  });

  test("a getter in a long array runs once, even when the array turns out sparse", () => {
    const a = [];
    a.length = 1_000_000;
    let calls = 0;
    Object.defineProperty(a, 3, { enumerable: true, configurable: true, get: () => ++calls });
    a[500_000] = "far";
    const out = roundTrip(a);
    assert.equal(calls, 1);
    assert.equal(out[3], 1);
    assert.equal(out[500_000], "far");
    assert.equal(out.length, 1_000_000);
    assert.deepEqual(Object.keys(out), ["3", "500000"]);
  });

  test("toJSON, valueOf and Symbol.toPrimitive are never called", () => {
    let called = 0;
    class Sneaky {
      constructor() {
        this.data = 1;
      }
      toJSON() {
        return ++called;
      }
      valueOf() {
        return ++called;
      }
      [Symbol.toPrimitive]() {
        return ++called;
      }
    }
    assert.deepStrictEqual(roundTrip(new Sneaky()), { data: 1 });
    assert.equal(called, 0);
  });

  test("a corrupt length does not allocate it: an ArrayBuffer of 4 GiB announced, 4 bytes sent", () => {
    const bytes = enc().encode(new ArrayBuffer(4), fakeRefs()).slice();
    bytes.set([0xff, 0xff, 0xff, 0xff], 1);
    const before = process.memoryUsage().arrayBuffers;
    assert.throws(() => decode(bytes, fakeRefs()), (e) => e instanceof TypeError && /^forkless: cannot decode a corrupt message/.test(e.message));
    assert.ok(process.memoryUsage().arrayBuffers - before < 1 << 20, "nothing big was allocated");
  });

  test("a corrupt message nested a million levels deep throws a clear error (no stack overflow)", () => {
    const arrayTag = tagOf([]);
    const bytes = new Uint8Array(5_000_000);
    for (let i = 0; i < bytes.length; i += 5) bytes.set([arrayTag, 1, 0, 0, 0], i);
    assert.throws(() => decode(bytes, fakeRefs()), (e) => e instanceof TypeError && /^forkless: cannot decode a corrupt message \(truncated\)/.test(e.message));
  });

  test("corrupt views, buffers, numbers and regexps are named as corrupt", () => {
    const cases = [];
    const viewBytes = enc().encode(new Uint16Array(new ArrayBuffer(8), 2, 2), fakeRefs()).slice();
    // [View, type, ArrayBuffer, u32 8, 8 bytes, u32 offset, u32 length]
    const offsetAt = viewBytes.length - 8;
    const withU32 = (b, at, n) => {
      const c = b.slice();
      new DataView(c.buffer).setUint32(at, n, true);
      return c;
    };
    cases.push(withU32(viewBytes, offsetAt, 1)); // misaligned
    cases.push(withU32(viewBytes, offsetAt, 1 << 30)); // out of range
    cases.push(withU32(viewBytes, offsetAt + 4, 0xffffffff)); // too long
    const badType = viewBytes.slice();
    badType[1] = 0x3f;
    cases.push(badType);
    const notABuffer = viewBytes.slice(0, 2);
    cases.push(Uint8Array.from([...notABuffer, tagOf(null)]));
    const big = enc().encode(2n ** 100n, fakeRefs()).slice();
    big[big.length - 1] = 0x7a; // "z" among the hex digits
    cases.push(big);
    const signed = enc().encode(2n ** 100n, fakeRefs()).slice();
    signed[1] = 7;
    cases.push(signed);
    const rab = resizable ? enc().encode(new ArrayBuffer(4, { maxByteLength: 8 }), fakeRefs()).slice() : undefined;
    if (rab) {
      new DataView(rab.buffer).setFloat64(5, 2, true); // maxByteLength below the length
      cases.push(rab);
    }
    for (const bytes of cases) assert.throws(() => decode(bytes, fakeRefs()), (e) => e instanceof TypeError && /^forkless: cannot decode a corrupt message/.test(e.message), `${[...bytes]}`);
    const regexp = enc().encode(/a/g, fakeRefs()).slice();
    regexp[regexp.length - 1] = "Q".charCodeAt(0);
    assert.throws(() => decode(regexp, fakeRefs()), (e) => e instanceof SyntaxError && /^forkless: cannot decode the RegExp \/a\/Q/.test(e.message));
  });

  test("random corruption of messages throws forkless errors, or decodes; never hangs", () => {
    const rand = mulberry32(4242);
    const samples = [
      ...randomValues(99, 40),
      { deep: (() => { let v = [1]; for (let i = 0; i < 300; i++) v = { v, a: [v] }; return v; })() },
      [new Uint8Array(8), new DataView(new ArrayBuffer(4)), new Map([[1, new Set([2])]]), new Error("e", { cause: 1 })],
    ];
    const started = performance.now();
    let decoded = 0;
    for (let n = 0; n < 6000; n++) {
      const bytes = enc().encode(samples[n % samples.length], fakeRefs()).slice();
      const mutated = bytes.slice();
      const edits = 1 + Math.floor(rand() * 3);
      for (let e = 0; e < edits; e++) mutated[Math.floor(rand() * mutated.length)] = Math.floor(rand() * 256);
      const cut = rand() < 0.2 ? mutated.subarray(0, Math.floor(rand() * mutated.length)) : mutated;
      try {
        decode(cut, fakeRefs());
        decoded++;
      } catch (error) {
        assert.ok(error instanceof Error, `a thrown ${typeof error}`);
        assert.match(error.message, /^forkless: /, `message #${n}: ${error.stack}`);
      }
    }
    assert.ok(decoded > 0);
    assert.ok(performance.now() - started < 30_000, "no decode hung");
  });
});
