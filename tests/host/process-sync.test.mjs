// Processes stopped while they hold or wait on shared primitives: what a terminated or
// killed child leaves behind must stay consistent for everyone else. Robust locks report
// a dead owner exactly once (OwnerDiedError), conditions and barriers forget dead waiters.
// The children's code lives in fixtures/targets.mjs.
import { test as nodeTest, afterEach } from "node:test";
import assert from "node:assert/strict";
import {
  Process,
  Lock,
  RLock,
  Semaphore,
  Event,
  Condition,
  Barrier,
  OwnerDiedError,
  activeChildren,
  memoryStats,
} from "../../dist/forkless.mjs";
import {
  waitsOnEvent,
  holdsLock,
  holdsRLock,
  startsLockHolder,
  startsOrphan,
  acquiresAfterOwnerDies,
  blocksInAcquire,
  waitsAtBarrier,
  waitsOnCondition,
} from "./fixtures/targets.mjs";
import { ints, until } from "./fixtures/shared.mjs";


/** Every test gets a time limit, so an asynchronous hang fails the test instead of stalling the run. */
function test(name, options, fn) {
  return typeof options === "function" ? nodeTest(name, { timeout: 120_000 }, options) : nodeTest(name, { timeout: 120_000, ...options }, fn);
}

const TARGETS = new URL("./fixtures/targets.mjs", import.meta.url);

function proc(target, args = [], options = {}) {
  return new Process({ target, args, module: TARGETS, ...options });
}

/** Every process a test started, so afterEach can stop leftovers and wait for every exit to be processed. */
const mine = new Set();

function started(target, args, options) {
  const p = proc(target, args, options);
  p.start();
  mine.add(p);
  return p;
}

function joined(p, ms = 15_000) {
  p.join(ms);
  assert.notEqual(p.exitCode, null, `${p.name} was still running after ${ms} ms`);
  return p.exitCode;
}

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Gives children that flagged "about to block" time to really sleep in Wasm. */
const SETTLE_MS = 40;

/** Children's failures are printed by the parent; the tests that expect one keep it quiet. */
async function quietly(fn) {
  const original = console.error;
  console.error = () => {};
  try {
    return await fn();
  } finally {
    console.error = original;
  }
}

afterEach(async () => {
  for (const child of activeChildren()) child.terminate();
  await Promise.all([...mine].map((child) => child.joinAsync(5_000)));
  mine.clear();
});

// ---------------------------------------------------------------- stopped while waiting

for (const stop of ["terminate", "kill"]) {
  test(`${stop}() of a child blocked in Lock.acquire leaves the lock to its holder; the next waiter gets it`, async () => {
    const lock = new Lock();
    const flags = ints(2);
    assert.equal(lock.acquire(), true);
    const victim = started(blocksInAcquire, [lock, flags, 0]);
    const other = started(blocksInAcquire, [lock, flags, 1]);
    await until(() => flags[0] === 1 && flags[1] === 1, "both children to reach acquire()");
    await pause(SETTLE_MS);
    victim[stop]();
    assert.equal(joined(victim), stop === "kill" ? -9 : -15);
    assert.equal(lock.locked(), true, "the parent still holds it");
    assert.equal(flags[1], 1, "the other child still waits");
    lock.release();
    assert.equal(joined(other), 0);
    assert.equal(flags[1], 2, "the other child acquired and released");
    assert.equal(flags[0], 1, "the stopped child never acquired");
    assert.equal(lock.locked(), false, "nobody holds it");
    assert.equal(lock.acquire({ block: false }), true, "free, and no owner died");
    lock.release();
    lock.close();
  });
}

