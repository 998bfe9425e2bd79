// The "reuse" start method: a worker whose process ended cleanly takes the next process, like
// a Pool's workers. What must hold: every process still starts, runs and ends with the right
// exit code; a worker is handed on only when its process left nothing behind (no timer, no
// error, no exit(n), no object opened at import); in-flight objects and records are neither
// lost nor freed twice; and a blocked parent (join() without its event loop) reuses workers too.
import { test as nodeTest, afterEach } from "node:test";
import assert from "node:assert/strict";
import { threadId } from "node:worker_threads";
import { Process, Lock, Event, Queue, activeChildren, memoryStats, getAllStartMethods } from "../../dist/forkless.mjs";
import { ints } from "./fixtures/shared.mjs";
import {
  reportsWorker,
  countsUnderLock,
  leavesTimer,
  throwsAfterReport,
  exitsWith,
  putsOnQueue,
  waitsForever,
} from "./fixtures/reuse-targets.mjs";
import { usesModuleLock } from "./fixtures/reuse-opens-at-import.mjs";

function test(name, fn) {
  return nodeTest(name, { timeout: 120_000 }, fn);
}

const TARGETS = new URL("./fixtures/reuse-targets.mjs", import.meta.url);
const OPENS_AT_IMPORT = new URL("./fixtures/reuse-opens-at-import.mjs", import.meta.url);
const mine = new Set();

afterEach(async () => {
  for (const child of activeChildren()) child.terminate();
  await Promise.all([...mine].map((child) => child.joinAsync(10_000)));
  mine.clear();
});

function reuse(target, args, module = TARGETS) {
  const p = new Process({ target, args, module, startMethod: "reuse" });
  mine.add(p);
  return p;
}

/** Runs one process to its end (joinAsync: lets the worker's "recycled" message arrive) and returns the worker's thread id. */
async function runOne(target, args, out, slot, module) {
  const p = reuse(target, args, module);
  p.start();
  await p.joinAsync(20_000);
  return { p, worker: out[3 * slot] };
}

test("'reuse' is listed among the start methods", () => {
  assert.deepEqual(getAllStartMethods(), ["warm", "spawn", "reuse"]);
});

test("blocking start/join 40 times: a few workers run every process, module state survives, records are freed", async () => {
  const N = 40;
  const out = ints(3 * N);
  const before = memoryStats();
  for (let i = 0; i < N; i++) {
    const p = reuse(reportsWorker, [out, i]);
    p.start();
    p.join(20_000); // never yields to the event loop: the worker is handed on through shared memory
    assert.equal(p.exitCode, 0, `process ${i}: ${p.failure?.message}`);
  }
  const workers = new Set();
  const pids = new Set();
  let mostRuns = 0;
  for (let i = 0; i < N; i++) {
    workers.add(out[3 * i]);
    pids.add(out[3 * i + 2]);
    mostRuns = Math.max(mostRuns, out[3 * i + 1]);
    assert.notEqual(out[3 * i], threadId, "ran in a worker, not here");
  }
  assert.ok(workers.size <= 3, `${N} processes ran in ${workers.size} workers (expected reuse)`);
  assert.ok(mostRuns >= N / 3, `one worker ran ${mostRuns} processes`);
  for (const p of mine) await p.joinAsync(); // the last one is finalized once its worker's message arrives
  assert.equal(memoryStats().blocks, before.blocks, "every process record was freed, once");
  assert.ok(pids.size >= 1);
});

