// Lock figures: uncontended cost of acquire()+release(), and throughput of two threads
// contending for one lock.
import { startWorker } from "../lib/workers.mjs";
import { loopSession, workerLoopSession } from "../lib/session.mjs";
import { arm } from "../lib/arm.mjs";
import { watModule } from "../lib/wasm.mjs";
import { pythonBaseline } from "../lib/python-baseline.mjs";

// ---------------------------------------------------------------- uncontended

function uncontended(kind, data = () => ({})) {
  return (ctx) => workerLoopSession(ctx, "ns/op", "lock-uncontended.mjs", { kind, ...data() }, { startN: 100_000 });
}

// ---------------------------------------------------------------- contended

// Slots of the control Int32Array shared with bench/workers/lock-contended.mjs.
const GO = 0;
const ITERATIONS = 1;
const DONE = 2;
const ARMED = 3;
const THREADS = 2;
/**
 * Polls before sleeping in the hand-written futex mutex. 30 JS polls last ~0.17 µs, about
 * forkless's 256 Wasm polls (~0.1 µs); spins of 0 to 100 polls measured alike on this
 * 2-vCPU machine, 1000 was clearly slower.
 */
const FUTEX_SPIN = 30;

/**
 * Starts THREADS workers of `kind`; each repetition releases them at once and times until
 * the last one is done, then checks the count is exact.
 */
async function contended(ctx, kind, extra, cleanup = async () => {}) {
  const control = new SharedArrayBuffer(64);
  const counter = new SharedArrayBuffer(64);
  const ctl = new Int32Array(control);
  const count = new Int32Array(counter);
  const data = { kind, control, counter, ...extra };
  const workers = [];
  const close = async () => {
    for (const w of workers) w.post("stop");
    await Promise.all(workers.map((w) => w.terminate()));
    await cleanup();
  };
  try {
    for (let i = 0; i < THREADS; i++) workers.push(startWorker("lock-contended.mjs", data));
    for (const w of workers) {
      const message = await w.next();
      if (message !== "ready") throw new Error(`lock-contended worker: expected "ready", got ${JSON.stringify(message)}`);
    }
  } catch (error) {
    await close();
    throw error;
  }
  // n = lock-protected increments in one repetition, over all threads.
  const run = (n) => {
    const perThread = Math.max(1, Math.floor(n / THREADS));
    count[0] = 0;
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, ITERATIONS, perThread);
    arm(workers, ctl, ARMED);
    const t0 = performance.now();
    Atomics.add(ctl, GO, 1);
    Atomics.notify(ctl, GO);
    // Blocking here is fine (the workers do the work), but a worker that died would never
    // count itself done: give up after a minute rather than hang.
    for (let done; (done = Atomics.load(ctl, DONE)) < THREADS; ) {
      if (Atomics.wait(ctl, DONE, done, 60_000) === "timed-out") {
        throw new Error(`${kind} contended repetition: only ${done} of ${THREADS} workers finished within 60 s`);
      }
    }
    const ms = performance.now() - t0;
    const expected = perThread * THREADS;
    if (count[0] !== expected) {
      throw new Error(`${kind} lock lost mutual exclusion: counter = ${count[0]}, expected ${expected}`);
    }
    return (ms * n) / expected; // as if exactly n were done (n may not split evenly)
  };
  return loopSession(ctx, "ops/s", run, { startN: 20_000, maxN: 2 ** 30, close });
}

// ---------------------------------------------------------------- definitions

export const baselines = [
  {
    id: "raw.js-atomics-lock",
    unit: "ns/op",
    better: "lower",
    description: "hand-written JS lock: Atomics.compareExchange 0→1 then Atomics.store 0 on a SharedArrayBuffer",
    start: uncontended("raw-js"),
  },
  {
    id: "raw.wasm-lock",
    unit: "ns/op",
    better: "lower",
    description: "one JS→Wasm call per pair into a hand-written WAT function: i32.atomic.rmw.cmpxchg + i32.atomic.store",
    start: uncontended("raw-wasm", () => ({ module: watModule("lock") })),
  },
  pythonBaseline({
    id: "python.mp-lock",
    unit: "ns/op",
    better: "lower",
    description: "Python multiprocessing.Lock acquire()+release(), uncontended",
    script: "mp_lock.py",
  }),
  {
    id: "raw.futex-mutex",
    unit: "ops/s",
    better: "higher",
    description: `hand-written 3-state futex mutex in JS Atomics (Drepper's mutex2, ≤${FUTEX_SPIN} polls before Atomics.wait), ${THREADS} workers`,
    start: (ctx) => contended(ctx, "futex", { lockWord: new SharedArrayBuffer(64), spin: FUTEX_SPIN }),
  },
];

export const figures = [
  {
    id: "lock.uncontended",
    unit: "ns/op",
    better: "lower",
    description: "forkless Lock: one acquire()+release() pair, single thread, tight loop",
    against: ["raw.js-atomics-lock", "raw.wasm-lock", "python.mp-lock"],
    goals: { "raw.js-atomics-lock": 0.8, "raw.wasm-lock": 2 },
    start: uncontended("forkless"),
  },
  {
    id: "lock.contended.2",
    unit: "ops/s",
    better: "higher",
    description: `forkless Lock, ${THREADS} worker threads each looping acquire(); counter += 1 (plain); release(); count checked exact`,
    against: ["raw.futex-mutex"],
    goals: { "raw.futex-mutex": 0.8 },
    start: async (ctx) => {
      const { Lock, runtime } = await import("../../dist/forkless.mjs");
      const lock = new Lock();
      return contended(ctx, "forkless", { share: runtime().share(), lock: lock.toHandle() }, async () => lock.close());
    },
  },
];