// A terminated worker stays in the futex queue for a moment after its interrupt, so
// sem_release's notify(n) can wake it instead of the live waiter: semSlow re-checks every
// 100 ms so the live waiter still gets the permit (this test failed ~1 round in 3 before).
test("a child blocked in Semaphore.acquire is terminated: release() still reaches the live waiter", async () => {
  for (let round = 0; round < 6; round++) {
    const sem = new Semaphore(0);
    const flags = ints(2);
    const victim = started(blocksInAcquire, [sem, flags, 0]);
    const other = started(blocksInAcquire, [sem, flags, 1]);
    await until(() => flags[0] === 1 && flags[1] === 1, "both children to reach acquire()");
    await pause(SETTLE_MS);
    victim.terminate();
    sem.release();
    assert.equal(joined(other, 3_000), 0, `round ${round}: the live waiter got the unit`);
    assert.equal(flags[1], 2);
    assert.equal(sem.getValue(), 1, "the live waiter took the unit and gave it back");
    assert.equal(joined(victim), -15);
    await Promise.all([victim.joinAsync(), other.joinAsync()]);
    sem.close();
  }
});

test("a child blocked in Event.wait is terminated: set() still works and the other waiters wake", async () => {
  const event = new Event();
  const flags = ints(3);
  const victim = started(waitsOnEvent, [event, flags, 0]);
  const others = [started(waitsOnEvent, [event, flags, 1]), started(waitsOnEvent, [event, flags, 2])];
  await until(() => [...flags].every((f) => f === 1), "every child to wait");
  await pause(SETTLE_MS);
  victim.terminate();
  assert.equal(joined(victim), -15);
  assert.equal(event.isSet(), false);
  event.set();
  for (const p of others) assert.equal(joined(p), 0);
  assert.deepEqual([...flags], [1, 2, 2]);
  assert.equal(event.isSet(), true);

  // And the event still works both ways afterwards.
  event.clear();
  flags.fill(0);
  const late = started(waitsOnEvent, [event, flags, 0, 100]);
  assert.equal(joined(late), 0);
  assert.equal(flags[0], 3, "a cleared event times out");
  const again = started(waitsOnEvent, [event, flags, 1]);
  await until(() => flags[1] === 1, "the waiter");
  event.set();
  assert.equal(joined(again), 0);
  assert.equal(flags[1], 2);
  event.close();
});

test("a child blocked in Barrier(2).wait is terminated: the barrier is broken, and usable again after reset()", async () => {
  const barrier = new Barrier(2);
  const flags = ints(2);
  const victim = started(waitsAtBarrier, [barrier, flags, 0]);
  await until(() => barrier.nWaiting === 1, "the child to wait at the barrier");
  victim.terminate();
  assert.equal(joined(victim), -15);
  assert.equal(barrier.broken, true, "a party died mid-generation");
  assert.equal(barrier.nWaiting, 0);

  barrier.reset();
  assert.equal(barrier.broken, false);
  flags.fill(0);
  const pair = [started(waitsAtBarrier, [barrier, flags, 0]), started(waitsAtBarrier, [barrier, flags, 1])];
  for (const p of pair) assert.equal(joined(p), 0);
  assert.deepEqual([...flags].sort(), [10, 11], "indices 0 and 1, one each");
  assert.equal(barrier.broken, false);
  barrier.close();
});

test("a child blocked in Barrier(3).wait is killed: the live waiter gets BrokenBarrierError; after reset() three parties pass", async () => {
  const barrier = new Barrier(3);
  const flags = ints(2);
  const victim = started(waitsAtBarrier, [barrier, flags, 0]);
  const survivor = started(waitsAtBarrier, [barrier, flags, 1]);
  await until(() => barrier.nWaiting === 2, "both children to wait at the barrier");
  victim.kill();
  assert.equal(joined(survivor), 0);
  assert.equal(flags[1], -1, "BrokenBarrierError in the survivor");
  assert.equal(barrier.broken, true);
  assert.equal(joined(victim), -9);

  barrier.reset();
  flags.fill(0);
  const pair = [started(waitsAtBarrier, [barrier, flags, 0]), started(waitsAtBarrier, [barrier, flags, 1])];
  const mine = barrier.wait(10_000); // the parent is the third party
  for (const p of pair) assert.equal(joined(p), 0);
  assert.deepEqual([mine, flags[0] - 10, flags[1] - 10].sort(), [0, 1, 2]);
  barrier.close();
});

// ---------------------------------------------------------------- robust locks
// The parent's acquires are bounded: a regression must fail the test, not hang this thread
// (where node:test's own timeout cannot fire). Child B's test covers acquire() with no limit.

