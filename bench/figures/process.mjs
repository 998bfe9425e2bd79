// Process figures: how long start() takes to reach the first line of run() (default warm
// method, and the spawn method's fresh worker), and a whole start+join cycle — against a bare
// worker_threads Worker, child_process.fork and Python's multiprocessing (fork and spawn).
//
// Latencies are wall-clock stamps: the parent notes the time just before start() (or new
// Worker / fork), the child's first line notes its own time (performance.timeOrigin + now(),
// comparable across threads) in shared memory. A repetition of n starts reports the mean.
// What happens between starts (join, letting the warm pool refill) is not timed.
import { fork } from "node:child_process";
import { Worker } from "node:worker_threads";
import { fileURLToPath } from "node:url";
import { loopSession } from "../lib/session.mjs";
import { python, runPython } from "../lib/python.mjs";
import { workerUrl } from "../lib/workers.mjs";

const TARGETS = new URL("../workers/process-targets.mjs", import.meta.url);
/** Untimed pause before each warm start, so the pool has booted the worker start() takes. */
const WARM_PAUSE_MS = 100;
/** After a repetition the warm pool boots replacements and ended workers tear down: let that finish before the next measurement (it cost the queue figures up to half their speed). */
const SETTLE_MS = 500;
const STALL_MS = 60_000;
/** Process starts cost milliseconds: short repetitions keep the figures to a few seconds each. */
const SHORT = { startN: 2, targetMs: 80, warmupMs: 40 };

const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** start() → first line of run(), per start method (undefined = the default). */
async function startToFirstLine(ctx, startMethod) {
  const { Process, getStartMethod } = await import("../../dist/forkless.mjs");
  const { stampFirstLine } = await import(TARGETS);
  const warm = (startMethod ?? getStartMethod()) === "warm";
  const stamp = new Float64Array(new SharedArrayBuffer(8));
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const run = async function startLatencies(n) {
    let total = 0;
    for (let i = 0; i < n; i++) {
      if (warm) await sleep(WARM_PAUSE_MS);
      Atomics.store(flag, 0, 0);
      const p = new Process({ target: stampFirstLine, args: [stamp, flag], module: TARGETS, startMethod });
      const t0 = wallNow();
      p.start();
      if (Atomics.wait(flag, 0, 0, STALL_MS) === "timed-out") throw new Error(`process.start: run() did not begin within ${STALL_MS / 1000} s`);
      total += stamp[0] - t0;
      await p.joinAsync(STALL_MS);
      if (p.exitCode !== 0) throw new Error(`process.start: the child exited ${p.exitCode}`);
    }
    return total;
  };
  return loopSession(ctx, "ms", run, SHORT);
}

function pythonStart(method) {
  return {
    id: `python.${method}`,
    unit: "ms",
    better: "lower",
    description: `Python multiprocessing.Process start() → first line of run(), start method '${method}' (each joined before the next)`,
    skip() {
      return python() ? null : "python3 not found on PATH; Python baselines skipped";
    },
    info() {
      const py = python();
      return py ? { python: py.version, pythonExecutable: py.executable } : {};
    },
    async start(ctx) {
      return { rep: async () => runPython("mp_start.py", [ctx.timing.targetMs / 1000, method]), close: async () => {} };
    },
  };
}

export const baselines = [
  {
    id: "raw.new-worker",
    unit: "ms",
    better: "lower",
    description: "a bare worker_threads new Worker(file) → its first line runs (and posts its first message)",
    start: (ctx) => {
      const stamp = new Float64Array(new SharedArrayBuffer(8));
      const url = workerUrl("first-line.mjs");
      const run = async function newWorkers(n) {
        let total = 0;
        for (let i = 0; i < n; i++) {
          const t0 = wallNow();
          const w = new Worker(url, { workerData: { stamp: stamp.buffer } });
          const exited = new Promise((resolve) => w.once("exit", resolve));
          await new Promise((resolve, reject) => {
            w.once("message", resolve);
            w.once("error", reject);
          });
          total += stamp[0] - t0;
          await exited;
        }
        return total;
      };
      return loopSession(ctx, "ms", run, SHORT);
    },
  },
  {
    id: "node.child-process-fork",
    unit: "ms",
    better: "lower",
    description: "child_process.fork(script) → the parent receives the child's first IPC message (sent by its first line)",
    start: (ctx) => {
      const script = fileURLToPath(workerUrl("fork-child.cjs"));
      const run = async function forks(n) {
        let total = 0;
        for (let i = 0; i < n; i++) {
          const t0 = performance.now();
          const child = fork(script, [], { stdio: "ignore" });
          const exited = new Promise((resolve) => child.once("exit", resolve));
          await new Promise((resolve, reject) => {
            child.once("message", resolve);
            child.once("error", reject);
          });
          total += performance.now() - t0;
          await exited;
        }
        return total;
      };
      return loopSession(ctx, "ms", run, SHORT);
    },
  },
  pythonStart("fork"),
  pythonStart("spawn"),
];

export const figures = [
  {
    id: "process.start",
    unit: "ms",
    better: "lower",
    description: `forkless Process start() → first line of run(), default start method (warm: a pre-booted worker; ${WARM_PAUSE_MS} ms untimed between starts so the pool refills)`,
    against: ["python.fork", "python.spawn", "raw.new-worker", "node.child-process-fork"],
    goals: { "python.fork": 1.0 },
    settleMs: SETTLE_MS,
    start: (ctx) => startToFirstLine(ctx, undefined),
  },
  {
    id: "process.cold-start",
    unit: "ms",
    better: "lower",
    description: "forkless Process start() → first line of run(), spawn method (a fresh worker per process)",
    against: ["raw.new-worker"],
    goals: { "raw.new-worker": 1.2 },
    settleMs: SETTLE_MS,
    start: (ctx) => startToFirstLine(ctx, "spawn"),
  },
  {
    id: "process.start-join",
    unit: "ms",
    better: "lower",
    description: "a whole forkless start() + await joinAsync() cycle of a target that returns (exit code 0), default method, back to back",
    against: [],
    settleMs: SETTLE_MS,
    start: async (ctx) => {
      const { Process } = await import("../../dist/forkless.mjs");
      const { nothing } = await import(TARGETS);
      const run = async function startJoinCycles(n) {
        let total = 0;
        for (let i = 0; i < n; i++) {
          const p = new Process({ target: nothing, module: TARGETS });
          const t0 = performance.now();
          p.start();
          await p.joinAsync(STALL_MS);
          total += performance.now() - t0;
          if (p.exitCode !== 0) throw new Error(`process.start-join: the child exited ${p.exitCode}`);
        }
        return total;
      };
      return loopSession(ctx, "ms", run, SHORT);
    },
  },
];
