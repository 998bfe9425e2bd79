// Regression tests for the defects of issue 10 in processes, the allocator and the reaper (the
// whole-program freeze, defects 3, 7, 12, the terminated-process leaks of 16 and the semantics
// of 17; locks, conditions and handles are in defects-sync.test.mjs, queues and pipes in
// defects-queues.test.mjs). Each test names its defect and was run against the code before the
// fix (commit 76238a2), where it fails or hangs; the comment above each says how.
//
// Bounded everywhere: every test has a timeout and this thread blocks only with timeouts (a
// freeze of the allocator in this thread is killed by the runner's per-file limit instead).
import { test as nodeTest, afterEach } from "node:test";
import assert from "node:assert/strict";
import * as forkless from "../../dist/forkless.mjs";
import { ints, until } from "./fixtures/shared.mjs";
import {
  quick,
  sleeps,
  reapsInALoop,
  allocatesInALoop,
  fillsItsHeap,
  leavesAFloatingRejection,
  reportsArg,
  holdsAndBlocks,
  usesAQueue,
  reportsStartMethod,
} from "./fixtures/defects-process.mjs";

const { Process, Lock, RLock, Queue, Pipe, Event, RawArray, EOFError, activeChildren, memoryStats, runtime, wait } = forkless;

function test(name, options, fn) {
  return typeof options === "function" ? nodeTest(name, { timeout: 30_000 }, options) : nodeTest(name, { timeout: 30_000, ...options }, fn);
}

const FIXTURE = new URL("./fixtures/defects-process.mjs", import.meta.url);
const mine = new Set();
function started(target, args = [], options = {}) {
  const p = new Process({ target, args, module: FIXTURE, ...options });
  p.start();
  mine.add(p);
  return p;
}

afterEach(async () => {
  for (const child of activeChildren()) child.terminate();
  await Promise.all([...mine].map((child) => child.joinAsync(10_000)));
  mine.clear();
});

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const objects = () => {
  warmUp.done ??= (warmUp(), true);
  const s = memoryStats();
  return { blocks: s.blocks, bytes: s.bytes, internalBlocks: s.internalBlocks, internalBytes: s.internalBytes };
};

/**
 * Gives this thread its own bookkeeping (reference table, queue staging buffer) and starts the
 * supervisor (a thread with a reference table of its own) before a baseline is taken.
 */
function warmUp() {
  const first = new Process({ target: quick, module: FIXTURE });
  first.start();
  first.join(20_000);
  first.close();
  const queue = new Queue();
  const lock = new Lock();
  queue.put({ warm: lock });
  queue.get().warm.close();
  lock.close();
  queue.close();
  const [a, b] = Pipe();
  a.send(1);
  b.recv();
  a.close();
  b.close();
}

/** Settles every forkless process and reap in flight, then compares the program's blocks with `before`. */
async function assertBackTo(before, what) {
  let now;
  for (let i = 0; i < 100; i++) {
    now = objects();
    if (now.blocks === before.blocks && now.bytes === before.bytes && now.internalBlocks === before.internalBlocks) break;
    await pause(50);
  }
  assert.deepEqual(now, before, what);
  assert.equal(runtime().exports.arena_check(), 0, "the arena's own consistency check");
}

// ---------------------------------------------------------------- the whole-program freeze

// Old code: the arena's spin lock stays held by the terminated child, and the next allocation
// in this thread (new Lock() below, or the reap in the exit handler) spins forever; the runner
// kills the file at its limit.
test("freeze: children terminated while they reap their own children and while they allocate, 40 times: every thread still allocates", { timeout: 120_000 }, async () => {
  const before = objects();
  for (let round = 0; round < 40; round++) {
    const flags = ints(2);
    const target = round % 2 ? reapsInALoop : allocatesInALoop;
    const child = started(target, [flags]);
    const progress = round % 2 ? 0 : 1;
    await until(() => Atomics.load(flags, progress) > 0, "the child to be at work");
    await pause(round % 5); // land at different points of its loop
    if (round % 3) child.terminate();
    else child.kill();
    assert.equal(await child.joinAsync(10_000), undefined);
    assert.notEqual(child.exitCode, null, `round ${round}: the child ended`);
    // Allocation and free work in this thread, and in a new child.
    const lock = new Lock();
    const array = new RawArray("B", 100_000);
    array.close();
    lock.close();
  }
  const last = started(quick);
  await last.joinAsync(10_000);
  assert.equal(last.exitCode, 0);
  // Grandchildren of the terminated reapers are non-daemonic: they end by themselves.
  await until(() => activeChildren().length === 0, "every child to be gone");
  await assertBackTo(before, "nothing the terminated children held or were making stays allocated");
});

