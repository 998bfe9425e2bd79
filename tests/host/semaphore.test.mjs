// Semaphore and BoundedSemaphore across real worker threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Semaphore, BoundedSemaphore, ValueError } from "../../dist/forkless.mjs";
import { runWorkers, withWorkers, sharedInts, sleep, stateOf } from "./helpers/workers.mjs";

test("Semaphore(3): 6 workers never have more than 3 holders at once, and do reach 3", async () => {
  const sem = new Semaphore(3);
  const stats = sharedInts(2); // [current holders, maximum seen]
  const data = { sem: sem.toHandle(), stats, rounds: 30, holdMs: 2, gate: sharedInts(1), parties: 6 };
  const rounds = await runWorkers("semaphore.mjs", "holdRounds", Array(6).fill(data));
  assert.deepEqual(rounds, Array(6).fill(30));
  assert.equal(stats[0], 0);
  assert.ok(stats[1] <= 3, `${stats[1]} holders at once under Semaphore(3)`);
  assert.equal(stats[1], 3, "the holders never overlapped up to the semaphore's value");
  assert.equal(sem.getValue(), 3);
  sem.close();
});

test("Semaphore: value goes down with acquire and up with release(n), across threads", async () => {
  const sem = new Semaphore(5);
  await withWorkers(async (spawn) => {
    const w = spawn("semaphore.mjs", "acquireThenRelease", { sem: sem.toHandle(), count: 4 });
    assert.equal(await w.message(), "acquired");
    assert.equal(sem.getValue(), 1);
    assert.equal(sem.acquire({ block: false }), true);
    assert.equal(sem.acquire({ block: false }), false);
    assert.equal(sem.getValue(), 0);
    w.send("go");
    assert.equal(await w.done(), 4);
    sem.release(2);
    assert.equal(sem.getValue(), 6, "a plain Semaphore may be released above its initial value");
  });
  sem.close();
});

test("Semaphore: acquire in main blocks until a worker releases", async () => {
  const sem = new Semaphore(0);
  await withWorkers(async (spawn) => {
    const w = spawn("semaphore.mjs", "releaseWhenTold", { sem: sem.toHandle() });
    assert.equal(await w.message(), "ready");
    const pending = sem.acquireAsync({ timeout: 10_000 });
    await sleep(30);
    assert.equal(await stateOf(pending), "pending");
    w.send("go");
    assert.equal(await pending, true);
    assert.equal(sem.getValue(), 0);
    assert.equal(await w.done(), "released");
  });
  sem.close();
});

test("BoundedSemaphore: over-release throws ValueError and leaves the value unchanged", async () => {
  const sem = new BoundedSemaphore(2);
  assert.equal(sem.getValue(), 2);
  assert.throws(
    () => sem.release(),
    (e) => e instanceof ValueError && /released too many times/.test(e.message) && /initial value 2/.test(e.message),
  );
  assert.equal(sem.getValue(), 2);
  assert.equal(sem.acquire(), true);
  assert.throws(() => sem.release(2), ValueError, "release(2) from 1 would pass the bound");
  assert.equal(sem.getValue(), 1);
  sem.release();
  assert.equal(sem.getValue(), 2);

  // The bound lives in shared memory: a worker's over-release fails the same way.
  const [r] = await runWorkers("semaphore.mjs", "overRelease", [{ sem: sem.toHandle() }]);
  assert.equal(r.threw, true);
  assert.equal(r.valueError, true);
  assert.match(r.message, /released too many times/);
  assert.equal(r.before, 2);
  assert.equal(r.after, 2);
  assert.equal(sem.getValue(), 2);
  sem.close();
});

test("Semaphore: invalid initial values and release counts throw RangeError", () => {
  for (const bad of [-1, 1.5, NaN, Infinity, "3", 2 ** 31, null]) {
    assert.throws(() => new Semaphore(bad), (e) => e instanceof RangeError && /initial value must be an integer/.test(e.message), `Semaphore(${String(bad)})`);
    assert.throws(() => new BoundedSemaphore(bad), RangeError, `BoundedSemaphore(${String(bad)})`);
  }
  const sem = new Semaphore(0);
  assert.equal(sem.getValue(), 0);
  for (const bad of [0, -1, 1.5, "2"]) {
    assert.throws(() => sem.release(bad), (e) => e instanceof RangeError && /n must be an integer/.test(e.message), `release(${bad})`);
  }
  assert.equal(sem.getValue(), 0);
  sem.close();
  assert.equal(new Semaphore().getValue(), 1, "the default value is 1");
});
