// One thread, no contention: acquire+release pairs in a tight loop. Each kind has its own
// loop function so V8 compiles one monomorphic loop per measurement, in a worker of its own.
import { workerData } from "node:worker_threads";
import { serveLoop } from "../lib/serve.mjs";

const { kind } = workerData;

const loops = {
  // The library as users call it.
  async forkless() {
    const { Lock } = await import("../../dist/forkless.mjs");
    const lock = new Lock();
    return function forklessLoop(n) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        lock.acquire();
        lock.release();
      }
      const ms = performance.now() - t0;
      if (lock.locked()) throw new Error("forkless lock left held");
      return ms;
    };
  },

  // Hand-written JS: CAS 0 -> 1, store 0, on an Int32Array over a SharedArrayBuffer.
  async "raw-js"() {
    const word = new Int32Array(new SharedArrayBuffer(64));
    return function rawJsLoop(n) {
      let failed = 0;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        if (Atomics.compareExchange(word, 0, 0, 1) === 0) Atomics.store(word, 0, 0);
        else failed++;
      }
      const ms = performance.now() - t0;
      if (failed !== 0) throw new Error(`raw JS lock: ${failed} acquisitions failed without contention`);
      return ms;
    };
  },

  // One JS -> Wasm call per iteration into bench/wasm/lock.wat (CAS + store).
  async "raw-wasm"() {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const { lock_unlock } = new WebAssembly.Instance(workerData.module, { env: { memory } }).exports;
    return function rawWasmLoop(n) {
      let failed = 0;
      const t0 = performance.now();
      for (let i = 0; i < n; i++) failed += lock_unlock(64);
      const ms = performance.now() - t0;
      if (failed !== 0) throw new Error(`raw Wasm lock: ${failed} acquisitions failed without contention`);
      return ms;
    };
  },
};

await serveLoop(await loops[kind]());
