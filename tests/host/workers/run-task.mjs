// Worker entry: attaches to the main thread's shared memory (unless told not to), imports
// the task module and runs the named task as task(data, ctx), then reports its result or
// its error to tests/host/helpers/workers.mjs.
import { parentPort, workerData } from "node:worker_threads";
import { attach } from "../../../dist/forkless.mjs";

const { module, task, data, index, share } = workerData;

const inbox = [];
const readers = [];
parentPort.on("message", (m) => {
  if (m?.type !== "main") return;
  const reader = readers.shift();
  if (reader) reader(m.value);
  else inbox.push(m.value);
});

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

const ctx = {
  index,
  /** Sends a value to the main thread (TestWorker.message()). */
  post(value) {
    parentPort.postMessage({ type: "post", value });
  },
  /** The next value main sent with TestWorker.send(). */
  message() {
    if (inbox.length) return Promise.resolve(inbox.shift());
    return new Promise((resolve) => readers.push(resolve));
  },
  /**
   * Blocks until `parties` workers called startTogether on the same Int32Array (a start gate on
   * its own SAB, not a forkless object), so that work meant to contend really overlaps even
   * though workers start hundreds of milliseconds apart on a loaded machine.
   */
  startTogether(gate, parties) {
    Atomics.add(gate, 0, 1);
    Atomics.notify(gate, 0);
    while (true) {
      const arrived = Atomics.load(gate, 0);
      if (arrived >= parties) return;
      Atomics.wait(gate, 0, arrived, 10_000);
    }
  },
  /** Blocks this thread for ms. */
  sleep(ms) {
    Atomics.wait(sleepCell, 0, 0, ms);
  },
};

try {
  if (share) attach(share);
  const mod = await import(new URL(module, import.meta.url));
  if (typeof mod[task] !== "function") throw new Error(`${module} has no exported task ${task}`);
  const value = await mod[task](data, ctx);
  parentPort.postMessage({ type: "done", value });
  // Messages from main must not keep a finished worker alive.
  parentPort.unref();
} catch (error) {
  parentPort.postMessage({
    type: "fail",
    error: { name: error?.name ?? typeof error, message: error?.message ?? String(error), stack: error?.stack },
  });
  process.exitCode = 1;
  parentPort.unref();
}
