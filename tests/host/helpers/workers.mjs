// Main-thread side of the worker harness: start real worker_threads that run one exported
// task of a module in tests/host/workers/, talk to them, and always terminate them.
// A task's failure (thrown error, 'error' event, non-zero exit, exit without a result)
// rejects its `result` promise with the worker's own error name, message and stack.
import { Worker } from "node:worker_threads";
import { setTimeout as delay } from "node:timers/promises";
import { runtime } from "../../../dist/forkless.mjs";

const RUNNER = new URL("../workers/run-task.mjs", import.meta.url);

/** Default limit for one message or result, so a deadlock fails the test instead of hanging it. */
export const WORKER_TIMEOUT_MS = 20_000;

function workerFailure(label, info) {
  const error = new Error(`${label} failed: ${info.name}: ${info.message}`);
  error.workerError = info;
  if (info.stack) error.stack = `${error.message}\n--- stack in the worker ---\n${info.stack}`;
  return error;
}

export class TestWorker {
  #inbox = [];
  #readers = [];
  #failure = undefined;
  #terminated = false;

  /**
   * @param {string} module file name under tests/host/workers/ ("locks.mjs")
   * @param {string} task exported function: (data, ctx) => result
   * @param {unknown} data structured-cloneable input (handles, SABs, numbers …)
   * @param {{ attach?: boolean, index?: number }} options attach: false leaves the worker unattached
   */
  constructor(module, task, data, { attach = true, index = 0 } = {}) {
    this.label = `worker ${index} (${module} ${task})`;
    this.worker = new Worker(RUNNER, {
      workerData: { module, task, data, index, share: attach ? runtime().share() : undefined },
    });
    let settle;
    this.result = new Promise((resolve, reject) => (settle = { resolve, reject }));
    // Failures are also reported through message() and the test's await of result; never unhandled.
    this.result.catch(() => {});
    const fail = (error) => {
      if (this.#failure) return;
      this.#failure = error;
      settle.reject(error);
      for (const reader of this.#readers.splice(0)) reader.reject(error);
    };
    this.worker.on("message", (m) => {
      if (m.type === "post") {
        const reader = this.#readers.shift();
        if (reader) reader.resolve(m.value);
        else this.#inbox.push(m.value);
      } else if (m.type === "done") {
        settle.resolve(m.value);
      } else if (m.type === "fail") {
        fail(workerFailure(this.label, m.error));
      }
    });
    this.worker.on("error", (error) => fail(workerFailure(this.label, { name: error?.name, message: error?.message, stack: error?.stack })));
    this.worker.on("exit", (code) => {
      if (this.#terminated) return fail(new Error(`${this.label} was terminated`));
      // 'done' is posted before the task returns, so it arrives before 'exit'.
      setImmediate(() => fail(new Error(`${this.label} exited with code ${code} before reporting a result`)));
    });
  }

  /** The next value the worker sent with ctx.post(), within timeoutMs. */
  message(timeoutMs = WORKER_TIMEOUT_MS) {
    if (this.#inbox.length) return Promise.resolve(this.#inbox.shift());
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const reader = { resolve, reject };
      this.#readers.push(reader);
      const timer = setTimeout(() => {
        const i = this.#readers.indexOf(reader);
        if (i >= 0) this.#readers.splice(i, 1);
        reject(new Error(`${this.label}: no message within ${timeoutMs} ms`));
      }, timeoutMs);
      const clear = () => clearTimeout(timer);
      reader.resolve = (v) => (clear(), resolve(v));
      reader.reject = (e) => (clear(), reject(e));
    });
  }

  /** Sends a value the worker reads with `await ctx.message()`. */
  send(value) {
    this.worker.postMessage({ type: "main", value });
  }

  /** The task's return value within timeoutMs. */
  done(timeoutMs = WORKER_TIMEOUT_MS) {
    return withTimeout(this.result, timeoutMs, `${this.label}: no result within ${timeoutMs} ms`);
  }

  async terminate() {
    if (this.#terminated) return;
    this.#terminated = true;
    await this.worker.terminate();
  }
}

export async function withTimeout(promise, ms, message) {
  const controller = new AbortController();
  try {
    return await Promise.race([
      promise,
      delay(ms, undefined, { signal: controller.signal }).then(() => {
        throw new Error(message);
      }),
    ]);
  } finally {
    controller.abort();
  }
}

/**
 * Runs fn(spawn) where spawn(module, task, data, options) starts a TestWorker; every worker
 * started is terminated afterwards, whatever happened. Fails after timeoutMs, and as soon as
 * any worker fails (with that worker's error, not a later timeout in main that it caused).
 */
export async function withWorkers(fn, { timeoutMs = 30_000 } = {}) {
  timeoutMs ??= 30_000;
  const started = [];
  let failFast;
  const firstFailure = new Promise((_, reject) => (failFast = reject));
  firstFailure.catch(() => {});
  const spawn = (module, task, data, options = {}) => {
    const worker = new TestWorker(module, task, data, { index: started.length, ...options });
    started.push(worker);
    worker.result.catch((error) => failFast(error));
    return worker;
  };
  try {
    return await withTimeout(Promise.race([fn(spawn), firstFailure]), timeoutMs, `workers did not finish within ${timeoutMs} ms`);
  } finally {
    await Promise.all(started.map((w) => w.terminate()));
  }
}

/**
 * Starts one worker per entry of datas running the same task; resolves to their results in order.
 * options: timeoutMs for withWorkers, attach for each worker.
 */
export function runWorkers(module, task, datas, { timeoutMs, ...spawnOptions } = {}) {
  return withWorkers(
    (spawn) => Promise.all(datas.map((data) => spawn(module, task, data, spawnOptions).done())),
    { timeoutMs },
  );
}

/** Resolves after ms, without blocking the event loop. */
export const sleep = (ms) => delay(ms);

/** Polls cond() every few ms until it is truthy; throws after timeoutMs. */
export async function until(cond, what, timeoutMs = 10_000) {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(2);
  }
}

/** A promise's state without waiting for it: "pending", "fulfilled" or "rejected". */
export async function stateOf(promise) {
  const pending = {};
  try {
    const value = await Promise.race([promise, Promise.resolve(pending)]);
    return value === pending ? "pending" : "fulfilled";
  } catch {
    return "rejected";
  }
}

/** An Int32Array over a fresh SharedArrayBuffer, to pass to workers. */
export function sharedInts(length) {
  return new Int32Array(new SharedArrayBuffer(length * 4));
}
