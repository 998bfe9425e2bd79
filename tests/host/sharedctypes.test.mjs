// Value, RawValue, Array/SharedArray and RawArray (Python's multiprocessing.sharedctypes):
// exact counting under the lock across real worker threads, type codes and their extremes,
// initializers, locks, handles, lifetime and errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as delay } from "node:timers/promises";
import {
  Value,
  RawValue,
  Array as SArray,
  SharedArray,
  RawArray,
  Lock,
  RLock,
  Semaphore,
  Acquirable,
  fromHandle,
  memoryStats,
  ValueError,
  ClosedError,
  HandleError,
  StaleHandleError,
  OutOfSharedMemoryError,
} from "../../dist/forkless.mjs";
import { runWorkers, withWorkers } from "./helpers/workers.mjs";

const TASKS = "../fixtures/sharedctypes/tasks.mjs";
const WORKERS = 4;

const blocks = () => memoryStats().blocks;

const ALL_CODES = ["b", "B", "h", "H", "i", "I", "l", "q", "L", "Q", "f", "d", "c", "u"];
const ZERO = { l: 0n, q: 0n, L: 0n, Q: 0n, c: "\0", u: "\0" };
const zeroOf = (code) => (code in ZERO ? ZERO[code] : 0);
const VIEW = {
  b: Int8Array, B: Uint8Array, h: Int16Array, H: Uint16Array, i: Int32Array, I: Uint32Array,
  l: BigInt64Array, q: BigInt64Array, L: BigUint64Array, Q: BigUint64Array,
  f: Float32Array, d: Float64Array, c: Uint8Array, u: Uint32Array,
};

// [written, read back] per type code: extremes, wrap-around (like a typed array) and specials.
const F32_MAX = 3.4028234663852886e38;
const EXTREMES = {
  b: [[-128, -128], [127, 127], [128, -128], [255, -1], [-129, 127], [0, 0], [5n, 5], [-1n, -1]],
  B: [[0, 0], [255, 255], [256, 0], [-1, 255], [300, 44], [255n, 255]],
  h: [[-32768, -32768], [32767, 32767], [32768, -32768], [65535, -1]],
  H: [[0, 0], [65535, 65535], [65536, 0], [-1, 65535]],
  i: [[-(2 ** 31), -(2 ** 31)], [2 ** 31 - 1, 2 ** 31 - 1], [2 ** 31, -(2 ** 31)], [2 ** 32 + 7, 7], [2n ** 32n + 7n, 7], [-(2n ** 31n), -(2 ** 31)]],
  I: [[0, 0], [2 ** 32 - 1, 2 ** 32 - 1], [2 ** 32, 0], [-1, 2 ** 32 - 1], [2n ** 32n - 1n, 2 ** 32 - 1]],
  l: [[-(2n ** 63n), -(2n ** 63n)], [2n ** 63n - 1n, 2n ** 63n - 1n], [2n ** 63n, -(2n ** 63n)], [2 ** 53 - 1, 2n ** 53n - 1n], [-(2 ** 53 - 1), -(2n ** 53n - 1n)], [0, 0n]],
  q: [[-(2n ** 63n), -(2n ** 63n)], [2n ** 63n - 1n, 2n ** 63n - 1n], [2n ** 64n - 1n, -1n], [42, 42n]],
  L: [[0n, 0n], [2n ** 64n - 1n, 2n ** 64n - 1n], [2n ** 64n, 0n], [-1n, 2n ** 64n - 1n], [2 ** 53 - 1, 2n ** 53n - 1n]],
  Q: [[0n, 0n], [2n ** 64n - 1n, 2n ** 64n - 1n], [-1n, 2n ** 64n - 1n], [-1, 2n ** 64n - 1n], [7, 7n]],
  f: [[F32_MAX, F32_MAX], [-F32_MAX, -F32_MAX], [0.1, Math.fround(0.1)], [1e39, Infinity], [1.4e-45, Math.fround(1.4e-45)], [-0, -0], [NaN, NaN], [-Infinity, -Infinity], [3n, 3]],
  d: [[Number.MAX_VALUE, Number.MAX_VALUE], [-Number.MAX_VALUE, -Number.MAX_VALUE], [Number.MIN_VALUE, Number.MIN_VALUE], [0.1, 0.1], [-0, -0], [NaN, NaN], [Infinity, Infinity], [2n ** 64n, 2 ** 64]],
  c: [["\0", "\0"], ["A", "A"], ["\xff", "\xff"], ["é", "é"], [65, "A"], [0, "\0"], [255, "\xff"]],
  u: [["\0", "\0"], ["A", "A"], ["€", "€"], ["𝄞", "𝄞"], ["\u{10ffff}", "\u{10ffff}"], ["\uffff", "\uffff"]],
};

