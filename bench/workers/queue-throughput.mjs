// Producer and consumer threads of the queue figures (bench/figures/queue.mjs): one message
// kind per worker pair, driven through the control Int32Array shared with the main thread.
//
// Each repetition: main arms the workers (bench/lib/arm.mjs: between repetitions they idle in
// their event loop), stores N (messages) and bumps GO; producers send N messages between
// them (a NEW object { id, name, value } each, or a large ArrayBuffer); consumers take them,
// add id + value into their checksum slot, count names that do not match, and bump DONE.
// "stop" tells every worker to leave.
import { parentPort, workerData } from "node:worker_threads";
import { armedMessages } from "../lib/arm.mjs";

// Slots of the control Int32Array (bench/figures/queue.mjs uses the same numbers).
const GO = 0;
const N = 1;
const DONE = 2;
const PRODUCERS_DONE = 3;
const BAD = 4;
const ARMED = 5;

/** 32 ASCII characters: the object encodes to about 64 bytes with forkless's codec. */
export const NAME = "forkless-benchmark-item-32-chars";

const { kind, role, index, producers, consumers, control, sums, port, largeBytes } = workerData;
const ctl = new Int32Array(control);
const sum = new Float64Array(sums);

const nextArm = armedMessages(ctl, ARMED);

/** Idles until armed, then waits until GO moves past `seen`; returns the new value (-1: leave). */
async function nextRound(seen) {
  if ((await nextArm()) === null) return -1;
  for (;;) {
    const go = Atomics.load(ctl, GO);
    if (go !== seen) return go;
    Atomics.wait(ctl, GO, seen);
  }
}

/** This producer's share of n messages: [first id, count]. */
function share(n) {
  const base = Math.floor(n / producers);
  const extra = n % producers;
  const count = base + (index < extra ? 1 : 0);
  const first = index * base + Math.min(index, extra);
  return [first, count];
}

function done() {
  Atomics.add(ctl, DONE, 1);
  Atomics.notify(ctl, DONE);
}

// ---------------------------------------------------------------- forkless Queue / SimpleQueue

async function forkless() {
  const { attach, Queue, SimpleQueue } = await import("../../dist/forkless.mjs");
  attach(workerData.share);
  const q = (kind === "simplequeue" ? SimpleQueue : Queue).fromHandle(workerData.queue);
  const large = kind === "queue-large";
  const payload = large ? new ArrayBuffer(largeBytes) : null;
  if (payload) new Uint8Array(payload).fill(7);
  parentPort.postMessage("ready");
  let seen = 0;
  if (role === "producer") {
    for (;;) {
      seen = await nextRound(seen);
      if (seen < 0) return;
      const [first, count] = share(Atomics.load(ctl, N));
      if (large) {
        for (let i = 0; i < count; i++) q.put(payload);
      } else {
        for (let i = first; i < first + count; i++) q.put({ id: i, name: NAME, value: i * 0.5 });
      }
      // With several consumers, the last producer to finish tells each of them to stop.
      if (Atomics.add(ctl, PRODUCERS_DONE, 1) === producers - 1 && consumers > 1) {
        for (let c = 0; c < consumers; c++) q.put(null);
      }
    }
  }
  for (;;) {
    seen = await nextRound(seen);
    if (seen < 0) return;
    const n = Atomics.load(ctl, N);
    let total = 0;
    let bad = 0;
    if (large) {
      for (let i = 0; i < n; i++) {
        const buffer = q.get();
        if (!(buffer instanceof ArrayBuffer) || buffer.byteLength !== largeBytes || new Uint8Array(buffer)[largeBytes - 1] !== 7) bad++;
        total += 1;
      }
    } else if (consumers === 1) {
      for (let i = 0; i < n; i++) {
        const o = q.get();
        total += o.id + o.value;
        if (o.name !== NAME) bad++;
      }
    } else {
      for (;;) {
        const o = q.get();
        if (o === null) break;
        total += o.id + o.value;
        if (o.name !== NAME) bad++;
      }
    }
    sum[index] = total;
    if (bad) Atomics.add(ctl, BAD, bad);
    done();
  }
}

