// Condition across real worker threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Condition, Lock, RLock, NotOwnerError } from "../../dist/forkless.mjs";
import { withWorkers, sharedInts, sleep, stateOf } from "./helpers/workers.mjs";

const SLOTS = 3;

async function producerConsumer(lock, { producers, consumers, perProducer, cap }) {
  const notEmpty = new Condition(lock);
  const notFull = new Condition(lock);
  const total = producers * perProducer;
  const ring = sharedInts(SLOTS + cap);
  const seen = sharedInts(total);
  const shared = { notEmpty: notEmpty.toHandle(), notFull: notFull.toHandle(), ring, cap };
  const [made, taken] = await withWorkers(async (spawn) => {
    const ps = Array.from({ length: producers }, (_, i) =>
      spawn("condition.mjs", "produce", { ...shared, base: i * perProducer, count: perProducer }),
    );
    const cs = Array.from({ length: consumers }, () => spawn("condition.mjs", "consume", { ...shared, total, seen }));
    return Promise.all([Promise.all(ps.map((w) => w.done())), Promise.all(cs.map((w) => w.done()))]);
  });
  assert.equal(taken.reduce((a, b) => a + b, 0), total, "consumers took a different number of items than were produced");
  const wrong = [];
  for (let i = 0; i < total; i++) if (seen[i] !== 1) wrong.push(`${i}×${seen[i]}`);
  assert.deepEqual(wrong.slice(0, 20), [], "every item must be consumed exactly once");
  let checksum = 0;
  for (let i = 0; i < total; i++) checksum += seen[i] * i;
  assert.equal(checksum, (total * (total - 1)) / 2);
  assert.equal(ring[0], total);
  assert.equal(ring[1], total);
  assert.ok(made.some((w) => w > 0), "producers never found the ring full, so waitFor never waited");
  notEmpty.close();
  notFull.close();
}

test("Condition: 2 producers × 2 consumers × 3,000 items through an 8-slot ring with waitFor; every item consumed exactly once (Lock)", async () => {
  const lock = new Lock();
  await producerConsumer(lock, { producers: 2, consumers: 2, perProducer: 3000, cap: 8 });
  assert.equal(lock.locked(), false);
  lock.close();
});

test("Condition: the same with an RLock, 3 producers × 2,000 items and 1 consumer", async () => {
  const lock = new RLock();
  await producerConsumer(lock, { producers: 3, consumers: 1, perProducer: 2000, cap: 4 });
  assert.equal(lock.depth, 0);
  lock.close();
});

for (const kind of ["RLock", "Lock"]) {
  test(`Condition(${kind}): waitAsync in main is woken by a worker's notify() and re-holds the lock`, async () => {
    const cond = kind === "Lock" ? new Condition(new Lock()) : new Condition();
    const flag = sharedInts(1);
    await withWorkers(async (spawn) => {
      const w = spawn("condition.mjs", "notifyWhenTold", { cond: cond.toHandle(), flag });
      assert.equal(await w.message(), "ready");
      assert.equal(cond.acquire(), true);
      if (kind === "RLock") assert.equal(cond.acquire(), true, "depth 2, restored after the wait");
      const pending = cond.waitAsync(10_000);
      assert.equal(kind === "Lock" ? cond.lock.locked() : cond.lock.depth, kind === "Lock" ? false : 0, "waitAsync must release the lock while it waits");
      await sleep(30);
      assert.equal(await stateOf(pending), "pending");
      w.send("go");
      assert.equal(await pending, true);
      assert.equal(flag[0], 1);
      if (kind === "RLock") {
        assert.equal(cond.lock.isMine(), true);
        assert.equal(cond.lock.depth, 2);
        cond.release();
      } else {
        assert.equal(cond.lock.locked(), true);
      }
      cond.release();
      assert.equal(await w.done(), "notified");
    });
    cond.close();
  });
}

