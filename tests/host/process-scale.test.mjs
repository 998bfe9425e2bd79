// Processes in numbers: Ansible's WorkerProcess shape under a manager loop, 100 warm starts,
// the spawn method, and a start/join soak that must leave no worker and no shared block behind.
// The children's code lives in fixtures/ansible.mjs and fixtures/targets.mjs.
import { test as nodeTest, afterEach } from "node:test";
import assert from "node:assert/strict";
import {
  Process,
  Lock,
  Event,
  activeChildren,
  wait,
  waitAsync,
  getStartMethod,
  setStartMethod,
  memoryStats,
} from "../../dist/forkless.mjs";
import { WorkerProcess, DONE, RUNNING, MAX_RUNNING, STARTS, RESULTS, expectedResult } from "./fixtures/ansible.mjs";
import { countsOnce, stampsRun } from "./fixtures/targets.mjs";
import { ints, floats, until, wallNow } from "./fixtures/shared.mjs";


/** Every test gets a time limit, so an asynchronous hang fails the test instead of stalling the run. */
function test(name, options, fn) {
  return typeof options === "function" ? nodeTest(name, { timeout: 120_000 }, options) : nodeTest(name, { timeout: 120_000, ...options }, fn);
}

const TARGETS = new URL("./fixtures/targets.mjs", import.meta.url);

/** Every process a test started, so afterEach can stop leftovers and wait for every exit to be processed. */
const mine = new Set();

afterEach(async () => {
  for (const child of activeChildren()) child.terminate();
  await Promise.all([...mine].map((child) => child.joinAsync(10_000)));
  mine.clear();
});

function quantile(values, q) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function describeLatency(values) {
  return `median ${quantile(values, 0.5).toFixed(1)} ms, p90 ${quantile(values, 0.9).toFixed(1)} ms, max ${Math.max(...values).toFixed(1)} ms`;
}

// ---------------------------------------------------------------- Ansible

test("Ansible's shape: a manager loop keeps at most 3 WorkerProcess alive over 12 tasks; results come back through shared primitives", async () => {
  const FORKS = 3;
  const TASKS = 12;
  const lock = new Lock();
  const stats = ints(RESULTS + TASKS);
  const tasks = Array.from({ length: TASKS }, (_, id) => ({
    id,
    action: "ping",
    args: { n: id * 7 },
    vars: { list: [id, 1, 2] },
    ms: 20 + (id % 4) * 10,
  }));
  const hosts = tasks.map((task) => `host-${task.id}.example.org`);
  const workers = [];
  const doneEvents = [];
  const running = new Set();
  let next = 0;
  let mostAlive = 0;

  // Like Ansible's strategy loop: fill free slots, then block until some worker ends.
  while (next < TASKS || running.size > 0) {
    for (const worker of running) if (!worker.isAlive()) running.delete(worker);
    while (running.size < FORKS && next < TASKS) {
      const id = next++;
      const done = new Event();
      const taskVars = { inventory_hostname: hosts[id], ansible_connection: "local", facts: { os: "linux" } };
      const worker = new WorkerProcess(lock, done, stats, taskVars, hosts[id], tasks[id], id);
      worker.start();
      mine.add(worker);
      workers.push(worker);
      doneEvents.push(done);
      running.add(worker);
    }
    const alive = activeChildren().length;
    mostAlive = Math.max(mostAlive, alive);
    assert.ok(alive <= FORKS, `${alive} workers alive at once`);
    if (running.size > 0) wait([...running], 10_000);
  }

  for (const worker of workers) {
    worker.join(10_000);
    assert.equal(worker.exitCode, 0, `${worker.name}: exit code`);
  }
  await Promise.all(workers.map((worker) => worker.joinAsync()));
  for (const worker of workers) assert.equal(worker.failure, undefined, `${worker.name}: ${worker.failure?.message}`);
  assert.deepEqual(
    workers.map((worker) => worker.name),
    tasks.map((task) => `worker-${task.id}`),
  );
  doneEvents.forEach((done, id) => assert.equal(done.isSet(), true, `worker-${id} signalled its Event`));
  assert.equal(stats[STARTS], TASKS, "every worker ran once");
  assert.equal(stats[DONE], TASKS, "the shared counter under the Lock saw every result");
  assert.equal(stats[RUNNING], 0);
  assert.ok(stats[MAX_RUNNING] <= FORKS, `at most ${FORKS} ran at once (saw ${stats[MAX_RUNNING]})`);
  assert.ok(mostAlive >= 2 && mostAlive <= FORKS, `the manager kept several workers alive at once (saw ${mostAlive})`);
  tasks.forEach((task) => assert.equal(stats[RESULTS + task.id], expectedResult(task, hosts[task.id]), `result of task ${task.id}`));
  assert.equal(lock.locked(), false);
  assert.deepEqual(activeChildren(), []);
  lock.close();
  for (const done of doneEvents) done.close();
});