// ---------------------------------------------------------------- exact counting across workers

test("Value('i', 0): 4 workers × 100,000 increments under getLock() (withLock) are exact", async () => {
  const value = new Value("i", 0);
  const n = 100_000;
  await runWorkers(TASKS, "incrementValue", Array(WORKERS).fill({ v: value.toHandle(), n }));
  assert.equal(value.value, WORKERS * n);
  assert.ok(value.getLock() instanceof RLock, "the default lock is an RLock, as in Python");
  assert.equal(value.getLock().depth, 0, "every worker released the lock");
  value.close();
});

test("Array('d', 10): 4 workers add 1 to every element 25,000 times under getLock(); every element is exact", async () => {
  const array = new SArray("d", 10);
  const n = 25_000;
  await runWorkers(TASKS, "incrementArray", Array(WORKERS).fill({ a: array.toHandle(), n }));
  assert.deepEqual(array.toArray(), Array(10).fill(WORKERS * n));
  array.close();
});

test("RawValue: 4 workers increment without a lock (the API works across threads; the total may race)", async () => {
  const raw = new RawValue("i", 0);
  const n = 10_000;
  const done = await runWorkers(TASKS, "incrementRaw", Array(WORKERS).fill({ v: raw.toHandle(), n }));
  assert.deepEqual(done, Array(WORKERS).fill(n));
  assert.ok(raw.value >= n && raw.value <= WORKERS * n, `${raw.value} is within [${n}, ${WORKERS * n}]`);
  assert.equal(typeof raw.getLock, "undefined", "a RawValue has no lock at all (Python: no get_lock)");
  raw.close();
});

// ---------------------------------------------------------------- type codes

test("every type code round-trips its extreme values (wrapping like a typed array) in Value, RawValue and Array", () => {
  for (const code of ALL_CODES) {
    const value = new Value(code);
    const raw = new RawValue(code);
    const array = new SArray(code, EXTREMES[code].length);
    assert.equal(value.typecode, code);
    assert.ok(array.array instanceof VIEW[code], `'${code}' arrays are ${VIEW[code].name}s`);
    assert.equal(value.value, zeroOf(code), `Value('${code}') starts at zero`);
    EXTREMES[code].forEach(([written, expected], i) => {
      const what = `'${code}' ← ${typeof written === "bigint" ? `${written}n` : JSON.stringify(written) ?? String(written)}`;
      value.value = written;
      raw.value = written;
      array.set(i, written);
      assert.ok(Object.is(value.value, expected), `${what}: Value read ${String(value.value)}, expected ${String(expected)}`);
      assert.ok(Object.is(raw.value, expected), `${what}: RawValue`);
      assert.ok(Object.is(array.get(i), expected), `${what}: Array.get`);
      const initial = new RawValue(code, written);
      assert.ok(Object.is(initial.value, expected), `${what}: as the initial value`);
      initial.close();
    });
    const copy = new RawArray(code, EXTREMES[code].map(([w]) => w));
    assert.deepEqual(copy.toArray(), EXTREMES[code].map(([, e]) => e), `'${code}' initializer`);
    copy.close();
    value.close();
    raw.close();
    array.close();
  }
});

test("every type code's extremes cross to a worker and back", async () => {
  const handles = {};
  const writes = {};
  const objects = [];
  for (const code of ALL_CODES) {
    const extremes = EXTREMES[code];
    const array = new SArray(code, extremes.map(([w]) => w));
    const value = new Value(code, extremes[1][0]);
    objects.push(array, value);
    handles[`a${code}`] = array.toHandle();
    handles[`v${code}`] = value.toHandle();
    writes[`a${code}`] = extremes.map(([w]) => w).reverse();
    writes[`v${code}`] = extremes[0][0];
  }
  const [seen] = await runWorkers(TASKS, "readThenWrite", [{ handles, writes }]);
  ALL_CODES.forEach((code, k) => {
    const extremes = EXTREMES[code];
    const [array, value] = [objects[2 * k], objects[2 * k + 1]];
    assert.deepEqual(seen[`a${code}`], { kind: "SharedArray", typecode: code, data: extremes.map(([, e]) => e), lock: "RLock" });
    assert.deepEqual(seen[`v${code}`], { kind: "Value", typecode: code, data: extremes[1][1], lock: "RLock" });
    assert.deepEqual(array.toArray(), extremes.map(([, e]) => e).reverse(), `'${code}' array written by the worker`);
    assert.ok(Object.is(value.value, extremes[0][1]), `'${code}' value written by the worker`);
  });
  for (const object of objects) object.close();
});