// ---------------------------------------------------------------- worker_threads postMessage

async function postMessageKind() {
  const large = kind === "postmessage-large";
  if (role === "producer") {
    const payload = large ? new ArrayBuffer(largeBytes) : null;
    if (payload) new Uint8Array(payload).fill(7);
    parentPort.postMessage("ready");
    let seen = 0;
    for (;;) {
      seen = await nextRound(seen);
      if (seen < 0) return;
      const n = Atomics.load(ctl, N);
      // Structured clone copies the buffer (no transfer list), like a queue copies it.
      if (large) for (let i = 0; i < n; i++) port.postMessage(payload);
      else for (let i = 0; i < n; i++) port.postMessage({ id: i, name: NAME, value: i * 0.5 });
    }
  }
  // The consumer counts in its message handler; its event loop must stay free.
  let n = -1;
  let got = 0;
  let total = 0;
  let bad = 0;
  const finish = () => {
    sum[index] = total;
    if (bad) Atomics.add(ctl, BAD, bad);
    got = 0;
    total = 0;
    bad = 0;
    n = -1;
    done();
  };
  port.on("message", (o) => {
    if (n < 0) n = Atomics.load(ctl, N);
    if (large) {
      if (!(o instanceof ArrayBuffer) || o.byteLength !== largeBytes || new Uint8Array(o)[largeBytes - 1] !== 7) bad++;
      total += 1;
    } else {
      total += o.id + o.value;
      if (o.name !== NAME) bad++;
    }
    if (++got === n) finish();
  });
  // Its event loop is where it waits anyway: it only needs to count itself armed.
  (async () => {
    while ((await nextArm()) !== null);
    port.close();
    parentPort.close();
  })();
  parentPort.postMessage("ready");
}

// ---------------------------------------------------------------- ringbuf.js, encoded by hand

const RECORD = 64;

async function ringbuf() {
  const { RingBuffer } = await import("ringbuf.js");
  const rb = new RingBuffer(workerData.ring, Uint8Array);
  const scratch = new Uint8Array(RECORD);
  const f64 = new Float64Array(scratch.buffer, 0, 2);
  parentPort.postMessage("ready");
  let seen = 0;
  if (role === "producer") {
    for (;;) {
      seen = await nextRound(seen);
      if (seen < 0) return;
      const n = Atomics.load(ctl, N);
      for (let i = 0; i < n; i++) {
        // The same object the other kinds send, encoded by hand: id, value, name length, name.
        const o = { id: i, name: NAME, value: i * 0.5 };
        f64[0] = o.id;
        f64[1] = o.value;
        const name = o.name;
        scratch[16] = name.length;
        for (let k = 0; k < name.length; k++) scratch[17 + k] = name.charCodeAt(k);
        while (rb.availableWrite() < RECORD); // busy-poll: SPSC, wait-free
        rb.push(scratch);
      }
    }
  }
  for (;;) {
    seen = await nextRound(seen);
    if (seen < 0) return;
    const n = Atomics.load(ctl, N);
    let total = 0;
    let bad = 0;
    for (let i = 0; i < n; i++) {
      while (rb.availableRead() < RECORD);
      rb.pop(scratch);
      const length = scratch[16];
      const o = { id: f64[0], name: String.fromCharCode.apply(null, scratch.subarray(17, 17 + length)), value: f64[1] };
      total += o.id + o.value;
      if (o.name !== NAME) bad++;
    }
    sum[index] = total;
    if (bad) Atomics.add(ctl, BAD, bad);
    done();
  }
}

const kinds = {
  queue: forkless,
  simplequeue: forkless,
  "queue-large": forkless,
  postmessage: postMessageKind,
  "postmessage-large": postMessageKind,
  ringbuf,
};

await kinds[kind]();