// ---------------------------------------------------------------- many processes

test("warm start method: 100 short processes, at most 8 alive at a time, each does its work exactly once", async (t) => {
  const N = 100;
  const MAX_ALIVE = 8;
  assert.equal(getStartMethod(), "warm");
  const counts = ints(N);
  const live = ints(2);
  const ranAt = floats(N);
  const startedAt = new Float64Array(N);
  const processes = [];
  const running = new Set();
  let next = 0;
  const t0 = performance.now();
  while (next < N || running.size > 0) {
    for (const p of running) if (p.exitCode !== null) running.delete(p);
    while (running.size < MAX_ALIVE && next < N) {
      const i = next++;
      const p = new Process({ target: countsOnce, args: [counts, live, ranAt, i, 5], module: TARGETS });
      startedAt[i] = wallNow();
      p.start();
      mine.add(p);
      processes.push(p);
      running.add(p);
    }
    assert.ok(activeChildren().length <= MAX_ALIVE);
    if (running.size > 0) await waitAsync([...running], 10_000);
  }
  const elapsed = performance.now() - t0;
  for (const p of processes) {
    await p.joinAsync(10_000);
    assert.equal(p.exitCode, 0, `${p.name}: ${p.failure?.message}`);
  }
  assert.deepEqual([...counts], Array(N).fill(1), "every process counted exactly once");
  assert.equal(live[0], 0);
  assert.ok(live[1] >= 1 && live[1] <= MAX_ALIVE, `at most ${MAX_ALIVE} ran at once (saw ${live[1]})`);
  assert.equal(new Set(processes.map((p) => p.name)).size, N, "distinct names");
  const latency = [...ranAt].map((at, i) => at - startedAt[i]);
  t.diagnostic(`warm: ${N} processes in ${elapsed.toFixed(0)} ms; start() → run() ${describeLatency(latency)}; at most ${live[1]} ran at once`);
});

test("warm start method: an idle pool's worker was booted before start(); spawn boots one inside start()", async (t) => {
  const runs = 4;
  const times = floats(2 * runs);
  const latency = { warm: [], spawn: [] };
  for (const method of ["warm", "spawn"]) {
    for (let i = 0; i < runs; i++) {
      const p = new Process({ target: stampsRun, args: [times, 2 * i], module: TARGETS, startMethod: method });
      // Let the warm pool's replacement worker boot (slow on a loaded machine).
      await new Promise((resolve) => setTimeout(resolve, method === "warm" ? 500 : 50));
      const startedAt = wallNow();
      p.start();
      mine.add(p);
      await p.joinAsync(10_000);
      assert.equal(p.exitCode, 0);
      latency[method].push(times[2 * i] - startedAt);
      const born = times[2 * i + 1];
      if (method === "warm") assert.ok(born < startedAt, `warm: the worker was born ${(startedAt - born).toFixed(1)} ms before start()`);
      else assert.ok(born > startedAt, `spawn: the worker was born ${(born - startedAt).toFixed(1)} ms after start()`);
    }
  }
  t.diagnostic(`idle-pool start() → run(): warm ${describeLatency(latency.warm)}; spawn ${describeLatency(latency.spawn)}`);
});

