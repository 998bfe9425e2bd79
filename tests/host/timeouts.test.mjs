// Timeouts never end early (measured with the same clock the library uses, performance.now())
// and end within a generous bound; blocking and async variants, with a worker holding the lock
// where there is a lock to hold.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier, BrokenBarrierError } from "../../dist/forkless.mjs";
import { withWorkers } from "./helpers/workers.mjs";

const T = 50;
const LATE = 2000;

function assertTimely(elapsed, what) {
  assert.ok(elapsed >= T, `${what} gave up after ${elapsed.toFixed(3)} ms, before its ${T} ms timeout`);
  assert.ok(elapsed < LATE, `${what} took ${elapsed.toFixed(0)} ms for a ${T} ms timeout`);
}

function timed(fn) {
  const t0 = performance.now();
  const value = fn();
  return { value, elapsed: performance.now() - t0 };
}

async function timedAsync(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { value, elapsed: performance.now() - t0 };
}

/** Runs fn while a worker holds lock (a Lock or RLock), then lets the worker go. */
async function whileWorkerHolds(lock, fn) {
  await withWorkers(async (spawn) => {
    const kind = lock instanceof RLock ? "RLock" : "Lock";
    const w = spawn("locks.mjs", "holdUntilTold", { kind, lock: lock.toHandle() });
    assert.equal(await w.message(), "held");
    try {
      await fn();
    } finally {
      w.send("release");
    }
    assert.equal(await w.done(), "released");
  });
}

for (const Kind of [Lock, RLock]) {
  test(`${Kind.name}: acquire / acquireAsync with a timeout on a lock a worker holds return false after ≥ ${T} ms`, async () => {
    const lock = new Kind();
    await whileWorkerHolds(lock, async () => {
      for (let i = 0; i < 3; i++) {
        const sync = timed(() => lock.acquire({ timeout: T }));
        assert.equal(sync.value, false);
        assertTimely(sync.elapsed, `${Kind.name}.acquire({ timeout: ${T} })`);
        const async_ = await timedAsync(() => lock.acquireAsync({ timeout: T }));
        assert.equal(async_.value, false);
        assertTimely(async_.elapsed, `${Kind.name}.acquireAsync({ timeout: ${T} })`);
      }
      const quick = timed(() => lock.acquire({ timeout: 0 }));
      assert.equal(quick.value, false);
      assert.ok(quick.elapsed < 20, "timeout 0 tries once without waiting");
      assert.equal(lock.acquire({ block: false, timeout: 10_000 }), false, "block: false ignores the timeout");
      assert.equal(await lock.acquireAsync({ timeout: 0 }), false);
    });
    // Free now: a timed acquire succeeds at once.
    assert.equal(lock.acquire({ timeout: T }), true);
    lock.release();
    lock.close();
  });
}

test(`Lock: hold() / holdAsync() with a timeout on a held lock throw ValueError after ≥ ${T} ms`, async () => {
  const lock = new Lock();
  await whileWorkerHolds(lock, async () => {
    const t0 = performance.now();
    assert.throws(() => lock.hold({ timeout: T }), /not acquired within the timeout/);
    assertTimely(performance.now() - t0, "hold({ timeout })");
    const t1 = performance.now();
    await assert.rejects(lock.holdAsync({ timeout: T }), /not acquired within the timeout/);
    assertTimely(performance.now() - t1, "holdAsync({ timeout })");
  });
  lock.close();
});

for (const Kind of [Semaphore, BoundedSemaphore]) {
  test(`${Kind.name}: acquire / acquireAsync with a timeout at value 0 return false after ≥ ${T} ms`, async () => {
    const sem = new Kind(1);
    assert.equal(sem.acquire(), true);
    for (let i = 0; i < 3; i++) {
      const sync = timed(() => sem.acquire({ timeout: T }));
      assert.equal(sync.value, false);
      assertTimely(sync.elapsed, `${Kind.name}.acquire({ timeout })`);
      const async_ = await timedAsync(() => sem.acquireAsync({ timeout: T }));
      assert.equal(async_.value, false);
      assertTimely(async_.elapsed, `${Kind.name}.acquireAsync({ timeout })`);
    }
    assert.equal(sem.getValue(), 0);
    sem.release();
    assert.equal(sem.acquire({ timeout: T }), true);
    sem.close();
  });
}

