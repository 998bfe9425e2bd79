// Bad input gets typed errors whose messages say what was wrong: timeouts, counts, forged
// and stale handles, use after close(), releasing what is not held, waiting without the lock.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Lock,
  RLock,
  Semaphore,
  BoundedSemaphore,
  Event,
  Condition,
  Barrier,
  fromHandle,
  attach,
  configure,
  ProcessError,
  ValueError,
  ClosedError,
  NotOwnerError,
  HandleError,
  StaleHandleError,
} from "../../dist/forkless.mjs";

/** assert.throws / rejects matcher: class and message pattern (and the error names itself). */
const is = (Class, pattern) => (e) => {
  assert.ok(e instanceof Class, `expected ${Class.name}, got ${e?.name}: ${e?.message}`);
  assert.match(e.message, pattern);
  assert.equal(e.name, e.constructor.name);
  return true;
};

const BAD_TIMEOUTS = [
  [-1, RangeError, /timeout must be a finite number of milliseconds ≥ 0, or undefined to wait forever; got -1/],
  [-0.5, RangeError, /got -0\.5/],
  [NaN, RangeError, /got NaN/],
  [Infinity, RangeError, /got Infinity/],
  [-Infinity, RangeError, /got -Infinity/],
  ["50", TypeError, /timeout must be a number of milliseconds.*got "50"/],
  [50n, TypeError, /got 50n/],
  [{}, TypeError, /got an object/],
  [true, TypeError, /got true/],
];

test("timeouts: negative, NaN, ±Infinity → RangeError; strings and other types → TypeError; every method names itself", async () => {
  const lock = new Lock();
  const rlock = new RLock();
  const sem = new Semaphore(0);
  const event = new Event();
  const cond = new Condition();
  const barrier = new Barrier(2);
  cond.acquire();
  const sync = [
    ["Lock.acquire", (t) => lock.acquire({ timeout: t })],
    ["RLock.acquire", (t) => rlock.acquire({ timeout: t })],
    ["Semaphore.acquire", (t) => sem.acquire({ timeout: t })],
    ["Lock.hold", (t) => lock.hold({ timeout: t })],
    ["Event.wait", (t) => event.wait(t)],
    ["Condition.wait", (t) => cond.wait(t)],
    ["Condition.waitFor", (t) => cond.waitFor(() => false, t)],
    ["Barrier.wait", (t) => barrier.wait(t)],
  ];
  const async_ = [
    ["Lock.acquireAsync", (t) => lock.acquireAsync({ timeout: t })],
    ["RLock.acquireAsync", (t) => rlock.acquireAsync({ timeout: t })],
    ["Semaphore.acquireAsync", (t) => sem.acquireAsync({ timeout: t })],
    ["Event.waitAsync", (t) => event.waitAsync(t)],
    ["Condition.waitAsync", (t) => cond.waitAsync(t)],
    ["Condition.waitForAsync", (t) => cond.waitForAsync(() => false, t)],
    ["Barrier.waitAsync", (t) => barrier.waitAsync(t)],
  ];
  for (const [value, Class, pattern] of BAD_TIMEOUTS) {
    for (const [where, call] of sync) {
      assert.throws(() => call(value), is(Class, pattern), `${where}(${String(value)})`);
      const named = where === "Lock.hold" ? "Lock.acquire" : where; // hold() reports the acquire it made
      assert.throws(() => call(value), (e) => e.message.startsWith(named), `${where} names itself`);
    }
    for (const [where, call] of async_) {
      await assert.rejects(async () => call(value), is(Class, pattern), `${where}(${String(value)})`);
    }
    assert.throws(() => new Barrier(2, { timeout: value }), Class);
  }
  // Nothing was acquired or broken by the rejected calls.
  assert.equal(lock.locked(), false);
  assert.equal(rlock.depth, 0);
  assert.equal(sem.getValue(), 0);
  assert.equal(barrier.broken, false);
  assert.equal(barrier.nWaiting, 0);
  assert.equal(cond.lock.isMine(), true);
  cond.release();
  for (const o of [lock, rlock, sem, event, cond, barrier]) o.close();
});

