// Event figures: round-trip latency between the main thread and one worker.
import { startWorker } from "../lib/workers.mjs";
import { loopSession } from "../lib/session.mjs";
import { pythonBaseline } from "../lib/python-baseline.mjs";
import { arm } from "../lib/arm.mjs";

// Slots of the flags Int32Array shared with bench/workers/pingpong.mjs.
const PING = 0;
const PONG = 1;
const ARMED = 3;
const SPIN = 1000;
/** The main side's waits give up after this long: a worker that died would never answer. */
const STALL_MS = 10_000;

function stalled(what) {
  return new Error(`${what}: no reply from the worker within ${STALL_MS / 1000} s`);
}

/**
 * Starts the echo worker of `kind`; makeRun(flags, worker) gives the main thread's loop of
 * round trips. Before each loop of n the worker is armed to echo n times (between loops it
 * idles in its event loop: bench/lib/arm.mjs says why). On close the worker is told to stop
 * and terminated, and cleanup() runs.
 */
async function pingpong(ctx, kind, extra, makeRun, cleanup = async () => {}) {
  const flags = new Int32Array(new SharedArrayBuffer(64));
  const w = startWorker("pingpong.mjs", { kind, flags: flags.buffer, ...extra });
  const close = async () => {
    w.post("stop");
    await w.terminate();
    await cleanup();
  };
  try {
    const message = await w.next();
    if (message !== "ready") throw new Error(`pingpong worker: expected "ready", got ${JSON.stringify(message)}`);
  } catch (error) {
    await close();
    throw error;
  }
  const loop = makeRun(flags, w);
  // postMessage's worker answers from its event loop: nothing to arm.
  const run = kind === "postmessage" ? loop : (n) => (arm([w], flags, ARMED, { echo: n }), loop(n));
  return loopSession(ctx, "µs/round trip", run, { startN: 100, close });
}

export const baselines = [
  {
    id: "raw.atomics-wait-pingpong",
    unit: "µs/round trip",
    better: "lower",
    description: "two Int32 flags in a SharedArrayBuffer, Atomics.wait/notify, no spinning (both threads sleep between hops)",
    start: (ctx) =>
      pingpong(
        ctx,
        "atomics-wait",
        {},
        (f) =>
          function atomicsWaitPing(n) {
            const t0 = performance.now();
            for (let i = 0; i < n; i++) {
              Atomics.store(f, PING, 1);
              Atomics.notify(f, PING, 1);
              while (Atomics.load(f, PONG) === 0) {
                if (Atomics.wait(f, PONG, 0, STALL_MS) === "timed-out") throw stalled("raw ping-pong");
              }
              Atomics.store(f, PONG, 0);
            }
            return performance.now() - t0;
          },
      ),
  },
  {
    id: "raw.spin-pingpong",
    unit: "µs/round trip",
    better: "lower",
    description: `two Int32 flags, each side polls ≤${SPIN} times then Atomics.wait; notify after every set`,
    start: (ctx) =>
      pingpong(
        ctx,
        "spin",
        {},
        (f) =>
          function spinPing(n) {
            const t0 = performance.now();
            for (let i = 0; i < n; i++) {
              Atomics.store(f, PING, 1);
              Atomics.notify(f, PING, 1);
              for (let j = 0; j < SPIN && Atomics.load(f, PONG) === 0; j++);
              while (Atomics.load(f, PONG) === 0) {
                if (Atomics.wait(f, PONG, 0, STALL_MS) === "timed-out") throw stalled("raw ping-pong");
              }
              Atomics.store(f, PONG, 0);
            }
            return performance.now() - t0;
          },
      ),
  },
  {
    id: "postmessage.pingpong",
    unit: "µs/round trip",
    better: "lower",
    description: "worker_threads postMessage round trip main↔worker (small number payload, awaited reply)",
    start: (ctx) =>
      pingpong(
        ctx,
        "postmessage",
        {},
        (_f, w) =>
          async function postMessagePing(n) {
            const t0 = performance.now();
            for (let i = 0; i < n; i++) {
              w.post(i);
              if ((await w.next()) !== i) throw new Error("postMessage ping-pong: reply out of order");
            }
            return performance.now() - t0;
          },
      ),
  },
  pythonBaseline({
    id: "python.mp-event",
    unit: "µs/round trip",
    better: "lower",
    description: "Python multiprocessing.Event ping-pong between 2 processes (wait, clear, set the other's)",
    script: "mp_event.py",
  }),
];

export const figures = [
  {
    id: "event.pingpong",
    unit: "µs/round trip",
    better: "lower",
    description: "main thread ↔ one worker through two forkless Events: each side wait()s, clear()s its event, set()s the other's",
    against: ["postmessage.pingpong", "raw.atomics-wait-pingpong", "raw.spin-pingpong", "python.mp-event"],
    goals: { "postmessage.pingpong": 0.1 },
    start: async (ctx) => {
      const { Event, runtime } = await import("../../dist/forkless.mjs");
      const ping = new Event();
      const pong = new Event();
      return pingpong(
        ctx,
        "forkless",
        { share: runtime().share(), ping: ping.toHandle(), pong: pong.toHandle() },
        () =>
          function forklessPing(n) {
            const t0 = performance.now();
            for (let i = 0; i < n; i++) {
              ping.set();
              if (!pong.wait(STALL_MS)) throw stalled("forkless ping-pong");
              pong.clear();
            }
            return performance.now() - t0;
          },
        async () => {
          ping.close();
          pong.close();
        },
      );
    },
  },
];
