// npm start (until the playbook runner lands): 4 worker threads count to 1,000,000 under one
// forkless Lock in shared Wasm memory, and the total comes out exact.
import { Worker, isMainThread, workerData, parentPort } from "node:worker_threads";
import { Lock, attach, runtime } from "../dist/forkless.mjs";

const WORKERS = 4;
const PER_WORKER = 250_000;

if (isMainThread) {
  const lock = new Lock();
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const started = performance.now();
  await Promise.all(
    Array.from({ length: WORKERS }, () => {
      const worker = new Worker(new URL(import.meta.url), {
        workerData: { share: runtime().share(), lock: lock.toHandle(), counter },
      });
      return new Promise((resolve, reject) => {
        worker.once("message", resolve);
        worker.once("error", reject);
      });
    }),
  );
  const ms = performance.now() - started;
  const expected = WORKERS * PER_WORKER;
  console.log(`forkless: ${WORKERS} workers × ${PER_WORKER.toLocaleString("en")} increments under one Lock`);
  console.log(`counter = ${counter[0].toLocaleString("en")} (expected ${expected.toLocaleString("en")}) in ${ms.toFixed(0)} ms`);
  console.log(`${((expected / ms) * 1000 / 1e6).toFixed(2)} M lock-protected increments/s, node ${process.version}`);
  process.exitCode = counter[0] === expected ? 0 : 1;
} else {
  attach(workerData.share);
  const lock = Lock.fromHandle(workerData.lock);
  const counter = workerData.counter;
  for (let i = 0; i < PER_WORKER; i++) {
    lock.acquire();
    counter[0] = counter[0] + 1; // plain, non-atomic: only the lock makes this exact
    lock.release();
  }
  parentPort.postMessage("done");
}