test(`Event: wait(${T}) / waitAsync(${T}) on an unset event return false after ≥ ${T} ms`, async () => {
  const event = new Event();
  for (let i = 0; i < 3; i++) {
    const sync = timed(() => event.wait(T));
    assert.equal(sync.value, false);
    assertTimely(sync.elapsed, "Event.wait(timeout)");
    const async_ = await timedAsync(() => event.waitAsync(T));
    assert.equal(async_.value, false);
    assertTimely(async_.elapsed, "Event.waitAsync(timeout)");
  }
  const quick = timed(() => event.wait(0));
  assert.equal(quick.value, false);
  assert.ok(quick.elapsed < 20);
  event.close();
});

for (const make of [() => new Condition(), () => new Condition(new Lock())]) {
  const cond = make();
  const label = `Condition(${cond.lock.constructor.name})`;
  test(`${label}: wait(${T}) / waitAsync(${T}) / waitFor / waitForAsync without a notify return false after ≥ ${T} ms, holding the lock again`, async () => {
    const holds = () => (cond.lock instanceof RLock ? cond.lock.isMine() : cond.lock.locked());
    cond.acquire();
    for (let i = 0; i < 3; i++) {
      const sync = timed(() => cond.wait(T));
      assert.equal(sync.value, false);
      assertTimely(sync.elapsed, `${label}.wait(timeout)`);
      assert.ok(holds(), "wait() returns holding the lock");
      const async_ = await timedAsync(() => cond.waitAsync(T));
      assert.equal(async_.value, false);
      assertTimely(async_.elapsed, `${label}.waitAsync(timeout)`);
      assert.ok(holds(), "waitAsync() resolves holding the lock");
    }
    const pred = timed(() => cond.waitFor(() => 0, T));
    assert.equal(pred.value, 0, "waitFor returns the predicate's last value");
    assertTimely(pred.elapsed, `${label}.waitFor(predicate, timeout)`);
    const predAsync = await timedAsync(() => cond.waitForAsync(() => "", T));
    assert.equal(predAsync.value, "");
    assertTimely(predAsync.elapsed, `${label}.waitForAsync(predicate, timeout)`);
    assert.ok(holds());
    cond.release();
    cond.close();
  });
}

test(`Barrier: wait(${T}) / waitAsync(${T}) without the other parties throw BrokenBarrierError after ≥ ${T} ms`, async () => {
  const barrier = new Barrier(2);
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    assert.throws(() => barrier.wait(T), BrokenBarrierError);
    assertTimely(performance.now() - t0, "Barrier.wait(timeout)");
    assert.equal(barrier.broken, true);
    barrier.reset();
    const t1 = performance.now();
    await assert.rejects(barrier.waitAsync(T), BrokenBarrierError);
    assertTimely(performance.now() - t1, "Barrier.waitAsync(timeout)");
    assert.equal(barrier.broken, true);
    barrier.reset();
  }
  barrier.close();
});

// Atomics.waitAsync's own timer may fire up to ~1 ms before performance.now() reaches the
// deadline (Node's timers have millisecond granularity); the async variants must wait again
// instead of reporting a timeout early. Many short, fractional timeouts make that visible.
test("async variants never time out early, over many short fractional timeouts", async () => {
  const timeouts = Array.from({ length: 40 }, (_, i) => 1 + (i % 7) + (i % 3) * 0.37);
  const early = [];
  const check = (what, t, elapsed) => {
    if (elapsed < t) early.push(`${what}(${t.toFixed(2)}) after ${elapsed.toFixed(3)} ms`);
  };
  const lock = new Lock();
  const event = new Event();
  const sem = new Semaphore(0);
  const cond = new Condition(new Lock());
  const barrier = new Barrier(2);
  await whileWorkerHolds(lock, async () => {
    for (const t of timeouts) {
      let r = await timedAsync(() => lock.acquireAsync({ timeout: t }));
      assert.equal(r.value, false);
      check("Lock.acquireAsync", t, r.elapsed);
      r = await timedAsync(() => event.waitAsync(t));
      assert.equal(r.value, false);
      check("Event.waitAsync", t, r.elapsed);
      r = await timedAsync(() => sem.acquireAsync({ timeout: t }));
      assert.equal(r.value, false);
      check("Semaphore.acquireAsync", t, r.elapsed);
      cond.acquire();
      r = await timedAsync(() => cond.waitAsync(t));
      cond.release();
      assert.equal(r.value, false);
      check("Condition.waitAsync", t, r.elapsed);
      const t0 = performance.now();
      await assert.rejects(barrier.waitAsync(t), BrokenBarrierError);
      check("Barrier.waitAsync", t, performance.now() - t0);
      barrier.reset();
    }
  });
  assert.deepEqual(early, [], "timeouts reported before their deadline");
  for (const o of [lock, event, sem, cond, barrier]) o.close();
});
