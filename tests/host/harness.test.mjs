// The worker harness itself: a failing worker must fail its test, never pass silently.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withWorkers, runWorkers, TestWorker } from "./helpers/workers.mjs";

test("harness: a worker's result and messages reach main", async () => {
  const data = { n: 42, list: [1, 2], shared: new Int32Array(new SharedArrayBuffer(8)) };
  await withWorkers(async (spawn) => {
    const w = spawn("misc.mjs", "echo", data);
    const message = await w.message();
    assert.equal(message.got.n, 42);
    const result = await w.done();
    assert.deepEqual(result.list, [1, 2]);
  });
});

test("harness: a task that throws rejects with the worker's error name, message and stack", async () => {
  await assert.rejects(runWorkers("misc.mjs", "throwTyped", [{}]), (e) => {
    assert.match(e.message, /worker 0 \(misc.mjs throwTyped\) failed: RangeError: the worker's own message/);
    assert.match(e.stack, /stack in the worker/);
    return true;
  });
});

test("harness: a worker that exits with a non-zero code rejects", async () => {
  await assert.rejects(runWorkers("misc.mjs", "exitWith", [{ code: 3 }]), /exited with code 3 before reporting a result/);
});

test("harness: an uncaught error in the worker (the 'error' event) rejects", async () => {
  await assert.rejects(runWorkers("misc.mjs", "throwLater", [{}]), /TypeError: thrown from a timer in the worker/);
});

test("harness: a worker that never finishes fails at the time limit and is terminated", async () => {
  let worker;
  await assert.rejects(
    withWorkers(
      async (spawn) => {
        worker = spawn("misc.mjs", "never", {});
        await worker.done();
      },
      { timeoutMs: 300 },
    ),
    /did not finish within 300 ms/,
  );
  await assert.rejects(worker.result, /terminated|exited/);
});

test("harness: an unknown task is reported", async () => {
  await assert.rejects(runWorkers("misc.mjs", "noSuchTask", [{}]), /has no exported task noSuchTask/);
  assert.ok(TestWorker);
});

test("harness: a failing worker fails withWorkers at once, even while main waits on something else", async () => {
  const t0 = performance.now();
  await assert.rejects(
    withWorkers(async (spawn) => {
      spawn("misc.mjs", "throwTyped", {});
      await new Promise(() => {}); // main stuck waiting for something the worker would have done
    }),
    /RangeError: the worker's own message/,
  );
  assert.ok(performance.now() - t0 < 10_000, "the worker's failure surfaced only after main gave up");
});
