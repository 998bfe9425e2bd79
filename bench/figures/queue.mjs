// Queue and pipe figures: message throughput between threads (forkless Queue/SimpleQueue vs
// worker_threads postMessage, ringbuf.js and Python's multiprocessing), large messages, and
// the round trip of a Pipe (vs postMessage, a piscina pool and Python's Pipe).
//
// Throughput: producer and consumer threads (bench/workers/queue-throughput.mjs) wait on a
// shared control array; each repetition releases them and times until every consumer has
// taken its messages, then checks the consumers' checksums (sum of id + value over every
// message, and every name), so a fast wrong run cannot count.
import { MessageChannel } from "node:worker_threads";
import { startWorker } from "../lib/workers.mjs";
import { loopSession } from "../lib/session.mjs";
import { pythonBaseline } from "../lib/python-baseline.mjs";
import { arm } from "../lib/arm.mjs";

// Slots of the control Int32Array shared with bench/workers/queue-throughput.mjs.
const GO = 0;
const N = 1;
const DONE = 2;
const PRODUCERS_DONE = 3;
const BAD = 4;
const ARMED = 5;

const LARGE = 16 * 1024 * 1024;
/** A repetition that has not finished after this long means a lost message: fail, don't hang. */
const STALL_MS = 120_000;

/**
 * Starts `producers` + `consumers` workers of `kind` and returns a session whose repetitions
 * move n messages (unit msg/s) or n bytes in LARGE messages (unit MB/s).
 */
async function throughput(ctx, kind, { producers = 1, consumers = 1, unit = "msg/s", data = {}, cleanup = async () => {} } = {}) {
  const control = new SharedArrayBuffer(64);
  const ctl = new Int32Array(control);
  const sums = new SharedArrayBuffer(8 * consumers);
  const sum = new Float64Array(sums);
  const large = unit === "MB/s";
  const common = { kind, producers, consumers, control, sums, largeBytes: LARGE, ...data };
  const workers = [];
  let channel;
  const close = async () => {
    Atomics.store(ctl, GO, -1);
    Atomics.notify(ctl, GO);
    for (const w of workers) w.post("stop");
    await Promise.all(workers.map((w) => w.terminate()));
    channel?.port1.close();
    channel?.port2.close();
    await cleanup();
  };
  try {
    if (kind.startsWith("postmessage")) {
      if (producers !== 1 || consumers !== 1) throw new Error("postMessage figures are 1 → 1");
      channel = new MessageChannel();
      workers.push(startWorker("queue-throughput.mjs", { ...common, role: "producer", index: 0, port: channel.port1 }, { transferList: [channel.port1] }));
      workers.push(startWorker("queue-throughput.mjs", { ...common, role: "consumer", index: 0, port: channel.port2 }, { transferList: [channel.port2] }));
    } else {
      for (let p = 0; p < producers; p++) workers.push(startWorker("queue-throughput.mjs", { ...common, role: "producer", index: p }));
      for (let c = 0; c < consumers; c++) workers.push(startWorker("queue-throughput.mjs", { ...common, role: "consumer", index: c }));
    }
    for (const w of workers) {
      const message = await w.next();
      if (message !== "ready") throw new Error(`queue-throughput worker (${kind}): expected "ready", got ${JSON.stringify(message)}`);
    }
  } catch (error) {
    await close();
    throw error;
  }

  /** One round of n messages; returns elapsed ms. */
  const round = (n) => {
    Atomics.store(ctl, N, n);
    Atomics.store(ctl, DONE, 0);
    Atomics.store(ctl, PRODUCERS_DONE, 0);
    Atomics.store(ctl, BAD, 0);
    sum.fill(0);
    arm(workers, ctl, ARMED);
    const t0 = performance.now();
    Atomics.add(ctl, GO, 1);
    Atomics.notify(ctl, GO);
    for (let done; (done = Atomics.load(ctl, DONE)) < consumers; ) {
      if (Atomics.wait(ctl, DONE, done, STALL_MS) === "timed-out") {
        throw new Error(`${kind}: only ${done} of ${consumers} consumers finished ${n} messages within ${STALL_MS / 1000} s`);
      }
    }
    const ms = performance.now() - t0;
    const bad = Atomics.load(ctl, BAD);
    if (bad !== 0) throw new Error(`${kind}: ${bad} messages arrived wrong`);
    const total = sum.reduce((a, b) => a + b, 0);
    const expected = large ? n : (1.5 * n * (n - 1)) / 2;
    if (total !== expected) throw new Error(`${kind}: checksum ${total}, expected ${expected} (messages lost or duplicated)`);
    return ms;
  };
  if (large) {
    // n counts bytes; whole messages of LARGE bytes move.
    const run = (bytes) => {
      const messages = Math.max(1, Math.round(bytes / LARGE));
      return (round(messages) * bytes) / (messages * LARGE);
    };
    return loopSession(ctx, unit, run, { startN: LARGE, close });
  }
  return loopSession(ctx, unit, round, { startN: 10_000, close });
}

/** A forkless queue of `Kind` shared with the workers; closed with the session. */
async function forklessQueue(ctx, kind, options = {}) {
  const { Queue, SimpleQueue, runtime } = await import("../../dist/forkless.mjs");
  const q = kind === "simplequeue" ? new SimpleQueue() : new Queue();
  return throughput(ctx, kind, {
    ...options,
    data: { share: runtime().share(), queue: q.toHandle() },
    cleanup: async () => q.close(),
  });
}