test("64-bit codes: values are BigInt; numbers are taken only when they are safe integers", () => {
  const q = new Value("q", 5);
  assert.equal(q.value, 5n);
  q.value = -(2 ** 53 - 1);
  assert.equal(q.value, -(2n ** 53n - 1n));
  for (const bad of [2 ** 53, 2 ** 63, 1.5, NaN, Infinity]) {
    assert.throws(() => (q.value = bad), (e) => e instanceof TypeError && /'q'.*BigInt/.test(e.message), String(bad));
  }
  assert.throws(() => (q.value = 2 ** 60), /may already be rounded, so pass a BigInt/);
  assert.equal(q.value, -(2n ** 53n - 1n), "a refused write changes nothing");
  const a = new RawArray("Q", [1, 2n, 2n ** 64n - 1n]);
  assert.deepEqual(a.toArray(), [1n, 2n, 2n ** 64n - 1n]);
  q.close();
  a.close();
});

test("'c' holds one byte as a 1-char string; 'u' one code point", () => {
  const c = new SArray("c", "héllo");
  assert.deepEqual(c.toArray(), ["h", "é", "l", "l", "o"]);
  assert.deepEqual([...c.array], [0x68, 0xe9, 0x6c, 0x6c, 0x6f], ".array holds the bytes");
  c.set(0, 72);
  assert.equal(c.get(0), "H");
  const bytes = new RawArray("c", Buffer.from("abc"));
  assert.equal(bytes.toArray().join(""), "abc");
  const u = new RawArray("u", "a€𝄞");
  assert.equal(u.length, 3, "one element per code point, not per UTF-16 unit");
  assert.deepEqual(u.toArray(), ["a", "€", "𝄞"]);
  assert.deepEqual([...u.array], [0x61, 0x20ac, 0x1d11e]);
  u.array[0] = 0x7fffffff;
  assert.equal(u.get(0), "\ufffd", "a code point beyond U+10FFFF written through .array reads as U+FFFD");
  for (const o of [c, bytes, u]) o.close();
});

// ---------------------------------------------------------------- initializers and the array API

test("Array initializers: size (zeros), array, typed arrays, iterables, array-likes, strings; copies, not views", () => {
  for (const code of ALL_CODES) {
    const zeros = new SArray(code, 3);
    assert.deepEqual(zeros.toArray(), Array(3).fill(zeroOf(code)), `'${code}' size gives zeros`);
    zeros.close();
  }
  const source = [1, 2, 3];
  const fromArray = new SArray("i", source);
  source[0] = 100;
  assert.deepEqual(fromArray.toArray(), [1, 2, 3], "the initializer is copied");

  const typed = new Float64Array([0.5, 1.5]);
  const same = new RawArray("d", typed);
  typed[0] = 9;
  assert.deepEqual(same.toArray(), [0.5, 1.5], "a typed array of the same type is copied");
  assert.notEqual(same.array.buffer, typed.buffer);

  const other = new RawArray("d", new Int32Array([-1, 7]));
  assert.deepEqual(other.toArray(), [-1, 7], "another typed array is converted element by element");
  const bigs = new RawArray("i", new BigInt64Array([3n, -4n]));
  assert.deepEqual(bigs.toArray(), [3, -4]);
  const set = new RawArray("h", new Set([5, 6, 7]));
  assert.deepEqual(set.toArray(), [5, 6, 7]);
  const generated = new RawArray("B", (function* () { for (let i = 0; i < 4; i++) yield i * 10; })());
  assert.deepEqual(generated.toArray(), [0, 10, 20, 30]);
  const arrayLike = new RawArray("f", { length: 2, 0: 0.25, 1: 4 });
  assert.deepEqual(arrayLike.toArray(), [0.25, 4]);
  const empty = new SArray("d", []);
  const none = new SArray("q", 0);
  assert.equal(empty.length, 0);
  assert.deepEqual(none.toArray(), []);
  assert.equal(none.array.length, 0);
  assert.ok(none.array instanceof BigInt64Array);
  for (const o of [fromArray, same, other, bigs, set, generated, arrayLike, empty, none]) o.close();
});

