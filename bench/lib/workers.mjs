// Worker helpers for measurements. Sessions (./session.mjs, bench/figures/*) terminate every
// worker they start in close(), which bench/run.mjs always calls, even after an error.
import { Worker } from "node:worker_threads";

const workersDir = new URL("../workers/", import.meta.url);

export function workerUrl(name) {
  return new URL(name, workersDir);
}

/**
 * Starts bench/workers/<name> and gives a queue over its messages. An error or an early exit
 * of the worker rejects the pending (and every later) next().
 */
export function startWorker(name, workerData, options = {}) {
  const worker = new Worker(workerUrl(name), { workerData, ...options });
  const queue = [];
  const waiting = [];
  let failure;
  const fail = (error) => {
    failure ??= error;
    while (waiting.length) waiting.shift().reject(failure);
  };
  worker.on("message", (message) => {
    if (waiting.length) waiting.shift().resolve(message);
    else queue.push(message);
  });
  worker.on("error", (error) => fail(new Error(`bench worker ${name} failed: ${error?.stack ?? error}`)));
  worker.on("exit", (code) => fail(new Error(`bench worker ${name} exited (code ${code}) while a message was awaited`)));
  return {
    worker,
    /** The next message from the worker. */
    next() {
      if (queue.length) return Promise.resolve(queue.shift());
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
    post(message) {
      worker.postMessage(message);
    },
    async terminate() {
      worker.removeAllListeners("exit");
      worker.on("error", () => {});
      await worker.terminate();
    },
  };
}