test("Condition: waitForAsync in main returns the predicate's value once a worker makes it true", async () => {
  const cond = new Condition();
  const flag = sharedInts(1);
  await withWorkers(async (spawn) => {
    const w = spawn("condition.mjs", "notifyWhenTold", { cond: cond.toHandle(), flag, all: true });
    assert.equal(await w.message(), "ready");
    cond.acquire();
    const pending = cond.waitForAsync(() => flag[0] === 1 && "flag set", 10_000);
    w.send("go");
    assert.equal(await pending, "flag set");
    assert.equal(cond.lock.isMine(), true);
    cond.release();
    await w.done();
  });
  cond.close();
});

test("Condition: a worker blocked in wait() is woken by notify() from main and owns the lock again", async () => {
  for (const lock of [new Lock(), new RLock()]) {
    const cond = new Condition(lock);
    await withWorkers(async (spawn) => {
      const w = spawn("condition.mjs", "waitOnce", { cond: cond.toHandle(), timeout: 10_000 });
      assert.equal(await w.message(), "waiting");
      // The worker posted while holding the lock; we get it once wait() has released it.
      assert.equal(await cond.acquireAsync({ timeout: 10_000 }), true);
      cond.notify();
      cond.release();
      const { result, owns } = await w.done();
      assert.equal(result, true);
      assert.equal(owns, true);
    });
    cond.close();
    lock.close();
  }
});

test("Condition: notify(n) wakes exactly n of several waiting workers, notifyAll() the rest", async () => {
  const cond = new Condition();
  await withWorkers(async (spawn) => {
    const ws = [0, 1, 2, 3].map(() => spawn("condition.mjs", "waitOnce", { cond: cond.toHandle(), timeout: 10_000 }));
    for (const w of ws) assert.equal(await w.message(), "waiting");
    // Each worker released the lock in wait(); taking it here means all four are registered.
    for (let i = 0; i < 4; i++) {
      assert.equal(await cond.acquireAsync({ timeout: 10_000 }), true);
      cond.release();
    }
    await sleep(20);
    cond.acquire();
    cond.notify(2);
    cond.release();
    const fulfilled = async () => (await Promise.all(ws.map((w) => stateOf(w.result)))).filter((s) => s === "fulfilled").length;
    const deadline = performance.now() + 10_000;
    while ((await fulfilled()) < 2 && performance.now() < deadline) await sleep(5);
    await sleep(100);
    assert.equal(await fulfilled(), 2, "notify(2) must wake exactly two of the four waiters");
    cond.acquire();
    cond.notifyAll();
    cond.release();
    const results = await Promise.all(ws.map((w) => w.done()));
    assert.deepEqual(results.map((r) => r.result), [true, true, true, true]);
  });
  cond.close();
});

test("Condition: wait / notify without holding the lock throw NotOwnerError, also while a worker holds it", async () => {
  const cond = new Condition(new Lock());
  const notOwner = (e) => e instanceof NotOwnerError && /does not hold the condition's lock/.test(e.message);
  assert.throws(() => cond.wait(10), notOwner);
  assert.throws(() => cond.wait(), notOwner);
  assert.throws(() => cond.notify(), notOwner);
  assert.throws(() => cond.notifyAll(), notOwner);
  await assert.rejects(cond.waitAsync(10), notOwner);
  // waitFor with a false predicate waits at least once, as Python's wait_for does: even timeout 0 checks the lock.
  assert.throws(() => cond.waitFor(() => false, 0), notOwner);
  await assert.rejects(cond.waitForAsync(() => false, 0), notOwner);
  assert.equal(cond.waitFor(() => "already true", 0), "already true", "a true predicate needs no lock, as in Python");
  await withWorkers(async (spawn) => {
    const w = spawn("condition.mjs", "holdConditionLock", { cond: cond.toHandle() });
    assert.equal(await w.message(), "held");
    assert.equal(cond.lock.locked(), true);
    assert.throws(() => cond.wait(10), notOwner);
    assert.throws(() => cond.notify(), notOwner);
    assert.throws(() => cond.notifyAll(), notOwner);
    await assert.rejects(cond.waitAsync(10), notOwner);
    const other = await spawn("condition.mjs", "notifyWithoutLock", { cond: cond.toHandle() }).done();
    assert.deepEqual([other.threw, other.notOwner], [true, true]);
    w.send("release");
    await w.done();
  });
  cond.close();
});