test("acquire options: non-object options and a non-boolean block → TypeError", () => {
  const lock = new Lock();
  assert.throws(() => lock.acquire(50), is(TypeError, /expected an options object like \{ timeout: 100 \}/));
  assert.throws(() => lock.acquire("fast"), is(TypeError, /got "fast"/));
  assert.throws(() => lock.acquire({ block: "no" }), is(TypeError, /block must be true or false; got "no"/));
  assert.throws(() => new Semaphore(1).acquire({ block: 0 }), is(TypeError, /block must be true or false/));
  assert.equal(lock.locked(), false);
  assert.equal(lock.acquire(null), true, "null options mean the defaults");
  lock.release();
  lock.close();
});

test("counts: Semaphore(-1), Semaphore(1.5), Barrier(0), Barrier(1.5) … → RangeError naming the argument", () => {
  assert.throws(() => new Semaphore(-1), is(RangeError, /^Semaphore: the initial value must be an integer from 0 to \d+; got -1$/));
  assert.throws(() => new Semaphore(1.5), is(RangeError, /got 1\.5/));
  assert.throws(() => new BoundedSemaphore(-1), is(RangeError, /^BoundedSemaphore: the initial value/));
  assert.throws(() => new Barrier(0), is(RangeError, /^Barrier: parties must be an integer from 1 to \d+; got 0$/));
  assert.throws(() => new Barrier(1.5), is(RangeError, /got 1\.5/));
  assert.throws(() => new Barrier(-3), is(RangeError, /got -3/));
  assert.throws(() => new Barrier(), is(RangeError, /got undefined/));
  assert.throws(() => new Barrier(40_000), is(RangeError, /parties must be at most/));
  const cond = new Condition();
  cond.acquire();
  assert.throws(() => cond.notify(-1), is(RangeError, /Condition.notify: n must be an integer/));
  assert.throws(() => cond.notify(0.5), RangeError);
  cond.notify(0);
  cond.release();
  cond.close();
  assert.throws(() => new Condition({}), is(TypeError, /lock must be a forkless Lock or RLock/));
  assert.throws(() => new Condition(new Semaphore(1)), TypeError);
});

test("forged handles → HandleError: not a block, out of range, misaligned, wrong kind, garbage", () => {
  const lock = new Lock();
  const spacer = new Lock(); // so that lock.p + 16 lies inside the arena
  const event = new Event();
  const h = lock.toHandle();
  assert.deepEqual(Object.keys(h).sort(), ["$forkless", "g", "p"]);

  // p inside the arena but not at a block (the lock's own payload: its word is 0).
  assert.throws(() => Lock.fromHandle({ ...h, p: h.p + 16 }), is(HandleError, /does not point at a forkless object; it was forged or damaged/));
  // p beyond the arena.
  assert.throws(() => Lock.fromHandle({ ...h, p: 0x7ffffff0 }), is(HandleError, /points outside the shared arena/));
  assert.throws(() => Lock.fromHandle({ ...h, p: 0xfffffff0 }), is(HandleError, /points outside the shared arena/));
  // Below the heap.
  assert.throws(() => Lock.fromHandle({ ...h, p: 16 }), is(HandleError, /Lock.fromHandle/));
  // Misaligned.
  for (const delta of [4, 8, 1]) {
    assert.throws(() => Lock.fromHandle({ ...h, p: h.p + delta }), is(HandleError, /Lock.fromHandle/), `p + ${delta}`);
  }
  // Not integers, or not numbers.
  for (const p of [0, -16, 1.5, "16", NaN, 2 ** 33, undefined]) {
    assert.throws(() => Lock.fromHandle({ ...h, p }), is(HandleError, /address or generation is not a valid integer/), `p = ${String(p)}`);
  }
  assert.throws(() => Lock.fromHandle({ ...h, g: 0.5 }), is(HandleError, /not a valid integer/));
  // Wrong kind: the $forkless tag, and the block's own kind when the tag is forged.
  assert.throws(() => Lock.fromHandle(event.toHandle()), is(HandleError, /Lock.fromHandle: expected a handle from Lock.toHandle\(\); got a[n]? Event handle/));
  assert.throws(() => Event.fromHandle(h), is(HandleError, /got a Lock handle/));
  assert.throws(() => RLock.fromHandle(h), HandleError);
  assert.throws(() => Semaphore.fromHandle(new BoundedSemaphore(1).toHandle()), HandleError);
  const e = event.toHandle();
  assert.throws(() => Lock.fromHandle({ $forkless: "Lock", p: e.p, g: e.g }), is(HandleError, /names another kind of object, not a Lock/));
  // Garbage.
  for (const junk of [{}, null, undefined, 42, "Lock", [], { $forkless: "Lock" }, { p: h.p, g: h.g }]) {
    assert.throws(() => Lock.fromHandle(junk), is(HandleError, /Lock.fromHandle: expected a handle from Lock.toHandle\(\)|not a valid integer/), `Lock.fromHandle(${JSON.stringify(junk)})`);
    assert.throws(() => Barrier.fromHandle(junk), HandleError);
    assert.throws(() => Condition.fromHandle(junk), HandleError);
  }
  assert.throws(() => fromHandle({}), is(HandleError, /expected a handle made by toHandle\(\)/));
  assert.throws(() => fromHandle(null), HandleError);
  assert.throws(() => fromHandle({ $forkless: "Nope", p: h.p, g: h.g }), is(HandleError, /unknown kind of forkless object "Nope"/));
  // Every HandleError is a ProcessError.
  assert.ok(new HandleError("x") instanceof ProcessError);
  // None of this touched the real objects.
  const again = Lock.fromHandle(h);
  assert.equal(again.acquire({ block: false }), true);
  assert.equal(lock.locked(), true);
  again.release();
  for (const o of [again, lock, spacer, event]) o.close();
});