test("Array API: length, .array, get/set with negative indexes, slice like Array.prototype.slice, iteration, fill", () => {
  const a = new SArray("i", [10, 20, 30, 40, 50]);
  assert.equal(a.length, 5);
  assert.equal(a.typecode, "i");
  assert.ok(a.array instanceof Int32Array);
  assert.ok(a.array === a.array, ".array is one view, created once");
  assert.ok(a.array.buffer instanceof SharedArrayBuffer, ".array is over the shared memory itself");
  a.array[1] += 1;
  assert.equal(a.get(1), 21, "writes through .array are seen by get()");
  a.set(2, 31);
  assert.equal(a.array[2], 31, "writes through set() are seen through .array");
  assert.equal(a.get(-1), 50, "negative indexes count from the end, as in Python");
  a.set(-5, 11);
  assert.equal(a.get(0), 11);

  const plain = a.toArray();
  for (const [s, e] of [[undefined, undefined], [1, undefined], [1, 3], [-2, undefined], [-100, 2], [2, 100], [3, 1], [0, -1], [1.7, 3.2], [-Infinity, Infinity]]) {
    assert.deepEqual(a.slice(s, e), plain.slice(s, e), `slice(${s}, ${e})`);
  }
  assert.ok(Array.isArray(a.slice()), "slice returns a plain array");
  assert.deepEqual([...a], plain, "iteration yields every element");
  assert.deepEqual(Array.from(a), plain);

  assert.equal(a.fill(7), a, "fill returns the array");
  assert.deepEqual(a.toArray(), [7, 7, 7, 7, 7]);
  a.fill(1, 1, 3).fill(2, -1);
  assert.deepEqual(a.toArray(), [7, 1, 1, 7, 2]);
  a.fill(9, 4, 2);
  assert.deepEqual(a.toArray(), [7, 1, 1, 7, 2], "an empty range writes nothing");
  assert.throws(() => a.fill("x", 4, 2), TypeError, "but a value of the wrong type is still refused");
  assert.equal(String(a), "SharedArray('i', [7, 1, 1, 7, 2])");

  const q = new RawArray("Q", 3).fill(2n ** 64n - 1n);
  assert.deepEqual(q.toArray(), Array(3).fill(2n ** 64n - 1n));
  a.close();
  q.close();
});

test("getObj() is the raw object on the same memory; it closes with its owner", () => {
  const start = blocks();
  const value = new Value("d", 1.5);
  const raw = value.getObj();
  assert.ok(raw instanceof RawValue);
  assert.ok(!(raw instanceof Value));
  assert.equal(typeof raw.getLock, "undefined");
  assert.equal(value.getObj(), raw, "the same raw object each time");
  raw.value = 2.5;
  assert.equal(value.value, 2.5);

  const array = new SArray("H", [1, 2, 3]);
  const rawArray = array.getObj();
  assert.ok(rawArray instanceof RawArray);
  rawArray.set(0, 65535);
  assert.equal(array.get(0), 65535);
  assert.ok(rawArray.array !== array.array && rawArray.array.byteOffset === array.array.byteOffset);

  value.close();
  array.close();
  assert.equal(raw.closed, true);
  assert.equal(rawArray.closed, true);
  assert.equal(blocks(), start, "values, raw objects and locks are all freed");
});

test("Value defaults and toString; Value is a RawValue with a lock", () => {
  for (const code of ALL_CODES) {
    const v = new Value(code);
    assert.equal(v.value, zeroOf(code));
    v.close();
  }
  const v = new Value("q", 7n);
  assert.ok(v instanceof RawValue);
  assert.equal(String(v), "Value('q', 7n)");
  const c = new RawValue("c", "x");
  assert.equal(String(c), "RawValue('c', \"x\")");
  v.close();
  c.close();
  assert.equal(String(v), "Value(closed)");
});

// ---------------------------------------------------------------- locks

