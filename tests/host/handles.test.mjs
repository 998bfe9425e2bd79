// Handles cross threads: every kind, rebuilt in a worker from workerData or a message, is
// the same live block (a change on one side is seen on the other).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier } from "../../dist/forkless.mjs";
import { withWorkers } from "./helpers/workers.mjs";

test("every kind sent to a worker with toHandle() and rebuilt there is live on the same block", async () => {
  const lock = new Lock();
  const rlock = new RLock();
  const sem = new Semaphore(2);
  const bsem = new BoundedSemaphore(2);
  const cond = new Condition();
  const barrier = new Barrier(2);
  const event = new Event();
  const handles = {
    Lock: lock.toHandle(),
    RLock: rlock.toHandle(),
    Semaphore: sem.toHandle(),
    BoundedSemaphore: bsem.toHandle(),
    Condition: cond.toHandle(),
    Barrier: barrier.toHandle(),
  };
  // Handles are plain data.
  assert.deepEqual(structuredClone(handles), handles);
  assert.equal(JSON.parse(JSON.stringify(handles.Condition)).lock.$forkless, "RLock");

  await withWorkers(async (spawn) => {
    const w = spawn("misc.mjs", "useEveryKind", { handles });
    assert.equal(await w.message(), "opened");
    w.send(event.toHandle()); // a handle sent by postMessage after start
    assert.equal(await w.message(), "changed");

    assert.equal(lock.locked(), true, "the worker's acquire is visible in main");
    assert.equal(lock.acquire({ block: false }), false);
    assert.equal(rlock.depth, 2);
    assert.equal(rlock.isMine(), false);
    assert.equal(rlock.acquire({ block: false }), false);
    assert.equal(sem.getValue(), 1);
    assert.equal(bsem.getValue(), 1);
    assert.equal(cond.lock.depth, 1, "the worker holds the condition's own RLock");
    assert.equal(cond.acquire({ block: false }), false);
    assert.equal(event.isSet(), true);

    w.send("undo");
    const index = await barrier.waitAsync(10_000);
    const result = await w.done();
    assert.deepEqual([index, result.index].sort(), [0, 1], "main and the worker met at the same barrier");
    assert.equal(result.overRelease, "ValueError", "the worker sees the bound of the BoundedSemaphore");

    assert.equal(lock.locked(), false);
    assert.equal(rlock.depth, 0);
    assert.equal(sem.getValue(), 2);
    assert.equal(bsem.getValue(), 2);
    assert.equal(cond.lock.depth, 0);
    assert.equal(event.isSet(), false);
    assert.equal(lock.acquire({ block: false }), true);
    lock.release();
  });
  for (const o of [lock, rlock, sem, bsem, cond, barrier, event]) o.close();
});