test("generic fromHandle() rebuilds each kind as its own class", () => {
  const objects = [new Lock(), new RLock(), new Semaphore(2), new BoundedSemaphore(2), new Event(), new Condition(), new Barrier(2)];
  for (const o of objects) {
    const copy = fromHandle(o.toHandle());
    assert.equal(copy.constructor, o.constructor);
    copy.close();
    o.close();
  }
});

test("stale handles → StaleHandleError once every reference was closed, also after the block was reused", () => {
  const lock = new Lock();
  const h = lock.toHandle();
  lock.close();
  const stale = is(StaleHandleError, /Lock.fromHandle: the Lock was freed because every thread had closed it; keep the sender's object open/);
  assert.throws(() => Lock.fromHandle(h), stale);
  assert.ok(new StaleHandleError("x") instanceof HandleError);
  // The same block, reused by a new object, still refuses the old handle.
  const reused = [];
  for (let i = 0; i < 8; i++) reused.push(new Lock());
  assert.ok(reused.some((l) => l.toHandle().p === h.p), "expected the freed block to be reused");
  assert.throws(() => Lock.fromHandle(h), stale);
  for (const l of reused) {
    assert.equal(l.locked(), false);
    l.close();
  }
  // Every kind.
  for (const o of [new RLock(), new Semaphore(), new BoundedSemaphore(), new Event(), new Barrier(3)]) {
    const handle = o.toHandle();
    o.close();
    assert.throws(() => o.constructor.fromHandle(handle), StaleHandleError, o.constructor.name);
  }
  const cond = new Condition();
  const ch = cond.toHandle();
  cond.close();
  assert.throws(() => Condition.fromHandle(ch), StaleHandleError);
});

test("use after close() → ClosedError on every method; close() is idempotent", async () => {
  const closed = is(ClosedError, /is closed in this thread; create a new one, or rebuild it with \w+\.fromHandle\(handle\)/);
  const cases = {
    Lock: [new Lock(), (o) => [
      () => o.acquire(), () => o.acquire({ timeout: 10 }), () => o.acquire({ block: false }), () => o.release(), () => o.locked(),
      () => o.toHandle(), () => o.hold(), () => o.withLock(() => 1),
    ], (o) => [o.acquireAsync(), o.acquireAsync({ timeout: 10 }), o.holdAsync(), o.withLockAsync(() => 1)]],
    RLock: [new RLock(), (o) => [
      () => o.acquire(), () => o.acquire({ timeout: 0 }), () => o.release(), () => o.depth, () => o.isMine(), () => o.toHandle(),
    ], (o) => [o.acquireAsync()]],
    Semaphore: [new Semaphore(2), (o) => [
      () => o.acquire(), () => o.acquire({ block: false }), () => o.release(), () => o.release(2), () => o.getValue(), () => o.toHandle(),
    ], (o) => [o.acquireAsync()]],
    BoundedSemaphore: [new BoundedSemaphore(2), (o) => [() => o.acquire(), () => o.release(), () => o.getValue()], (o) => [o.acquireAsync()]],
    Event: [new Event(), (o) => [
      () => o.isSet(), () => o.set(), () => o.clear(), () => o.wait(), () => o.wait(0), () => o.toHandle(),
    ], (o) => [o.waitAsync(), o.waitAsync(0)]],
    Condition: [new Condition(), (o) => [
      () => o.acquire(), () => o.release(), () => o.wait(), () => o.wait(0), () => o.waitFor(() => false), () => o.notify(),
      () => o.notify(2), () => o.notifyAll(), () => o.toHandle(), () => o.withLock(() => 1),
    ], (o) => [o.acquireAsync(), o.waitAsync(), o.waitForAsync(() => false)]],
    Barrier: [new Barrier(2), (o) => [
      () => o.wait(), () => o.wait(10), () => o.reset(), () => o.abort(), () => o.parties, () => o.nWaiting, () => o.broken, () => o.toHandle(),
    ], (o) => [o.waitAsync()]],
  };
  for (const [name, [object, syncCalls, asyncCalls]] of Object.entries(cases)) {
    assert.equal(object.closed, false);
    object.close();
    assert.equal(object.closed, true);
    object.close();
    object[Symbol.dispose]();
    for (const [i, call] of syncCalls(object).entries()) {
      assert.throws(call, closed, `${name} call #${i}`);
      assert.throws(call, (e) => e.message.startsWith(`${name} is closed`), `${name} call #${i} names the class`);
    }
    for (const [i, promise] of asyncCalls(object).entries()) await assert.rejects(promise, closed, `${name} async call #${i}`);
  }
  assert.ok(new ClosedError("x") instanceof ValueError, "ClosedError is a ValueError, as in Python");
});

test("closing a Condition closes the RLock it made, never a lock it was given", () => {
  const own = new Condition();
  const its = own.lock;
  own.close();
  assert.equal(its.closed, true);
  const lock = new Lock();
  const cond = new Condition(lock);
  cond.close();
  assert.equal(lock.closed, false);
  assert.equal(lock.acquire(), true);
  lock.release();
  lock.close();
});

test("release of an unlocked Lock / RLock → ValueError; Condition.wait / notify without the lock → NotOwnerError", async () => {
  const lock = new Lock();
  assert.throws(() => lock.release(), is(ValueError, /^Lock.release: the lock is not held; release only after a successful acquire\(\)$/));
  lock.acquire();
  lock.release();
  assert.throws(() => lock.release(), ValueError, "a second release");
  const rlock = new RLock();
  assert.throws(() => rlock.release(), is(ValueError, /RLock.release: the lock is not held/));
  for (const cond of [new Condition(), new Condition(new Lock())]) {
    const notOwner = is(NotOwnerError, /does not hold the condition's lock; acquire\(\) it first/);
    assert.throws(() => cond.wait(), notOwner);
    assert.throws(() => cond.wait(0), notOwner);
    assert.throws(() => cond.waitFor(() => false, 10), notOwner);
    assert.throws(() => cond.notify(), notOwner);
    assert.throws(() => cond.notifyAll(), notOwner);
    await assert.rejects(cond.waitAsync(0), notOwner);
    await assert.rejects(cond.waitForAsync(() => false), notOwner);
    assert.throws(() => cond.release(), ValueError, "releasing the condition's unheld lock");
    cond.close();
  }
  lock.close();
  rlock.close();
});

test("runtime: configure() after the runtime exists → ValueError; attach() with garbage → TypeError", () => {
  new Lock().close(); // the runtime exists now
  assert.throws(() => configure({ maxMemoryBytes: 1 << 20 }), is(ValueError, /the runtime of this thread already exists; call configure\(\) before creating any forkless object/));
  assert.throws(() => attach({}), (e) => e instanceof ValueError || e instanceof TypeError);
});
