// withLock / withLockAsync / hold / holdAsync: the lock is released however the body ends,
// and an async body keeps it until its promise settles (checked from a worker).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Lock, RLock, Semaphore, Condition, ValueError } from "../../dist/forkless.mjs";
import { withWorkers, sleep } from "./helpers/workers.mjs";

const held = (o) => (o instanceof Semaphore ? o.getValue() === 0 : o instanceof RLock ? o.depth > 0 : o instanceof Condition ? o.lock.depth > 0 : o.locked());

for (const [name, make] of [["Lock", () => new Lock()], ["RLock", () => new RLock()], ["Semaphore", () => new Semaphore(1)], ["Condition", () => new Condition()]]) {
  test(`${name}: withLock returns the body's value and releases on return and on throw`, () => {
    const o = make();
    assert.equal(o.withLock(() => (assert.ok(held(o)), 7)), 7);
    assert.equal(held(o), false);
    const boom = new Error("boom");
    assert.throws(() => o.withLock(() => { assert.ok(held(o)); throw boom; }), (e) => e === boom);
    assert.equal(held(o), false, "withLock must release when the body throws");
    const guard = o.hold();
    assert.ok(held(o));
    guard.release();
    assert.equal(held(o), false);
    try {
      const g = o.hold();
      try {
        throw boom;
      } finally {
        g[Symbol.dispose]();
      }
    } catch (e) {
      assert.equal(e, boom);
    }
    assert.equal(held(o), false);
    o.close();
  });

  test(`${name}: withLockAsync / holdAsync release on resolve and on reject`, async () => {
    const o = make();
    assert.equal(await o.withLockAsync(async () => (await sleep(1), assert.ok(held(o)), "v")), "v");
    assert.equal(held(o), false);
    await assert.rejects(o.withLockAsync(async () => { await sleep(1); throw new Error("async boom"); }), /async boom/);
    assert.equal(held(o), false, "withLockAsync must release when the body rejects");
    await assert.rejects(o.withLockAsync(() => { throw new Error("sync boom"); }), /sync boom/);
    assert.equal(held(o), false);
    const guard = await o.holdAsync();
    assert.ok(held(o));
    guard[Symbol.dispose]();
    assert.equal(held(o), false);
    o.close();
  });
}

test("withLock with an async body keeps the lock until the promise settles, as a worker sees", async () => {
  const lock = new Lock();
  await withWorkers(async (spawn) => {
    const w = spawn("guards.mjs", "probe", { kind: "Lock", handle: lock.toHandle() });
    assert.equal(await w.message(), "ready");
    const ask = async () => (w.send("try"), w.message());
    assert.equal(await ask(), true, "free before");

    let inside;
    const result = lock.withLock(async () => {
      await sleep(20);
      inside = await ask(); // the body is suspended at an await: the lock must still be held
      await sleep(20);
      return "done";
    });
    assert.ok(result instanceof Promise, "an async body makes withLock return its promise");
    assert.equal(lock.locked(), true, "withLock returned, but the async body has not settled");
    assert.equal(await result, "done");
    assert.equal(inside, false, "the worker took the lock while the async body was still running");
    assert.equal(lock.locked(), false);
    assert.equal(await ask(), true, "released after the body settled");

    const failing = lock.withLock(async () => {
      await sleep(10);
      assert.equal(await ask(), false);
      throw new Error("async failure");
    });
    await assert.rejects(failing, /async failure/);
    assert.equal(lock.locked(), false, "released after the body rejected");
    assert.equal(await ask(), true);
    w.send("stop");
    await w.done();
  });
  lock.close();
});

test("hold({ timeout }) that cannot acquire throws ValueError and holds nothing", () => {
  const lock = new Lock();
  lock.acquire();
  assert.throws(() => lock.hold({ block: false }), (e) => e instanceof ValueError && /Lock.hold: not acquired within the timeout/.test(e.message));
  lock.release();
  const sem = new Semaphore(0);
  assert.throws(() => sem.hold({ timeout: 0 }), /Semaphore.hold: not acquired/);
  assert.equal(sem.getValue(), 0);
  lock.close();
  sem.close();
});