test("the default lock is a re-entrant RLock; acquire/release/withLock/hold delegate to it", async () => {
  const v = new Value("i", 0);
  const lock = v.getLock();
  assert.ok(lock instanceof RLock);
  assert.equal(v.getLock(), lock, "getLock returns the same lock each time");
  v.withLock(() => v.withLock(() => v.value++));
  assert.equal(v.value, 1);
  assert.equal(v.acquire(), true);
  assert.equal(lock.depth, 1);
  v.release();
  assert.equal(lock.depth, 0);
  const held = v.hold();
  assert.equal(lock.isMine(), true);
  held.release();
  assert.equal(await v.acquireAsync(), true);
  v.release();
  assert.equal(await v.withLockAsync(async () => lock.depth), 1);
  assert.equal(lock.depth, 0);
  assert.equal(v.withLock(() => "result"), "result");
  assert.throws(() => v.withLock(() => { throw new Error("inside"); }), /inside/);
  assert.equal(lock.depth, 0, "withLock releases when fn throws");
  v.close();
  assert.equal(lock.closed, true, "the Value closes the RLock it created");
});

test("lock: false → no lock: getLock(), acquire(), withLock() throw ValueError; the handle carries no lock", async () => {
  const start = blocks();
  const v = new Value("i", 3, { lock: false });
  const a = new SArray("d", 2, { lock: false });
  assert.equal(blocks(), start + 2, "no lock block was made");
  for (const o of [v, a]) {
    const name = o.constructor.name;
    assert.throws(() => o.getLock(), (e) => e instanceof ValueError && e.message.includes(`${name}.getLock`) && /lock: false/.test(e.message));
    assert.throws(() => o.acquire(), ValueError);
    assert.throws(() => o.release(), ValueError);
    assert.throws(() => o.withLock(() => 1), ValueError);
    assert.throws(() => o.hold(), ValueError);
    await assert.rejects(async () => o.acquireAsync(), ValueError);
    assert.equal("lock" in o.toHandle(), false);
  }
  v.value++;
  assert.equal(v.value, 4);
  assert.ok(v.getObj() instanceof RawValue, "getObj still works");
  const [seen] = await runWorkers(TASKS, "readThenWrite", [{ handles: { v: v.toHandle(), a: a.toHandle() }, writes: { v: 8 } }]);
  assert.equal(seen.v.lock, "ValueError", "the worker's copy has no lock either");
  assert.equal(seen.a.lock, "ValueError");
  assert.equal(v.value, 8);
  const withWorkerRecord = blocks();
  v.close();
  a.close();
  assert.equal(blocks(), withWorkerRecord - 2);
});

test("lock: an existing Lock is used as is: shared by several objects, not closed with them", async () => {
  const lock = new Lock();
  const v = new Value("i", 0, { lock });
  const w = new Value("d", 0, { lock });
  const a = new SArray("b", 3, { lock });
  assert.equal(v.getLock(), lock);
  assert.equal(a.getLock(), lock);
  lock.acquire();
  assert.equal(v.acquire({ block: false }), false, "the lock held from outside makes value.acquire({ block: false }) false");
  assert.equal(a.acquire({ timeout: 0 }), false);
  lock.release();
  assert.equal(v.acquire({ block: false }), true);
  assert.equal(lock.locked(), true, "value.acquire took the very same lock");
  assert.equal(w.acquire({ block: false }), false, "a second value on the same lock sees it held");
  v.release();
  assert.equal(lock.locked(), false);

  const probe = await runWorkers(TASKS, "sharedLockProbe", [{ v: v.toHandle(), w: w.toHandle() }]);
  assert.deepEqual(probe, [{ isLock: true, isRLock: false, sameBlock: true, otherSeesLocked: true }]);

  v.close();
  w.close();
  a.close();
  assert.equal(lock.closed, false, "closing the values leaves the caller's lock open");
  assert.equal(lock.acquire({ block: false }), true);
  lock.release();
  lock.close();
});

test("lock: an RLock or a Semaphore (anything acquirable) works; the lock's kind survives a handle", async () => {
  const rlock = new RLock();
  const sem = new Semaphore(2);
  const v = new Value("i", 1, { lock: rlock });
  const a = new SArray("i", [1], { lock: sem });
  assert.equal(v.getLock(), rlock);
  const [seen] = await runWorkers(TASKS, "readThenWrite", [{ handles: { v: v.toHandle(), a: a.toHandle() } }]);
  assert.equal(seen.v.lock, "RLock");
  assert.equal(seen.a.lock, "Semaphore");
  assert.ok(a.getLock() instanceof Acquirable);
  v.close();
  a.close();
  rlock.close();
  sem.close();
});