test("4 at a time, 120 processes counting under one Lock: exact total, workers reused, nothing leaked", async () => {
  const N = 120;
  const FORKS = 4;
  const PER = 500;
  const out = ints(3 * N);
  const counter = ints(1);
  const lock = new Lock();
  const before = memoryStats();
  const running = new Set();
  for (let i = 0; i < N; i++) {
    while (running.size >= FORKS) {
      await Promise.race([...running].map((p) => p.joinAsync().then(() => p)));
      for (const p of running) if (p.exitCode !== null) running.delete(p);
    }
    const p = reuse(countsUnderLock, [lock, counter, PER, out, i]);
    p.start();
    running.add(p);
  }
  for (const p of running) await p.joinAsync(20_000);
  for (const p of mine) assert.equal(p.exitCode, 0, `${p.name}: ${p.failure?.message}`);
  assert.equal(counter[0], N * PER);
  const workers = new Set(Array.from({ length: N }, (_, i) => out[3 * i]));
  assert.ok(workers.size <= 20, `${N} processes ran in ${workers.size} workers`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(memoryStats().blocks, before.blocks, "records and in-flight references all released");
  lock.close();
});

test("a process that leaves a timer, throws or calls exit(n) ends its worker; the next process gets another", async () => {
  const out = ints(3 * 8);
  const cases = [
    { target: leavesTimer, code: 0 },
    { target: throwsAfterReport, code: 1 },
    { target: exitsWith, code: 7, args: (i) => [7, out, i] },
  ];
  let slot = 0;
  const error = console.error;
  console.error = () => {}; // the thrown error's report is expected
  try {
    for (const { target, code, args } of cases) {
      const first = slot++;
      const { p, worker } = await runOne(target, args ? args(first) : [out, first], out, first);
      assert.equal(p.exitCode, code, `${target.name}: exit code`);
      const next = slot++;
      const after = await runOne(reportsWorker, [out, next], out, next);
      assert.equal(after.p.exitCode, 0);
      assert.notEqual(after.worker, worker, `${target.name}: its worker must not run the next process`);
    }
  } finally {
    console.error = error;
  }
});

test("a worker whose module opened a forkless object at import is not reused", async () => {
  const out = ints(4);
  const first = reuse(usesModuleLock, [out, 0], OPENS_AT_IMPORT);
  first.start();
  await first.joinAsync(20_000);
  const second = reuse(usesModuleLock, [out, 1], OPENS_AT_IMPORT);
  second.start();
  await second.joinAsync(20_000);
  assert.equal(first.exitCode, 0, first.failure?.message);
  assert.equal(second.exitCode, 0, second.failure?.message);
  assert.notEqual(out[0], out[2], "the second process had a fresh worker, so its module lock was open");
});

test("terminate() a process in a reused worker: exit -15; the next process and a queue still work", async () => {
  const out = ints(3 * 3);
  const first = await runOne(reportsWorker, [out, 0], out, 0);
  assert.equal(first.p.exitCode, 0);
  const event = new Event();
  const blocked = reuse(waitsForever, [event, out, 1]);
  blocked.start();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(out[3 * 1], first.worker, "the second process reused the first one's worker");
  assert.equal(out[3 * 1 + 1], out[3 * 0 + 1] + 1, "and saw the module state the first one left");
  blocked.terminate();
  await blocked.joinAsync(10_000);
  assert.equal(blocked.exitCode, -15);
  const queue = new Queue();
  const third = reuse(putsOnQueue, [queue, 42, out]);
  third.start();
  assert.equal(await queue.getAsync({ timeout: 20_000 }), 42);
  await third.joinAsync(20_000);
  assert.equal(third.exitCode, 0);
  event.close();
  queue.close();
});

test("objects the parent closes right after start() still reach a reused child, and are freed once", async () => {
  const N = 20;
  const out = ints(3 * N);
  const counter = ints(1);
  const before = memoryStats();
  for (let i = 0; i < N; i++) {
    const lock = new Lock();
    const p = reuse(countsUnderLock, [lock, counter, 10, out, i]);
    p.start();
    lock.close(); // the child's reference travelled with it
    await p.joinAsync(20_000);
    assert.equal(p.exitCode, 0, p.failure?.message);
  }
  assert.equal(counter[0], N * 10);
  assert.ok(new Set(Array.from({ length: N }, (_, i) => out[3 * i])).size <= 3, "workers were reused");
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(memoryStats().blocks, before.blocks);
});
