// *Async variants in a thread that could block too: they wait without blocking the event loop,
// resolve when a worker acts, and keep Node alive while pending.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Lock, RLock } from "../../dist/forkless.mjs";
import { withWorkers, sleep, stateOf } from "./helpers/workers.mjs";

for (const Kind of [Lock, RLock]) {
  test(`${Kind.name}: acquireAsync on a lock a worker holds resolves true once the worker releases`, async () => {
    const lock = new Kind();
    await withWorkers(async (spawn) => {
      const w = spawn("locks.mjs", "holdUntilTold", { kind: Kind.name, lock: lock.toHandle(), depth: Kind === RLock ? 2 : 1 });
      assert.equal(await w.message(), "held");
      const pending = lock.acquireAsync({ timeout: 10_000 });
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 5);
      await sleep(60);
      clearInterval(ticker);
      assert.ok(ticks >= 3, "the event loop kept running while acquireAsync waited");
      assert.equal(await stateOf(pending), "pending");
      w.send("release");
      assert.equal(await pending, true);
      if (Kind === RLock) {
        assert.equal(lock.isMine(), true);
        assert.equal(lock.depth, 1);
      } else {
        assert.equal(lock.locked(), true);
      }
      assert.equal(await w.done(), "released");
      lock.release();
    });
    lock.close();
  });
}

test("Lock: several pending acquireAsync calls in main all get the lock in turn", async () => {
  const lock = new Lock();
  await withWorkers(async (spawn) => {
    const w = spawn("locks.mjs", "holdUntilTold", { kind: "Lock", lock: lock.toHandle() });
    assert.equal(await w.message(), "held");
    let inside = 0;
    let maxInside = 0;
    const order = [];
    const contenders = [0, 1, 2, 3].map(async (i) => {
      assert.equal(await lock.acquireAsync({ timeout: 10_000 }), true);
      inside++;
      maxInside = Math.max(maxInside, inside);
      order.push(i);
      await sleep(5);
      inside--;
      lock.release();
    });
    await sleep(30);
    assert.deepEqual(order, []);
    w.send("release");
    await Promise.all(contenders);
    assert.equal(order.length, 4);
    assert.equal(maxInside, 1, "two async holders at once");
    await w.done();
  });
  assert.equal(lock.locked(), false);
  lock.close();
});

const child = fileURLToPath(new URL("./helpers/keepalive-child.mjs", import.meta.url));

function runChild(...kinds) {
  return spawnSync(process.execPath, [child, ...kinds], { encoding: "utf8", timeout: 30_000 });
}

const KINDS = ["Lock", "Semaphore", "Event", "Condition", "Barrier"];
let keepAlive; // one child process runs every kind in turn

for (const kind of KINDS) {
  test(`${kind}: a pending async wait is all that keeps Node alive, and it resolves`, () => {
    keepAlive ??= runChild(...KINDS);
    const lines = keepAlive.stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l));
    const line = lines.find((l) => l.kind === kind);
    assert.ok(line, `the child ended before ${kind}'s wait resolved: exit ${keepAlive.status} (${keepAlive.signal ?? "no signal"}); stderr:\n${keepAlive.stderr}`);
    if (kind === "Barrier") assert.ok(line.outcome === 0 || line.outcome === 1, `Barrier index ${line.outcome}`);
    else assert.equal(line.outcome, true);
    assert.ok(line.elapsed >= 100, `resolved after ${line.elapsed} ms, before the worker acted`);
    if (kind === KINDS.at(-1)) assert.equal(keepAlive.status, 0, keepAlive.stderr);
  });
}

test("control: with nothing pending but a never-settling promise, the child ends early (so the checks above can fail)", () => {
  const run = runChild("control");
  assert.equal(run.stdout, "");
  assert.equal(run.status, 13, `expected exit code 13 (unsettled top-level await), got ${run.status}; stderr:\n${run.stderr}`);
});