test("a worker holding a Value's (or Array's) lock excludes main until it releases", async () => {
  const v = new Value("i", 0);
  const a = new SArray("i", 4, { lock: new Lock() });
  await withWorkers(async (spawn) => {
    for (const [kind, o] of [["Value", v], ["SharedArray", a]]) {
      const worker = spawn(TASKS, "holdLock", { kind, h: o.toHandle() });
      const report = await worker.message();
      assert.deepEqual(report, { held: true, lock: o.getLock().constructor.name });
      assert.equal(o.acquire({ block: false }), false, `${kind}: the worker holds the same lock`);
      worker.send("release");
      assert.equal(await worker.done(), "released");
      assert.equal(o.acquire({ timeout: 5_000 }), true);
      o.release();
    }
  });
  const lock = a.getLock();
  v.close();
  a.close();
  lock.close();
});

// ---------------------------------------------------------------- handles

test("handles cross to a worker live: reads see main's values, main sees the worker's writes", async () => {
  const v = new Value("q", -(2n ** 40n));
  const raw = new RawValue("f", 0.5);
  const a = new SArray("u", "h€𝄞");
  const r = new RawArray("d", [1.25, -2.5]);
  const handles = { v: v.toHandle(), raw: raw.toHandle(), a: a.toHandle(), r: r.toHandle() };
  assert.deepEqual(Object.keys(handles.v).sort(), ["$forkless", "g", "lock", "p"]);
  assert.deepEqual(Object.keys(handles.r).sort(), ["$forkless", "g", "p"]);
  const [seen] = await runWorkers(TASKS, "readThenWrite", [
    { handles, writes: { v: 2n ** 62n, raw: 0.25, a: ["x", "y", "z"], r: [3, 4] } },
  ]);
  assert.deepEqual(seen, {
    v: { kind: "Value", typecode: "q", data: -(2n ** 40n), lock: "RLock" },
    raw: { kind: "RawValue", typecode: "f", data: 0.5, lock: "none" },
    a: { kind: "SharedArray", typecode: "u", data: ["h", "€", "𝄞"], lock: "RLock" },
    r: { kind: "RawArray", typecode: "d", data: [1.25, -2.5], lock: "none" },
  });
  assert.equal(v.value, 2n ** 62n);
  assert.equal(raw.value, 0.25);
  assert.deepEqual(a.toArray(), ["x", "y", "z"]);
  assert.deepEqual(r.toArray(), [3, 4]);
  for (const o of [v, raw, a, r]) o.close();
});

test("an array made after the memory grew opens in a worker attached before the growth", async () => {
  await withWorkers(async (spawn) => {
    const worker = spawn(TASKS, "openLater", {});
    assert.equal(await worker.message(), "ready");
    const before = memoryStats().memoryBytes;
    const size = before + (1 << 20);
    const big = new RawArray("b", size);
    assert.ok(memoryStats().memoryBytes > before, "the memory grew");
    big.set(size - 1, 42);
    worker.send({ h: big.toHandle(), index: size - 1 });
    assert.deepEqual(await worker.done(), { before: 42, length: size });
    assert.equal(big.get(-1), 99);
    assert.equal(big.array[0], -5);
    big.close();
  });
});

test("fromHandle: the generic fromHandle revives each class; wrong or stale handles are refused", () => {
  const objects = [new Value("i", 1), new RawValue("i", 2), new SArray("i", [3]), new RawArray("i", [4])];
  const classes = [Value, RawValue, SharedArray, RawArray];
  objects.forEach((o, k) => {
    const copy = fromHandle(o.toHandle());
    assert.equal(copy.constructor, classes[k]);
    const own = copy.constructor.fromHandle(o.toHandle());
    assert.equal(own.constructor, classes[k]);
    copy.close();
    own.close();
  });
  const [v, raw, a, r] = objects;
  assert.throws(() => Value.fromHandle(raw.toHandle()), (e) => e instanceof HandleError && /got a RawValue handle/.test(e.message));
  assert.throws(() => RawValue.fromHandle(v.toHandle()), HandleError);
  assert.throws(() => SharedArray.fromHandle(v.toHandle()), HandleError);
  assert.throws(() => RawArray.fromHandle({ ...raw.toHandle(), $forkless: "RawArray" }), (e) => e instanceof HandleError && /another kind/.test(e.message));
  assert.throws(() => Value.fromHandle({ ...v.toHandle(), lock: 5 }), (e) => e instanceof HandleError && /lock is not a handle/.test(e.message));
  assert.throws(() => Value.fromHandle({ ...v.toHandle(), lock: a.toHandle() }), (e) => e instanceof HandleError && /cannot be acquired/.test(e.message));
  assert.throws(() => Value.fromHandle(null), HandleError);
  const stale = r.toHandle();
  for (const o of objects) o.close();
  assert.throws(() => RawArray.fromHandle(stale), StaleHandleError);
});