const deaths = [
  // [how the child ends while holding, how the parent acquires next]
  ["terminated", "acquire({ timeout: 10000 })"],
  ["killed", "acquire({ block: false })"],
  ["returned", "acquire({ timeout: 1000 })"],
  ["threw", "acquireAsync()"],
];

for (const [death, how] of deaths) {
  test(`robust Lock: the holder ${death}; the parent's ${how} throws OwnerDiedError once, then acquires`, async () => {
    const lock = new Lock();
    const held = new Event();
    const p = started(holdsLock, [lock, held, death === "returned" ? "return" : death === "threw" ? "throw" : "block"]);
    assert.equal(held.wait(10_000), true, "the child holds the lock");
    assert.equal(lock.locked(), true);
    const expected = { terminated: -15, killed: -9, returned: 0, threw: 1 }[death];
    await quietly(async () => {
      if (death === "terminated") p.terminate();
      if (death === "killed") p.kill();
      assert.equal(joined(p), expected);
      await p.joinAsync();
    });
    const acquire = {
      "acquire({ timeout: 10000 })": () => lock.acquire({ timeout: 10_000 }),
      "acquire({ block: false })": () => lock.acquire({ block: false }),
      "acquire({ timeout: 1000 })": () => lock.acquire({ timeout: 1000 }),
      "acquireAsync()": () => lock.acquireAsync(),
    }[how];
    if (how === "acquireAsync()") await assert.rejects(acquire(), OwnerDiedError);
    else assert.throws(acquire, (e) => e instanceof OwnerDiedError && /ended without releasing it/.test(e.message));
    assert.equal(lock.locked(), false, "after the report the lock is free, not held by the reporter");
    assert.equal(await acquire(), true, "the second acquire succeeds");
    assert.equal(lock.locked(), true);
    lock.release();
    assert.equal(lock.acquire({ block: false }), true, "reported only once");
    lock.release();
    lock.close();
    held.close();
  });
}

for (const stop of ["terminate", "kill"]) {
  test(`robust RLock: a holder at depth 3 is ${stop === "kill" ? "killed" : "terminated"}; OwnerDiedError once, then a fresh depth 1`, async () => {
    const rlock = new RLock();
    const held = new Event();
    const p = started(holdsRLock, [rlock, held, 3]);
    assert.equal(held.wait(10_000), true);
    assert.equal(rlock.depth, 3);
    assert.equal(rlock.isMine(), false);
    p[stop]();
    if (stop === "kill") await assert.rejects(rlock.acquireAsync(), OwnerDiedError);
    else assert.throws(() => rlock.acquire({ timeout: 10_000 }), OwnerDiedError);
    assert.equal(rlock.depth, 0);
    assert.equal(rlock.isMine(), false);
    assert.equal(rlock.acquire({ timeout: 10_000 }), true);
    assert.equal(rlock.depth, 1, "the dead owner's depth is gone");
    assert.equal(rlock.isMine(), true);
    rlock.release();
    assert.equal(rlock.depth, 0);
    assert.equal(rlock.acquire({ block: false }), true, "reported only once");
    rlock.release();
    assert.equal(joined(p), stop === "kill" ? -9 : -15);
    rlock.close();
    held.close();
  });
}

test("robust Lock: child A holds, child B blocks in acquire(); terminating A gives B OwnerDiedError, then B acquires", async () => {
  const lock = new Lock();
  const held = new Event();
  const flags = ints(3);
  const a = started(holdsLock, [lock, held, "block"]);
  assert.equal(held.wait(10_000), true);
  const b = started(acquiresAfterOwnerDies, [lock, flags]);
  await until(() => flags[0] === 1, "B to reach acquire()");
  await pause(SETTLE_MS);
  assert.equal(flags[1], 0, "B is still blocked");
  a.terminate();
  assert.equal(joined(b), 0);
  assert.equal(flags[1], 2, "B's blocking acquire() threw OwnerDiedError");
  assert.equal(flags[2], 1, "B's next acquire() succeeded");
  assert.equal(joined(a), -15);
  assert.equal(lock.acquire({ block: false }), true, "free again, and no second report");
  lock.release();
  lock.close();
  held.close();
});

