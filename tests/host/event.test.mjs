// Event across real worker threads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Event } from "../../dist/forkless.mjs";
import { withWorkers, sharedInts, sleep, until, stateOf } from "./helpers/workers.mjs";

async function wakeFourWaiters(afterSet) {
  const event = new Event();
  const ready = sharedInts(4);
  const woke = sharedInts(4);
  await withWorkers(async (spawn) => {
    const workers = [0, 1, 2, 3].map(() =>
      spawn("event.mjs", "waitForEvent", { event: event.toHandle(), ready, woke, timeout: 10_000 }),
    );
    await until(() => ready.every((r) => r === 1), "all 4 workers to be about to wait");
    await sleep(50);
    assert.deepEqual([...woke], [0, 0, 0, 0], "a worker returned from wait() before the event was set");
    for (const w of workers) assert.equal(await stateOf(w.result), "pending");
    event.set();
    afterSet(event);
    const results = await Promise.all(workers.map((w) => w.done()));
    for (const { result, elapsed } of results) {
      assert.equal(result, true, "wait() must report that the event fired");
      assert.ok(elapsed >= 45, `a worker waited only ${elapsed.toFixed(1)} ms although it was blocked ≥ 50 ms`);
      assert.ok(elapsed < 10_000, "woken by set(), not by its timeout");
    }
    assert.deepEqual([...woke], [1, 1, 1, 1]);
  });
  return event;
}

test("Event: set() wakes 4 workers blocked in wait(); all report true", async () => {
  const event = await wakeFourWaiters(() => {});
  assert.equal(event.isSet(), true);
  assert.equal(event.wait(0), true);
  assert.equal(event.wait(), true, "wait on a set event returns at once");
  event.close();
});

test("Event: waiters blocked through set() immediately followed by clear() still report true", async () => {
  const event = await wakeFourWaiters((e) => e.clear());
  assert.equal(event.isSet(), false);
  event.close();
});

test("Event: isSet / set / clear are shared with workers", async () => {
  const event = new Event();
  assert.equal(event.isSet(), false);
  await withWorkers(async (spawn) => {
    const w = spawn("event.mjs", "setWhenTold", { event: event.toHandle() });
    assert.equal(await w.message(), "ready");
    w.send("set");
    assert.equal(await w.done(), true);
    assert.equal(event.isSet(), true);
    const c = spawn("event.mjs", "setWhenTold", { event: event.toHandle() });
    assert.equal(await c.message(), "ready");
    c.send("clear");
    assert.equal(await c.done(), false);
    assert.equal(event.isSet(), false);
    assert.equal(event.wait(0), false);
  });
  event.close();
});

test("Event: waitAsync in main resolves true when a worker sets the event", async () => {
  const event = new Event();
  await withWorkers(async (spawn) => {
    const w = spawn("event.mjs", "setWhenTold", { event: event.toHandle() });
    assert.equal(await w.message(), "ready");
    const pending = event.waitAsync(10_000);
    await sleep(30);
    assert.equal(await stateOf(pending), "pending");
    w.send("set");
    assert.equal(await pending, true);
    assert.equal(await w.done(), true);
  });
  assert.equal(await event.waitAsync(), true, "waitAsync on a set event resolves at once");
  event.close();
});
