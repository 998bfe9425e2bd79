// Barrier across real worker threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Barrier, BrokenBarrierError } from "../../dist/forkless.mjs";
import { withWorkers, runWorkers, sharedInts, sleep, until } from "./helpers/workers.mjs";

function assertEveryGenerationHasEachIndexOnce(seen, gens, parties) {
  const bad = [];
  for (let g = 0; g < gens; g++) {
    const row = Array.from(seen.subarray(g * parties, (g + 1) * parties));
    if (row.some((n) => n !== 1)) bad.push(`generation ${g}: ${row}`);
  }
  assert.deepEqual(bad.slice(0, 10), [], "each generation must return exactly the indices 0 … parties-1");
}

const isBroken = (e) => e instanceof BrokenBarrierError && /Barrier is broken/.test(e.message) && /reset\(\)/.test(e.message);

test("Barrier: 4 workers × 1,000 generations; each returns {0,1,2,3} and the action runs once, in the last arrival", async () => {
  const GENS = 1000;
  const barrier = new Barrier(4);
  const seen = sharedInts(GENS * 4);
  const actions = sharedInts(1);
  const data = { barrier: barrier.toHandle(), gens: GENS, seen, actions };
  const results = await runWorkers("barrier.mjs", "barrierRounds", Array(4).fill(data));
  assertEveryGenerationHasEachIndexOnce(seen, GENS, 4);
  assert.equal(actions[0], GENS, "the action must run exactly once per generation");
  for (const { last, myActions, early } of results) {
    assert.equal(myActions, last, "the action runs in the thread that arrived last (index parties-1)");
    assert.equal(early, -1, `a party was released before the action of generation ${early} ran`);
  }
  assert.equal(results.reduce((n, r) => n + r.last, 0), GENS);
  assert.equal(barrier.broken, false);
  assert.equal(barrier.nWaiting, 0);
  barrier.close();
});

test("Barrier: waitAsync in main with 3 workers using wait(); 200 generations", async () => {
  const GENS = 200;
  const barrier = new Barrier(4);
  const seen = sharedInts(GENS * 4);
  await withWorkers(async (spawn) => {
    const ws = [0, 1, 2].map(() => spawn("barrier.mjs", "plainRounds", { barrier: barrier.toHandle(), gens: GENS, seen }));
    for (let g = 0; g < GENS; g++) Atomics.add(seen, g * 4 + (await barrier.waitAsync(10_000)), 1);
    await Promise.all(ws.map((w) => w.done()));
  });
  assertEveryGenerationHasEachIndexOnce(seen, GENS, 4);
  barrier.close();
});

test("Barrier: abort() breaks every blocked waiter; reset() makes it usable again", async () => {
  const barrier = new Barrier(4);
  await withWorkers(async (spawn) => {
    const ws = [0, 1, 2].map(() => spawn("barrier.mjs", "waitOnce", { barrier: barrier.toHandle() }));
    for (const w of ws) assert.equal(await w.message(), "waiting");
    await until(() => barrier.nWaiting === 3, "3 parties waiting");
    assert.equal(barrier.broken, false);
    barrier.abort();
    for (const r of await Promise.all(ws.map((w) => w.done()))) {
      assert.equal(r.broken, true, `expected BrokenBarrierError, got ${JSON.stringify(r)}`);
      assert.match(r.message, /Barrier is broken/);
    }
    assert.equal(barrier.broken, true);
    assert.throws(() => barrier.wait(), isBroken, "a broken barrier fails new waits at once");
    await assert.rejects(barrier.waitAsync(), isBroken);

    barrier.reset();
    assert.equal(barrier.broken, false);
    assert.equal(barrier.nWaiting, 0);
    const again = [0, 1, 2].map(() => spawn("barrier.mjs", "waitOnce", { barrier: barrier.toHandle(), timeout: 10_000 }));
    const mine = await barrier.waitAsync(10_000);
    const indices = [mine, ...(await Promise.all(again.map((w) => w.done()))).map((r) => r.index)];
    assert.deepEqual(indices.sort(), [0, 1, 2, 3]);
  });
  barrier.close();
});