// As in CPython, a process outlives its parent: terminating the parent ends its daemonic
// children with it, but not the others (they belong to the supervisor, not to the parent's worker).
test("robust Lock: a daemonic grandchild holds the lock and its parent is terminated; the grandchild ends too, and the lock and every thread are recovered", async () => {
  const lock = new Lock();
  const held = new Event();
  const before = memoryStats();
  const p = started(startsLockHolder, [lock, held, true]);
  assert.equal(held.wait(10_000), true, "the grandchild holds the lock");
  p.terminate();
  assert.throws(() => lock.acquire({ timeout: 10_000 }), OwnerDiedError);
  assert.equal(lock.acquire({ timeout: 1000 }), true);
  lock.release();
  assert.equal(joined(p), -15);
  await p.joinAsync();
  await until(() => memoryStats().blocks === before.blocks, "every block to be freed", 5_000).catch(() => {});
  assert.deepEqual(
    { blocks: memoryStats().blocks, bytes: memoryStats().bytes },
    { blocks: before.blocks, bytes: before.bytes },
    "what the child and the grandchild held was freed",
  );
  lock.close();
  held.close();
});

test("a non-daemonic grandchild outlives its terminated parent: it keeps its lock, sees its parent gone, and ends by itself", async () => {
  const lock = new Lock();
  const held = new Event();
  const flags = ints(2);
  const p = started(startsOrphan, [lock, held, flags]);
  assert.equal(held.wait(10_000), true, "the grandchild holds the lock");
  p.terminate();
  assert.equal(joined(p), -15);
  assert.equal(lock.acquire({ timeout: 200 }), false, "the grandchild still runs and holds the lock");
  Atomics.store(flags, 0, 1);
  Atomics.notify(flags, 0);
  assert.equal(lock.acquire({ timeout: 10_000 }), true, "the grandchild released it and ended");
  assert.equal(flags[1], 2, "the grandchild saw parentProcess().isAlive() === false");
  lock.release();
  lock.close();
  held.close();
});

// ---------------------------------------------------------------- condition

for (const [label, makeLock] of [
  ["default RLock", () => undefined],
  ["Lock", () => new Lock()],
]) {
  test(`Condition (${label}): a waiter terminated in wait() is forgotten; notifyAll wakes the live one and leaves no token behind`, async () => {
    const cond = new Condition(makeLock());
    const flags = ints(4);
    // A few rounds: a notify lost to the dying waiter shows up as a hang in one of them.
    for (let round = 0; round < 6; round++) {
      flags.fill(0);
      const victim = started(waitsOnCondition, [cond, flags, 0, undefined]);
      const survivor = started(waitsOnCondition, [cond, flags, 1, undefined]);
      await until(() => flags[0] === 1 && flags[1] === 1, "both children to wait");
      // Holding the lock proves both are inside wait() (each released it there).
      assert.equal(cond.acquire({ timeout: 10_000 }), true);
      cond.release();
      victim.terminate();
      assert.equal(joined(victim), -15);

      assert.equal(cond.acquire({ timeout: 10_000 }), true);
      cond.notifyAll();
      cond.release();
      assert.equal(joined(survivor, 5_000), 0, `round ${round}: the live waiter woke`);
      assert.equal(flags[1], 2, "the live waiter was notified");
      assert.equal(flags[0], 1, "the dead one never returned");
      await Promise.all([victim.joinAsync(), survivor.joinAsync()]);
    }

    // Had the dead waiter still counted, notifyAll would have left a spare token that a new
    // waiter would take at once instead of timing out.
    const late = started(waitsOnCondition, [cond, flags, 2, 300]);
    assert.equal(joined(late), 0);
    assert.equal(flags[2], 3, "a new waiter with nothing to take times out");

    const last = started(waitsOnCondition, [cond, flags, 3, undefined]);
    await until(() => flags[3] === 1, "the last waiter");
    assert.equal(cond.acquire({ timeout: 10_000 }), true);
    cond.notify();
    cond.release();
    assert.equal(joined(last), 0);
    assert.equal(flags[3], 2, "notify() still wakes waiters");
    cond.close();
  });
}
