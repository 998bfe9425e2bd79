// Lifetime: close() and the FinalizationRegistry backstop give memory back; dispose closes;
// a block shared with a worker lives until both threads closed it.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  Lock,
  RLock,
  Semaphore,
  BoundedSemaphore,
  Event,
  Condition,
  Barrier,
  memoryStats,
  StaleHandleError,
  ClosedError,
} from "../../dist/forkless.mjs";
import { withWorkers } from "./helpers/workers.mjs";

const makers = [
  () => new Lock(),
  () => new RLock(),
  () => new Semaphore(2),
  () => new BoundedSemaphore(2),
  () => new Event(),
  () => new Condition(),
  () => new Barrier(2),
  () => new Condition(new Lock()), // closes only the condition; the lock is closed separately
];

const blocksAndBytes = () => {
  const { blocks, bytes } = memoryStats();
  return { blocks, bytes };
};

test("100,000 create/close cycles of every kind leave blocks, bytes and top where they were", () => {
  const start = memoryStats();
  let top;
  for (let i = 0; i < 100_000; i++) {
    const object = makers[i % makers.length]();
    if (i % 5 === 0) {
      // A second reference through a handle, closed first.
      const copy = object.constructor.fromHandle(object.toHandle());
      copy.close();
    }
    const lock = object instanceof Condition && !(object.lock instanceof RLock) ? object.lock : undefined;
    object.close();
    lock?.close();
    if (i === 1000) {
      top = memoryStats().top;
      assert.deepEqual(blocksAndBytes(), { blocks: start.blocks, bytes: start.bytes });
    }
  }
  const end = memoryStats();
  assert.equal(end.blocks, start.blocks, "blocks leaked");
  assert.equal(end.bytes, start.bytes, "bytes leaked");
  assert.equal(end.top, top, "the heap top grew after the first cycles: freed blocks are not reused");
  // The arena hands out 64 KiB pages, one size class to a page: the first cycles may take a page per class.
  assert.ok(end.top - start.top <= 8 * 65536, `the first cycles took ${end.top - start.top} bytes of heap`);
  assert.equal(end.memoryBytes, start.memoryBytes, "the memory grew");
});

test("objects dropped without close() are freed by the FinalizationRegistry after GC", async () => {
  assert.equal(typeof globalThis.gc, "function", "run with --expose-gc");
  const start = memoryStats();
  (function makeGarbage() {
    for (let i = 0; i < 700; i++) makers[i % 7]();
  })();
  const made = memoryStats().blocks - start.blocks;
  assert.equal(made, 800, "700 objects, 100 of them Conditions with their own RLock");
  const deadline = performance.now() + 5000;
  while (memoryStats().blocks !== start.blocks && performance.now() < deadline) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.deepEqual(blocksAndBytes(), { blocks: start.blocks, bytes: start.bytes }, "the backstop did not free every dropped object within 5 s");
});

test("closed objects are not freed twice when their wrappers are collected", async () => {
  const start = memoryStats();
  const keep = new Lock(); // live throughout: must survive the finalizers of the garbage
  (function closedGarbage() {
    for (let i = 0; i < 200; i++) makers[i % 7]().close();
  })();
  const reused = [];
  for (let i = 0; i < 50; i++) reused.push(new Lock()); // reuse the freed blocks
  for (let i = 0; i < 10; i++) {
    globalThis.gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(memoryStats().blocks, start.blocks + 51);
  for (const lock of [keep, ...reused]) {
    assert.equal(lock.acquire({ block: false }), true, "a reused block was released by a stale finalizer");
    lock.release();
    lock.close();
  }
  assert.equal(memoryStats().blocks, start.blocks);
});

test("Symbol.dispose closes objects and releases hold() guards", () => {
  const start = memoryStats();
  for (const make of makers.slice(0, 7)) {
    const object = make();
    object[Symbol.dispose]();
    assert.equal(object.closed, true);
  }
  assert.equal(memoryStats().blocks, start.blocks);

  const lock = new Lock();
  const guard = lock.hold();
  assert.equal(lock.locked(), true);
  guard[Symbol.dispose]();
  assert.equal(lock.locked(), false);
  guard[Symbol.dispose](); // releasing twice through one guard is harmless
  guard.release();
  assert.equal(lock.locked(), false);
  assert.equal(lock.acquire({ block: false }), true, "the second dispose did not release someone else's hold");
  lock.release();
  lock.close();
});

const hasUsing = (() => {
  try {
    new Function("{ using x = null; }");
    return true;
  } catch {
    return false;
  }
})();

test("`using` declarations close objects and release holds", { skip: hasUsing ? false : `\`using\` is not supported by Node ${process.version}` }, async () => {
  const { usingBlock, usingHold, usingHoldAsync } = await import("./helpers/using.mjs");
  const start = memoryStats();
  const { lock, event } = usingBlock();
  assert.equal(lock.closed, true);
  assert.equal(event.closed, true);
  assert.equal(memoryStats().blocks, start.blocks);
  const held = new Lock();
  assert.equal(usingHold(held), false);
  assert.equal(await usingHoldAsync(held), false);
  held.close();
});

test("a block shared with a worker survives main's close() and is freed after both closed", async () => {
  await withWorkers(async (spawn) => {
    const w = spawn("misc.mjs", "shareThenClose", {});
    assert.equal(await w.message(), "ready"); // attached: its thread record is allocated
    const start = memoryStats().blocks;
    const lock = new Lock();
    const handle = lock.toHandle();
    assert.equal(memoryStats().blocks, start + 1);
    w.send(handle);
    assert.equal(await w.message(), "holding");

    lock.close();
    assert.throws(() => lock.locked(), ClosedError);
    assert.equal(memoryStats().blocks, start + 1, "freed while the worker still holds a reference");
    const view = Lock.fromHandle(handle); // still live: rebuild from the handle taken before close()
    assert.equal(view.locked(), true, "the worker's hold is visible through the rebuilt object");
    view.close();
    assert.equal(memoryStats().blocks, start + 1);

    w.send("main closed");
    assert.equal(await w.message(), true, "the worker could still use the lock after main closed it");
    w.send("close");
    assert.equal(await w.done(), "closed");
    assert.equal(memoryStats().blocks, start, "not freed after both threads closed it");
    assert.throws(() => Lock.fromHandle(handle), StaleHandleError);
  });
});
