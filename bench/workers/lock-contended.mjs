// One of the threads contending for a lock: for every repetition the main thread arms the
// workers (between repetitions they idle in their event loop: bench/lib/arm.mjs) and bumps
// GO; each worker does `iterations` × (acquire; plain non-atomic increment; release), then
// adds itself to DONE. Only mutual exclusion makes the final count exact.
import { parentPort, workerData } from "node:worker_threads";
import { armedMessages } from "../lib/arm.mjs";

// Slots of the control Int32Array (bench/figures/lock.mjs uses the same numbers).
const GO = 0; // repetition generation; -1 = stop
const ITERATIONS = 1; // per worker, for this repetition
const DONE = 2; // workers finished with this repetition
const ARMED = 3; // workers armed for this repetition

const { kind, control, counter, lockWord, spin } = workerData;
const ctl = new Int32Array(control);
const count = new Int32Array(counter);

const loops = {
  async forkless() {
    const { attach, Lock } = await import("../../dist/forkless.mjs");
    attach(workerData.share);
    const lock = Lock.fromHandle(workerData.lock);
    return function forklessContended(n) {
      for (let i = 0; i < n; i++) {
        lock.acquire();
        count[0] = count[0] + 1;
        lock.release();
      }
    };
  },

  // Drepper's "mutex2" ("Futexes Are Tricky", 2011): 0 free, 1 locked, 2 locked with
  // possible waiters; plus a bounded spin before sleeping, as a good hand-written mutex has.
  async futex() {
    const w = new Int32Array(lockWord);
    const SPIN = spin;
    function lock() {
      let c = Atomics.compareExchange(w, 0, 0, 1);
      if (c === 0) return;
      for (let i = 0; i < SPIN; i++) {
        if (Atomics.load(w, 0) === 0) {
          c = Atomics.compareExchange(w, 0, 0, 1);
          if (c === 0) return;
        }
      }
      if (c !== 2) c = Atomics.exchange(w, 0, 2);
      while (c !== 0) {
        Atomics.wait(w, 0, 2);
        c = Atomics.exchange(w, 0, 2);
      }
    }
    function unlock() {
      if (Atomics.sub(w, 0, 1) !== 1) {
        Atomics.store(w, 0, 0);
        Atomics.notify(w, 0, 1);
      }
    }
    return function futexContended(n) {
      for (let i = 0; i < n; i++) {
        lock();
        count[0] = count[0] + 1;
        unlock();
      }
    };
  },
};

const loop = await loops[kind]();
const nextArm = armedMessages(ctl, ARMED);
parentPort.postMessage("ready");
let seen = 0;
while ((await nextArm()) !== null) {
  while (Atomics.load(ctl, GO) === seen) Atomics.wait(ctl, GO, seen);
  seen = Atomics.load(ctl, GO);
  loop(Atomics.load(ctl, ITERATIONS));
  Atomics.add(ctl, DONE, 1);
  Atomics.notify(ctl, DONE);
}
parentPort.close();
