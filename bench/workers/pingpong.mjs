// The worker side of the ping-pong figures: armed with { echo: n }, wait for PING, clear it,
// set PONG, n times; then idle in the event loop (bench/lib/arm.mjs says why) until the next
// repetition or "stop". The postMessage kind answers every message from its event loop.
import { parentPort, workerData } from "node:worker_threads";
import { armedMessages } from "../lib/arm.mjs";

// Slots of the flags Int32Array (bench/figures/event.mjs uses the same numbers).
const PING = 0;
const PONG = 1;
const ARMED = 3;
const SPIN = 1000;

const { kind } = workerData;
const flags = new Int32Array(workerData.flags);

const echoes = {
  async forkless() {
    const { attach, Event } = await import("../../dist/forkless.mjs");
    attach(workerData.share);
    const ping = Event.fromHandle(workerData.ping);
    const pong = Event.fromHandle(workerData.pong);
    return function forklessEcho(n) {
      for (let i = 0; i < n; i++) {
        ping.wait();
        ping.clear();
        pong.set();
      }
    };
  },

  // Threads asleep between hops: Atomics.wait / Atomics.notify only.
  async "atomics-wait"() {
    const f = flags;
    return function atomicsWaitEcho(n) {
      for (let i = 0; i < n; i++) {
        while (Atomics.load(f, PING) === 0) Atomics.wait(f, PING, 0);
        Atomics.store(f, PING, 0);
        Atomics.store(f, PONG, 1);
        Atomics.notify(f, PONG, 1);
      }
    };
  },

  // Bounded spin (≤ SPIN polls), then Atomics.wait.
  async spin() {
    const f = flags;
    return function spinEcho(n) {
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < SPIN && Atomics.load(f, PING) === 0; j++);
        while (Atomics.load(f, PING) === 0) Atomics.wait(f, PING, 0);
        Atomics.store(f, PING, 0);
        Atomics.store(f, PONG, 1);
        Atomics.notify(f, PONG, 1);
      }
    };
  },
};

if (kind === "postmessage") {
  // worker_threads messages: echo every message back; "stop" ends it.
  parentPort.on("message", (message) => {
    if (message === "stop") parentPort.close();
    else parentPort.postMessage(message);
  });
  parentPort.postMessage("ready");
} else {
  const echo = await echoes[kind]();
  const nextArm = armedMessages(flags, ARMED);
  parentPort.postMessage("ready");
  for (let message; (message = await nextArm()) !== null; ) echo(message.echo);
  parentPort.close();
}