test("spawn start method: setStartMethod('spawn') and { startMethod: 'spawn' } both run processes correctly", async (t) => {
  const counts = ints(6);
  const live = ints(2);
  const processes = [];
  setStartMethod("spawn", { force: true });
  try {
    assert.equal(getStartMethod(), "spawn");
    for (let i = 0; i < 3; i++) processes.push(new Process({ target: countsOnce, args: [counts, live, null, i, 20], module: TARGETS }));
  } finally {
    setStartMethod("warm", { force: true });
  }
  for (let i = 3; i < 6; i++) {
    processes.push(new Process({ target: countsOnce, args: [counts, live, null, i, 20], module: TARGETS, startMethod: "spawn" }));
  }
  const t0 = performance.now();
  for (const p of processes) {
    p.start();
    mine.add(p);
  }
  for (const p of processes) {
    await p.joinAsync(15_000);
    assert.equal(p.exitCode, 0, `${p.name}: ${p.failure?.message}`);
  }
  t.diagnostic(`spawn: 6 concurrent processes in ${(performance.now() - t0).toFixed(0)} ms`);
  assert.deepEqual([...counts], Array(6).fill(1));
  assert.equal(live[0], 0);
  assert.equal(getStartMethod(), "warm");
});

// ---------------------------------------------------------------- hygiene

// 1,000 cycles take about 30–100 ms each depending on the machine's load (each one boots a
// worker for the pool, imports the fixtures and tears a worker down), too slow for every run
// on three Node versions: the default is 200, and FORKLESS_SOAK=1 runs the full 1,000.
const SOAK = process.env.FORKLESS_SOAK === "1";
const CYCLES = SOAK ? 1_000 : 200;

function workerHandles() {
  return process.getActiveResourcesInfo().filter((kind) => kind === "MessagePort" || kind === "Worker").length;
}

test(`hygiene: ${CYCLES} sequential start/join cycles (warm) leave no live worker and give back every shared block`, { timeout: SOAK ? 900_000 : 300_000 }, async (t) => {
  assert.equal(getStartMethod(), "warm");
  const counts = ints(1);
  const live = ints(2);
  const stamps = floats(1);
  globalThis.gc?.();
  const rssBefore = process.memoryUsage().rss;
  const blocksBefore = memoryStats();
  const handlesBefore = workerHandles();
  const latency = [];
  const t0 = performance.now();
  for (let i = 0; i < CYCLES; i++) {
    const p = new Process({ target: countsOnce, args: [counts, live, stamps, 0, 0], module: TARGETS });
    const startedAt = wallNow();
    p.start();
    p.join(10_000);
    if (p.exitCode !== 0) assert.fail(`cycle ${i}: ${p.name} exit code ${p.exitCode}`);
    latency.push(stamps[0] - startedAt);
    await p.joinAsync(10_000); // its exit is processed: record freed, worker gone
    if (activeChildren().length !== 0) assert.fail(`cycle ${i}: ${activeChildren().length} children still alive`);
  }
  const elapsed = performance.now() - t0;
  // Exit events finalize asynchronously: give them a moment, then everything must be back.
  await until(
    () => activeChildren().length === 0 && memoryStats().blocks === blocksBefore.blocks && workerHandles() <= handlesBefore,
    "every child's exit to be processed",
    10_000,
  ).catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 20));
  globalThis.gc?.();
  const rssAfter = process.memoryUsage().rss;
  const blocksAfter = memoryStats();
  assert.equal(counts[0], CYCLES, "each cycle's process ran exactly once");
  assert.equal(live[0], 0);
  assert.equal(live[1], 1, "never two at once");
  assert.deepEqual(activeChildren(), []);
  assert.ok(workerHandles() <= handlesBefore, `no worker left referenced (${workerHandles()} handles, ${handlesBefore} before)`);
  assert.deepEqual({ blocks: blocksAfter.blocks, bytes: blocksAfter.bytes }, { blocks: blocksBefore.blocks, bytes: blocksBefore.bytes });
  const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);
  const summary =
    `hygiene: ${CYCLES} cycles in ${(elapsed / 1000).toFixed(1)} s (${(elapsed / CYCLES).toFixed(1)} ms each); ` +
    `start() → run() ${describeLatency(latency)}; rss ${mb(rssBefore)} MiB → ${mb(rssAfter)} MiB; ` +
    `shared blocks ${blocksBefore.blocks} → ${blocksAfter.blocks}, bytes ${blocksBefore.bytes} → ${blocksAfter.bytes}`;
  t.diagnostic(summary);
  console.log(`# ${summary}`);
});