export const baselines = [
  {
    id: "postmessage.throughput",
    unit: "msg/s",
    better: "higher",
    description: "worker_threads postMessage of a new {id, name, value} object per message, worker → worker over a MessageChannel, one-way; the consumer counts and checksums",
    start: (ctx) => throughput(ctx, "postmessage"),
  },
  {
    id: "ringbufjs.encoded",
    unit: "msg/s",
    better: "higher",
    description: "ringbuf.js (SPSC, wait-free, 64 KiB) moving the same objects encoded by hand into 64-byte records and decoded into new objects; both sides busy-poll",
    start: async (ctx) => {
      const { RingBuffer } = await import("ringbuf.js");
      return throughput(ctx, "ringbuf", { data: { ring: RingBuffer.getStorageForCapacity(64 * 1024, Uint8Array) } });
    },
  },
  pythonBaseline({
    id: "python.mp-queue",
    unit: "msg/s",
    better: "higher",
    description: "Python multiprocessing.Queue, 1 producer process → 1 consumer process, a dict {id, name, value} per message",
    script: "mp_queue.py",
  }),
  pythonBaseline({
    id: "python.mp-simplequeue",
    unit: "msg/s",
    better: "higher",
    description: "Python multiprocessing.SimpleQueue, 1 producer process → 1 consumer process, a dict {id, name, value} per message",
    script: "mp_simplequeue.py",
  }),
  {
    id: "postmessage.large",
    unit: "MB/s",
    better: "higher",
    description: "worker_threads postMessage of a 16 MiB ArrayBuffer (structured-clone copy, no transfer), worker → worker",
    start: (ctx) => throughput(ctx, "postmessage-large", { unit: "MB/s" }),
  },
  pythonBaseline({
    id: "python.mp-pipe",
    unit: "µs/round trip",
    better: "lower",
    description: "Python multiprocessing.Pipe ping-pong between 2 processes (send an int, the other side sends it back)",
    script: "mp_pipe.py",
  }),
  {
    id: "piscina.roundtrip",
    unit: "µs/round trip",
    better: "lower",
    description: "piscina pool (2 threads) running an identity task, one task at a time: await pool.run(i)",
    start: async (ctx) => {
      const { Piscina } = await import("piscina");
      const pool = new Piscina({ filename: new URL("../workers/identity.mjs", import.meta.url).href, minThreads: 2, maxThreads: 2 });
      const run = async function piscinaRoundTrips(n) {
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          if ((await pool.run(i)) !== i) throw new Error("piscina returned a wrong value");
        }
        return performance.now() - t0;
      };
      return loopSession(ctx, "µs/round trip", run, { startN: 100, close: () => pool.destroy() });
    },
  },
];

export const figures = [
  {
    id: "queue.throughput",
    unit: "msg/s",
    better: "higher",
    description: "forkless Queue (default 256 KiB ring), 1 producer thread → 1 consumer thread, a new {id, name, value} object (~64 encoded bytes) per message, checksum verified",
    against: ["postmessage.throughput", "ringbufjs.encoded", "python.mp-queue"],
    goals: { "postmessage.throughput": 5, "ringbufjs.encoded": 0.7, "python.mp-queue": 15 },
    start: (ctx) => forklessQueue(ctx, "queue"),
  },
  {
    id: "queue.throughput.4x4",
    unit: "msg/s",
    better: "higher",
    description: "forkless Queue, 4 producer threads → 4 consumer threads (messages in total), same objects and checksums",
    against: [],
    start: (ctx) => forklessQueue(ctx, "queue", { producers: 4, consumers: 4 }),
  },
  {
    id: "simplequeue.throughput",
    unit: "msg/s",
    better: "higher",
    description: "forkless SimpleQueue, 1 producer thread → 1 consumer thread, same objects and checksums",
    against: ["python.mp-simplequeue"],
    start: (ctx) => forklessQueue(ctx, "simplequeue"),
  },
  {
    id: "pipe.pingpong",
    unit: "µs/round trip",
    better: "lower",
    description: "forkless Pipe (duplex) between the main thread and one worker: send(i), the worker recv()s and sends it back",
    against: ["postmessage.pingpong", "python.mp-pipe", "piscina.roundtrip"],
    goals: { "postmessage.pingpong": 0.1 },
    start: async (ctx) => {
      const { Pipe, runtime } = await import("../../dist/forkless.mjs");
      const [here, there] = Pipe();
      const armed = new Int32Array(new SharedArrayBuffer(4));
      const w = startWorker("pipe-pingpong.mjs", { share: runtime().share(), conn: there.toHandle(), armed: armed.buffer });
      const close = async () => {
        w.post("stop");
        await w.terminate();
        here.close();
        there.close();
      };
      try {
        const message = await w.next();
        if (message !== "ready") throw new Error(`pipe-pingpong worker: expected "ready", got ${JSON.stringify(message)}`);
      } catch (error) {
        await close();
        throw error;
      }
      const run = function pipePing(n) {
        arm([w], armed, 0, { echo: n });
        const t0 = performance.now();
        for (let i = 0; i < n; i++) {
          here.send(i);
          if (here.recv() !== i) throw new Error("pipe ping-pong: reply out of order");
        }
        return performance.now() - t0;
      };
      return loopSession(ctx, "µs/round trip", run, { startN: 100, close });
    },
  },
  {
    id: "queue.large",
    unit: "MB/s",
    better: "higher",
    description: "forkless Queue (default 256 KiB ring), 16 MiB ArrayBuffer messages, 1 producer thread → 1 consumer thread",
    against: ["postmessage.large"],
    start: (ctx) => forklessQueue(ctx, "queue-large", { unit: "MB/s" }),
  },
];
