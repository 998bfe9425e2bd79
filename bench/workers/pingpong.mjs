// The worker side of the ping-pong figures: wait for PING, clear it, set PONG; until the
// main thread raises STOP (then sets PING once more so this side wakes up and leaves).
import { parentPort, workerData } from "node:worker_threads";

// Slots of the flags Int32Array (bench/figures/event.mjs uses the same numbers).
const PING = 0;
const PONG = 1;
const STOP = 2;
const SPIN = 1000;

const { kind } = workerData;

const echoes = {
  async forkless() {
    const { attach, Event } = await import("../../dist/forkless.mjs");
    attach(workerData.share);
    const ping = Event.fromHandle(workerData.ping);
    const pong = Event.fromHandle(workerData.pong);
    const flags = new Int32Array(workerData.flags);
    return function forklessEcho() {
      while (true) {
        ping.wait();
        ping.clear();
        if (Atomics.load(flags, STOP) !== 0) return;
        pong.set();
      }
    };
  },

  // Threads asleep between hops: Atomics.wait / Atomics.notify only.
  async "atomics-wait"() {
    const f = new Int32Array(workerData.flags);
    return function atomicsWaitEcho() {
      while (true) {
        while (Atomics.load(f, PING) === 0) Atomics.wait(f, PING, 0);
        Atomics.store(f, PING, 0);
        if (Atomics.load(f, STOP) !== 0) return;
        Atomics.store(f, PONG, 1);
        Atomics.notify(f, PONG, 1);
      }
    };
  },

  // Bounded spin (≤ SPIN polls), then Atomics.wait.
  async spin() {
    const f = new Int32Array(workerData.flags);
    return function spinEcho() {
      while (true) {
        for (let i = 0; i < SPIN && Atomics.load(f, PING) === 0; i++);
        while (Atomics.load(f, PING) === 0) Atomics.wait(f, PING, 0);
        Atomics.store(f, PING, 0);
        if (Atomics.load(f, STOP) !== 0) return;
        Atomics.store(f, PONG, 1);
        Atomics.notify(f, PONG, 1);
      }
    };
  },

  // worker_threads messages: echo every message back; "stop" ends it.
  async postmessage() {
    return function postMessageEcho() {
      parentPort.on("message", (message) => {
        if (message === "stop") parentPort.close();
        else parentPort.postMessage(message);
      });
    };
  },
};

const echo = await echoes[kind]();
parentPort.postMessage("ready");
echo();
