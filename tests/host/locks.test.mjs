// Lock and RLock across real worker threads: mutual exclusion, re-entry, ownership.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Lock, RLock, NotOwnerError, ValueError } from "../../dist/forkless.mjs";
import { runWorkers, withWorkers, sharedInts } from "./helpers/workers.mjs";

const WORKERS = 4;
const PER_WORKER = 250_000;

test("Lock: 4 workers × 250,000 plain increments under one Lock are exact", async () => {
  const lock = new Lock();
  const counter = sharedInts(1);
  const data = { lock: lock.toHandle(), counter, n: PER_WORKER, gate: sharedInts(1), parties: WORKERS };
  await runWorkers("locks.mjs", "incrementLock", Array(WORKERS).fill(data));
  assert.equal(counter[0], WORKERS * PER_WORKER);
  assert.equal(lock.locked(), false);
  lock.close();
});

test("RLock: 4 workers × 250,000 plain increments (with re-entry) under one RLock are exact", async () => {
  const lock = new RLock();
  const counter = sharedInts(1);
  const data = { lock: lock.toHandle(), counter, n: PER_WORKER, gate: sharedInts(1), parties: WORKERS };
  const depths = await runWorkers("locks.mjs", "incrementRLock", Array(WORKERS).fill(data));
  assert.equal(counter[0], WORKERS * PER_WORKER);
  assert.deepEqual(depths, Array(WORKERS).fill(2));
  assert.equal(lock.depth, 0);
  lock.close();
});

test("RLock: re-entry counts depth; each acquire needs one release", () => {
  const lock = new RLock();
  assert.equal(lock.depth, 0);
  assert.equal(lock.isMine(), false);
  for (let d = 1; d <= 5; d++) {
    assert.equal(lock.acquire(), true);
    assert.equal(lock.depth, d);
  }
  assert.equal(lock.acquire({ block: false }), true, "the owner re-enters even without blocking");
  assert.equal(lock.acquire({ timeout: 0 }), true);
  assert.equal(lock.depth, 7);
  for (let d = 6; d >= 1; d--) {
    lock.release();
    assert.equal(lock.depth, d);
    assert.equal(lock.isMine(), true);
  }
  lock.release();
  assert.equal(lock.depth, 0);
  assert.equal(lock.isMine(), false);
  assert.throws(() => lock.release(), (e) => e instanceof ValueError && /not held/.test(e.message));
  lock.close();
});

test("RLock: release by a non-owner (main, or another worker) throws NotOwnerError and changes nothing", async () => {
  const lock = new RLock();
  await withWorkers(async (spawn) => {
    const owner = spawn("locks.mjs", "holdUntilTold", { kind: "RLock", lock: lock.toHandle(), depth: 2 });
    assert.equal(await owner.message(), "held");
    assert.equal(lock.isMine(), false);
    assert.equal(lock.depth, 2);

    assert.throws(
      () => lock.release(),
      (e) => e instanceof NotOwnerError && /does not own the lock/.test(e.message),
    );
    assert.equal(lock.depth, 2, "a failed release must not change the depth");

    const other = await spawn("locks.mjs", "releaseForeignRLock", { lock: lock.toHandle() }).done();
    assert.equal(other.threw, true, "another worker released an RLock it does not own");
    assert.equal(other.notOwner, true, `expected NotOwnerError, got ${other.name}: ${other.message}`);
    assert.match(other.message, /does not own the lock/);
    assert.equal(other.depth, 2);

    // Main cannot take it while the worker holds it.
    assert.equal(lock.acquire({ block: false }), false);
    owner.send("release");
    assert.equal(await owner.done(), "released");
    assert.equal(lock.acquire({ timeout: 5000 }), true);
    assert.equal(lock.isMine(), true);
    lock.release();
  });
  lock.close();
});

test("Lock: any thread may release a Lock another thread acquired (Python semantics)", async () => {
  const lock = new Lock();
  assert.equal(lock.acquire(), true);
  const [lockedAfter] = await runWorkers("locks.mjs", "releaseForeignLock", [{ lock: lock.toHandle() }]);
  assert.equal(lockedAfter, false);
  assert.equal(lock.locked(), false);
  assert.throws(() => lock.release(), (e) => e instanceof ValueError && /not held/.test(e.message));
  lock.close();
});

test("Lock: a worker blocks while main holds the lock, and gets it after release", async () => {
  const lock = new Lock();
  assert.equal(lock.acquire(), true);
  await withWorkers(async (spawn) => {
    const w = spawn("locks.mjs", "timedAcquire", { kind: "Lock", lock: lock.toHandle(), timeout: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    lock.release();
    const { got, elapsed } = await w.done();
    assert.equal(got, true);
    assert.ok(elapsed < 10_000);
  });
  assert.equal(lock.locked(), true, "the worker still holds it (it never released)");
  lock.close();
});