test("Barrier: reset() while parties wait breaks them, but leaves the barrier usable", async () => {
  const barrier = new Barrier(3);
  await withWorkers(async (spawn) => {
    const ws = [0, 1].map(() => spawn("barrier.mjs", "waitOnce", { barrier: barrier.toHandle() }));
    await until(() => barrier.nWaiting === 2, "2 parties waiting");
    barrier.reset();
    for (const r of await Promise.all(ws.map((w) => w.done()))) assert.equal(r.broken, true, JSON.stringify(r));
    assert.equal(barrier.broken, false);
    const again = [0, 1].map(() => spawn("barrier.mjs", "waitOnce", { barrier: barrier.toHandle(), timeout: 10_000 }));
    const mine = barrier.wait(10_000);
    const indices = [mine, ...(await Promise.all(again.map((w) => w.done()))).map((r) => r.index)];
    assert.deepEqual(indices.sort(), [0, 1, 2]);
  });
  barrier.close();
});

test("Barrier: a wait that times out throws BrokenBarrierError no earlier than its timeout and breaks the barrier", async () => {
  const barrier = new Barrier(2);
  const t0 = performance.now();
  assert.throws(() => barrier.wait(50), isBroken);
  const elapsed = performance.now() - t0;
  assert.ok(elapsed >= 50, `wait(50) gave up after ${elapsed.toFixed(2)} ms`);
  assert.ok(elapsed < 2000, `wait(50) took ${elapsed.toFixed(0)} ms`);
  assert.equal(barrier.broken, true);
  barrier.reset();

  // A worker's timeout breaks the wait of another party that waits forever.
  const barrier3 = new Barrier(3);
  await withWorkers(async (spawn) => {
    const forever = spawn("barrier.mjs", "waitOnce", { barrier: barrier3.toHandle() });
    await until(() => barrier3.nWaiting === 1, "the first party to wait");
    const timed = spawn("barrier.mjs", "waitOnce", { barrier: barrier3.toHandle(), timeout: 50 });
    const [f, t] = await Promise.all([forever.done(), timed.done()]);
    assert.equal(t.broken, true, JSON.stringify(t));
    assert.ok(t.elapsed >= 50, `the timed wait gave up after ${t.elapsed} ms`);
    assert.equal(f.broken, true, JSON.stringify(f));
    assert.equal(barrier3.broken, true);
  });
  barrier3.close();

  // The constructor's default timeout applies to wait() without one, also through handles.
  const withDefault = new Barrier(2, { timeout: 50 });
  assert.equal(withDefault.toHandle().timeout, 50);
  const t1 = performance.now();
  assert.throws(() => withDefault.wait(), isBroken);
  assert.ok(performance.now() - t1 >= 50);
  withDefault.reset();
  const [r] = await runWorkers("barrier.mjs", "waitOnce", [{ barrier: withDefault.toHandle() }]);
  assert.equal(r.broken, true);
  assert.ok(r.elapsed >= 50, `worker's default-timeout wait gave up after ${r.elapsed} ms`);
  withDefault.close();
  barrier.close();
});

test("Barrier: an action that throws breaks the barrier; the last arrival gets the action's error", async () => {
  const barrier = new Barrier(2, { action: () => { throw new Error("action failed"); } });
  await withWorkers(async (spawn) => {
    const w = spawn("barrier.mjs", "waitOnce", { barrier: barrier.toHandle(), timeout: 10_000, action: "throw" });
    let mainError;
    try {
      await barrier.waitAsync(10_000);
    } catch (error) {
      mainError = error;
    }
    const r = await w.done();
    const outcomes = [mainError instanceof BrokenBarrierError ? "broken" : mainError?.message, r.broken ? "broken" : r.message].sort();
    assert.deepEqual(outcomes, ["action failed", "broken"]);
  });
  assert.equal(barrier.broken, true);
  barrier.close();
});

test("Barrier: parties, nWaiting and invalid arguments", () => {
  const barrier = new Barrier(3);
  assert.equal(barrier.parties, 3);
  assert.equal(barrier.nWaiting, 0);
  assert.equal(barrier.broken, false);
  const one = new Barrier(1);
  assert.equal(one.wait(), 0, "a one-party barrier releases at once");
  for (const bad of [0, -1, 1.5, NaN, "4", 0x8000]) {
    assert.throws(() => new Barrier(bad), (e) => e instanceof RangeError && /parties must be/.test(e.message), `Barrier(${String(bad)})`);
  }
  assert.throws(() => new Barrier(2, { action: 42 }), (e) => e instanceof TypeError && /action must be a function/.test(e.message));
  assert.throws(() => new Barrier(2, { timeout: -5 }), RangeError);
  barrier.close();
  one.close();
});