test("a handle keeps working while any thread holds the object; the lock travels with its own reference", async () => {
  const v = new Value("i", 5);
  const h = v.toHandle();
  let start;
  await withWorkers(async (spawn) => {
    const worker = spawn(TASKS, "openAndWait", { h });
    assert.equal(await worker.message(), 5);
    start = blocks() - 2;
    v.close();
    assert.equal(blocks(), start + 2, "the worker's references keep the value and its lock alive");
    const again = Value.fromHandle(h);
    worker.send("close");
    assert.equal(await worker.done(), "closed");
    assert.equal(again.value, 1234);
    assert.equal(again.withLock(() => again.value), 1234, "the revived lock works");
    again.close();
  });
  assert.equal(blocks(), start);
  assert.throws(() => Value.fromHandle(h), StaleHandleError);
});

// ---------------------------------------------------------------- lifetime

test("close(): every use afterwards throws ClosedError; close is idempotent", () => {
  const v = new Value("i", 1);
  const raw = new RawValue("d", 1);
  const a = new SArray("i", 3);
  const r = new RawArray("c", "ab");
  for (const o of [v, raw, a, r]) o.close();
  for (const o of [v, raw, a, r]) o.close();
  const uses = [
    () => v.value, () => (v.value = 2), () => v.getLock(), () => v.getObj(), () => v.acquire(), () => v.withLock(() => 1), () => v.toHandle(), () => v.typecode,
    () => raw.value, () => (raw.value = 2),
    () => a.length, () => a.array, () => a.get(0), () => a.set(0, 1), () => a.slice(), () => a.toArray(), () => [...a], () => a.fill(0), () => a.getLock(), () => a.toHandle(),
    () => r.get(0), () => r.array,
  ];
  for (const use of uses) assert.throws(use, (e) => e instanceof ClosedError && /closed/.test(e.message), use.toString());
});

test("memoryStats(): blocks and bytes return to the start after 10,000 Values and 10,000 Arrays are created and closed", () => {
  const before = memoryStats();
  const lock = new Lock();
  for (let i = 0; i < 10_000; i++) {
    const code = ALL_CODES[i % ALL_CODES.length];
    const v = i % 3 === 0 ? new Value(code) : i % 3 === 1 ? new Value(code, undefined, { lock: false }) : new RawValue(code);
    const a = i % 4 === 0 ? new SArray(code, i % 50) : i % 4 === 1 ? new SArray(code, i % 50, { lock }) : new RawArray(code, i % 50);
    if (i % 5 === 0 && v instanceof Value) v.getObj();
    if (i % 7 === 0) fromHandle(a.toHandle()).close();
    v.close();
    a.close();
  }
  lock.close();
  const after = memoryStats();
  assert.equal(after.blocks, before.blocks);
  assert.equal(after.bytes, before.bytes);
});

test("failed constructors leave nothing allocated", () => {
  const start = blocks();
  assert.throws(() => new Value("i", "x"), TypeError);
  assert.throws(() => new SArray("i", [1, 2, "x"]), TypeError);
  assert.throws(() => new RawArray("c", "€"), TypeError);
  assert.throws(() => new Value("i", 0, { lock: "yes" }), TypeError);
  assert.throws(() => new SArray("d", 2 ** 27), RangeError);
  assert.equal(blocks(), start);
});

test(".array keeps its object (and the block) alive after the object itself is dropped", { skip: typeof globalThis.gc !== "function" && "needs --expose-gc" }, async () => {
  const start = blocks();
  const make = () => new SharedArray("i", [1, 2, 3]).array;
  const drop = () => void new SharedArray("i", [4, 5, 6]);
  let kept = make();
  drop();
  assert.equal(blocks(), start + 4);
  for (let i = 0; i < 100 && blocks() !== start + 2; i++) {
    globalThis.gc();
    await delay(5);
  }
  assert.equal(blocks(), start + 2, "the dropped array was freed, the one whose .array is held was not");
  assert.deepEqual([...kept], [1, 2, 3]);
  kept = null;
  for (let i = 0; i < 100 && blocks() !== start; i++) {
    globalThis.gc();
    await delay(5);
  }
  assert.equal(blocks(), start, "freed once .array is dropped too");
});