// ---------------------------------------------------------------- defect 3

// Old code: the child's ERR_WORKER_OUT_OF_MEMORY reached nobody's 'error' listener and took the
// whole program down (the file fails with an unhandled error event).
test("defect 3: a child that runs out of JS heap (resourceLimits) ends with exit code 1 and an OutOfMemoryError failure; its parent goes on", { timeout: 60_000 }, async () => {
  const child = started(fillsItsHeap, [], { resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } });
  assert.equal(await child.joinAsync(45_000), undefined);
  assert.equal(child.exitCode, 1);
  assert.equal(child.failure?.name, "OutOfMemoryError", JSON.stringify(child.failure));
  // A blocking join returns too (the exit was published).
  child.join(1_000);
  const next = started(quick);
  next.join(10_000);
  assert.equal(next.exitCode, 0, "the parent still starts children");
});

test("defect 3: resourceLimits that are not an object are refused with a TypeError that shows the shape", () => {
  assert.throws(() => new Process({ target: quick, module: FIXTURE, resourceLimits: 64 }), /resourceLimits must be an object like \{ maxOldGenerationSizeMb/);
});

// ---------------------------------------------------------------- defect 7

// Old code: B got A's worker and died of A's rejection (exit 1 with A's error), 10 of 10 rounds.
test("defect 7: with 'reuse', a rejection process A leaves floating is A's failure, never the next process's (10 rounds)", { timeout: 60_000 }, async () => {
  for (let round = 0; round < 10; round++) {
    const a = started(leavesAFloatingRejection, [`A${round}`], { startMethod: "reuse" });
    await a.joinAsync(10_000);
    const b = started(sleeps, [5], { startMethod: "reuse" });
    await b.joinAsync(10_000);
    assert.equal(b.exitCode, 0, `round ${round}: B ended with ${b.exitCode}: ${JSON.stringify(b.failure)}`);
    assert.equal(b.failure, undefined);
    assert.equal(a.exitCode, 1, `round ${round}: A's rejection is A's failure`);
    assert.match(a.failure?.message ?? "", new RegExp(`floating rejection of A${round}`));
  }
});

// ---------------------------------------------------------------- defect 12

// Old code: the child took { __forklessHandle__: handle } for a travelling Lock, adopted it
// without a reference and freed its block at exit; the parent's lock then shared its word with
// the next new Lock().
test("defect 12: a plain value { __forklessHandle__: <a real handle> } in args arrives as that plain value; the lock it names is untouched", async () => {
  const lock = new Lock();
  const handle = lock.toHandle();
  const before = objects();
  const box = ints(256);
  const child = started(reportsArg, [{ __forklessHandle__: handle }, box]);
  await child.joinAsync(10_000);
  assert.equal(child.exitCode, 0, JSON.stringify(child.failure));
  const report = JSON.parse(new TextDecoder().decode(new Uint8Array(box.buffer, 4, box[0]).slice()));
  assert.deepEqual(report, { plain: true, keys: ["__forklessHandle__"], isLock: false });
  await assertBackTo(before, "the child neither took nor dropped a reference");
  // The lock is still this program's and still a lock of its own.
  const other = new Lock();
  assert.notDeepEqual(other.toHandle(), handle);
  assert.equal(lock.acquire({ timeout: 0 }), true);
  assert.equal(other.locked(), false, "a new lock does not share the old one's word");
  lock.release();
  other.close();
  lock.close();
});

// ---------------------------------------------------------------- defect 16: a terminated process's references

// Old code (documented limitation): a terminated process's references were never dropped: the
// objects only it held stayed allocated, and a pipe end it held kept counting as open.
test("defect 16: the objects only a terminated child held are freed when it is reaped; a write end it held gives the reader EOF", async () => {
  const before = objects();
  const [reader, writer] = Pipe({ duplex: false });
  const lock = new Lock();
  const queue = new Queue();
  queue.put({ still: "inside" });
  const event = new Event();
  const flags = ints(1);
  const child = started(holdsAndBlocks, [{ writer, lock, queue, event }, flags]);
  await until(() => Atomics.load(flags, 0) === 1, "the child to hold them");
  writer.close();
  lock.close();
  queue.close();
  event.close();
  await pause(20);
  assert.equal(reader.poll(0), false, "the child's write end is still open");
  child.terminate();
  await child.joinAsync(10_000);
  assert.equal(child.exitCode, -15);
  assert.equal(reader.poll(1_000), true, "EOF is readable");
  assert.throws(() => reader.recv(), EOFError);
  reader.close();
  await assertBackTo(before, "every block the child held is freed");
});

// Old code: each such process left its 64 KiB staging block behind (~8,000 processes filled 1 GiB).
test("defect 16: 60 processes that each used a queue leave no per-thread staging block behind", { timeout: 60_000 }, async () => {
  const queue = new Queue();
  const before = objects();
  for (let batch = 0; batch < 6; batch++) {
    const children = Array.from({ length: 10 }, () => started(usesAQueue, [queue]));
    for (const child of children) {
      await child.joinAsync(10_000);
      assert.equal(child.exitCode, 0, JSON.stringify(child.failure));
    }
  }
  await assertBackTo(before, "no staging blocks, tables or transits stay allocated");
  queue.close();
});

// ---------------------------------------------------------------- defect 17: semantics

// Old code: joinAsync(150) resolved after 149.67 ms and joinAsync(8.3) after 7.42 ms in about
// half the rounds (setTimeout truncates fractions and may fire early).
test("defect 17: joinAsync(timeout) never returns early, over 30 fractional timeouts", async () => {
  const child = started(sleeps, [30_000]);
  let early = [];
  for (let i = 0; i < 30; i++) {
    const ms = 3.3 + (i % 7) * 1.7;
    const t0 = performance.now();
    await child.joinAsync(ms);
    const took = performance.now() - t0;
    if (took < ms) early.push(`${took.toFixed(2)} < ${ms}`);
  }
  assert.deepEqual(early, [], "returned before its timeout");
  assert.equal(child.isAlive(), true);
  child.terminate();
});

// Old code: p.sentinel returned a new object on each read, so ready.includes(p.sentinel) was false.
test("defect 17: p.sentinel is one object; wait([...]) returns it, so ready.includes(p.sentinel) is Python's `p.sentinel in ready`", async () => {
  const child = started(sleeps, [20]);
  assert.equal(child.sentinel, child.sentinel);
  const ready = wait([child.sentinel], 10_000);
  assert.equal(ready.includes(child.sentinel), true);
});

// Old code: the child reported "warm" and its own child started warm: the boot message carried no start method.
for (const how of ["option", "setStartMethod"]) {
  test(`defect 17: a child started with "spawn" (${how}) reports "spawn", and its children start with "spawn" too`, async () => {
    const out = ints(2);
    let child;
    if (how === "option") child = started(reportsStartMethod, [out, 0], { startMethod: "spawn" });
    else {
      const previous = forkless.getStartMethod();
      forkless.setStartMethod("spawn", { force: true });
      try {
        child = started(reportsStartMethod, [out, 0]);
      } finally {
        forkless.setStartMethod(previous, { force: true });
      }
    }
    await child.joinAsync(20_000);
    assert.equal(child.exitCode, 0, JSON.stringify(child.failure));
    assert.deepEqual([...out], [2, 2], "child and grandchild: spawn (2)");
  });
}

// Old code: right after join(); close(), activeChildren() threw "ValueError: Process.isAlive: the
// process object is closed" until the exit event was processed.
test("defect 17: right after join(); close(), activeChildren() does not list the child and does not throw (50 rounds)", async () => {
  for (let i = 0; i < 50; i++) {
    const child = new Process({ target: quick, module: FIXTURE });
    child.start();
    child.join(10_000);
    child.close();
    assert.equal(activeChildren().includes(child), false);
  }
});

test("defect 17: RLock.locked() says whether anyone holds it, as CPython's RLock does", () => {
  const lock = new RLock();
  assert.equal(lock.locked(), false);
  lock.acquire();
  lock.acquire();
  assert.equal(lock.locked(), true);
  lock.release();
  assert.equal(lock.locked(), true, "still held once");
  lock.release();
  assert.equal(lock.locked(), false);
  lock.close();
});