// ---------------------------------------------------------------- bad inputs

test("bad inputs: typed errors with useful messages", () => {
  for (const bad of ["x", "ii", "", 5, undefined, null, "I32"]) {
    assert.throws(() => new Value(bad), (e) => e instanceof TypeError && /unknown type code/.test(e.message) && e.message.includes("'b', 'B', 'h'"), String(bad));
    assert.throws(() => new SArray(bad, 1), TypeError);
  }
  assert.throws(() => new SArray("i", -1), (e) => e instanceof RangeError && /size must be an integer ≥ 0; got -1/.test(e.message));
  assert.throws(() => new RawArray("i", 1.5), RangeError);
  assert.throws(() => new RawArray("i", NaN), RangeError);
  for (const bad of [undefined, null, 3n, {}, true, () => 1]) {
    assert.throws(() => new SArray("i", bad), (e) => e instanceof TypeError && /expected a size/.test(e.message), String(bad));
  }
  assert.throws(
    () => new SArray("d", 2 ** 27),
    (e) => e instanceof RangeError && /at most 1073741800 bytes \(134217725 elements of 'd'\)/.test(e.message),
  );
  assert.throws(() => new RawArray("b", 2 ** 40), RangeError);
  assert.throws(() => new SArray("d", 2 ** 27 - 3), OutOfSharedMemoryError, "fits a block but not the 1 GiB memory");

  const wrong = [
    ["i", "5"], ["i", 1.5], ["i", true], ["i", null], ["i", NaN], ["b", Infinity], ["B", {}],
    ["q", 2 ** 53], ["q", "1"], ["Q", 0.5], ["d", "1.0"], ["d", true], ["f", null],
    ["c", "ab"], ["c", "€"], ["c", 256], ["c", -1], ["c", ""], ["u", 65], ["u", "ab"], ["u", ""],
  ];
  for (const [code, bad] of wrong) {
    const v = new Value(code);
    const a = new RawArray(code, 2);
    assert.throws(() => (v.value = bad), (e) => e instanceof TypeError && e.message.startsWith(`Value.value: type code '${code}'`) && /got /.test(e.message), `${code} ← ${String(bad)}`);
    assert.throws(() => a.set(1, bad), (e) => e instanceof TypeError && e.message.startsWith(`RawArray.set(1): type code '${code}'`));
    assert.throws(() => new RawValue(code, bad), (e) => e instanceof TypeError && /the initial value/.test(e.message));
    assert.throws(() => new RawArray(code, [zeroOf(code), bad]), (e) => e instanceof TypeError && /element 1 of the initializer/.test(e.message));
    assert.ok(Object.is(v.value, zeroOf(code)), "a refused write changes nothing");
    v.close();
    a.close();
  }
  const i32 = new Value("i");
  assert.throws(() => (i32.value = "5"), /takes an integer number or a BigInt.*got "5"/);
  i32.close();

  const a = new SArray("i", 10);
  for (const i of [10, 11, -11, 2 ** 32]) {
    assert.throws(() => a.get(i), (e) => e instanceof RangeError && e.message.includes(`index ${i} is out of range for length 10`), String(i));
    assert.throws(() => a.set(i, 1), RangeError);
  }
  for (const i of [1.5, "1", undefined, 1n, NaN]) {
    assert.throws(() => a.get(i), (e) => e instanceof TypeError && /index must be an integer/.test(e.message), String(i));
  }
  assert.throws(() => a.slice("1"), TypeError);
  const empty = new SArray("i", 0);
  assert.throws(() => empty.get(0), /out of range for length 0/);
  empty.close();
  assert.throws(() => new Value("i", 0, 5), (e) => e instanceof TypeError && /options must be an object/.test(e.message));
  assert.throws(() => new Value("i", 0, { lock: "yes" }), (e) => e instanceof TypeError && /lock must be true/.test(e.message));
  const notALock = new Value("i");
  assert.throws(() => new SArray("i", 1, { lock: notALock }), TypeError, "a Value is not a lock");
  notALock.close();
  const closedLock = new Lock();
  closedLock.close();
  assert.throws(() => new Value("i", 0, { lock: closedLock }), ClosedError);
  a.close();
});
