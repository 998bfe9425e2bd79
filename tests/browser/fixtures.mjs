// What the browser scenarios run in child processes. Each child (a module Web Worker)
// imports this module and finds its target or Process subclass by exported name, so:
// everything a child runs is exported, and nothing happens at the top level.
import { Process, currentProcess, parentProcess, exit } from "../../dist/forkless.mjs";

export const here = import.meta.url;

/** Blocks this worker for ms (workers may block; the page may not). */
export function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

// ---------------------------------------------------------------- Lock

/** Plain (non-atomic) read-modify-write increments: only the lock makes the total exact. */
export function countUnderLock(lock, counter, n) {
  for (let i = 0; i < n; i++) {
    lock.acquire();
    try {
      const value = counter[0];
      counter[0] = value + 1;
    } finally {
      lock.release();
    }
  }
}

/** Holds lock until `release` is set; flags[0] = 1 while holding. */
export function holdLock(lock, release, flags) {
  lock.acquire();
  Atomics.store(flags, 0, 1);
  release.wait(20_000);
  lock.release();
  Atomics.store(flags, 0, 2);
}

// ---------------------------------------------------------------- Event

/** Registers (flags[0] += 1), blocks on `go`, then sets its own `done` event. */
export function eventWaiter(go, done, flags, i) {
  Atomics.add(flags, 0, 1);
  const fired = go.wait(20_000);
  Atomics.store(flags, 1 + i, fired ? 1 : 2);
  done.set();
}

/** wait(timeout) on an event nobody sets: must return false. */
export function eventTimesOut(event, flags) {
  const started = performance.now();
  const fired = event.wait(60);
  Atomics.store(flags, 0, fired ? 2 : 1);
  Atomics.store(flags, 1, Math.round(performance.now() - started));
}

export function setAfter(event, ms) {
  sleepMs(ms);
  event.set();
}

// ---------------------------------------------------------------- Barrier

/** rounds × barrier.wait(); seen[round * parties + index] += 1. */
export function barrierRounds(barrier, rounds, seen) {
  const parties = barrier.parties;
  for (let round = 0; round < rounds; round++) {
    const index = barrier.wait(20_000);
    Atomics.add(seen, round * parties + index, 1);
  }
}

// ---------------------------------------------------------------- Condition

/** state: [0] items available, [1] producer done, [2] consumed total, [3] child→main signal. */
export function conditionConsumer(cond, state, mine, i) {
  for (;;) {
    cond.acquire();
    try {
      cond.waitFor(() => state[0] > 0 || state[1] === 1, 20_000);
      if (state[0] > 0) {
        state[0] -= 1;
        state[2] += 1;
        mine[i] += 1;
      } else if (state[1] === 1) {
        return;
      }
    } finally {
      cond.release();
    }
  }
}

/** The other direction: a child notifies the page, which waits with waitForAsync. */
export function conditionSignaller(cond, state) {
  sleepMs(30);
  cond.acquire();
  state[3] = 1;
  cond.notifyAll();
  cond.release();
}

// ---------------------------------------------------------------- Queue

export function payloadFor(producer, i) {
  return String.fromCharCode(97 + ((producer + i) % 26)).repeat(i % 97);
}

/** Puts n items { p, i, value, payload }; value = p * 100_000 + i. */
export function queueProducer(queue, p, n) {
  for (let i = 0; i < n; i++) queue.put({ p, i, value: p * 100_000 + i, payload: payloadFor(p, i), tags: [p, i] });
}

/** Gets until null; sums[0] += values, sums[1] += count, sums[2] += malformed items. */
export function queueConsumer(queue, sums) {
  for (;;) {
    const item = queue.get({ timeout: 20_000 });
    if (item === null) return;
    Atomics.add(sums, 0, item.value);
    Atomics.add(sums, 1, 1);
    const ok =
      item.value === item.p * 100_000 + item.i &&
      item.payload === payloadFor(item.p, item.i) &&
      Array.isArray(item.tags) &&
      item.tags[0] === item.p &&
      item.tags[1] === item.i;
    if (!ok) Atomics.add(sums, 2, 1);
  }
}

// ---------------------------------------------------------------- Pipe

/** Echoes { n } as { n: 2n, from }; { bytes } come back reversed with sendBytes; "bye" ends it. */
export function pipeEcho(conn) {
  for (;;) {
    const message = conn.recv();
    if (message === "bye") break;
    if (message.bytes) {
      conn.sendBytes(message.bytes.slice().reverse());
      continue;
    }
    conn.send({ n: message.n * 2, from: currentProcess().name });
  }
  conn.close();
}

// ---------------------------------------------------------------- the Ansible WorkerProcess pattern

/** stats slots */
export const RUNNING = 0;
export const MAX_RUNNING = 1;
export const STARTS = 2;

export function expectedResult(task, host) {
  return task.n * 3 + host.length + task.vars.list.reduce((a, b) => a + b, 0);
}

/** Like Ansible's WorkerProcess: no target, fields set in the constructor, start() and run() overridden. */
export class WorkerProcess extends Process {
  static module = import.meta.url;

  constructor(finalQueue, lock, stats, taskVars, host, task, workerId) {
    super({ name: `worker-${workerId}` });
    this.finalQueue = finalQueue;
    this.lock = lock;
    this.stats = stats;
    this.taskVars = taskVars;
    this.host = host;
    this.task = task;
    this.workerId = workerId;
  }

  start() {
    this.startedBy = currentProcess().name;
    return super.start();
  }

  run() {
    const { lock, stats, task, host } = this;
    lock.acquire();
    try {
      stats[STARTS] += 1;
      stats[RUNNING] += 1;
      if (stats[RUNNING] > stats[MAX_RUNNING]) stats[MAX_RUNNING] = stats[RUNNING];
    } finally {
      lock.release();
    }
    sleepMs(task.ms);
    const ok =
      this.startedBy === "MainProcess" &&
      currentProcess() === this &&
      this.name === `worker-${this.workerId}` &&
      parentProcess()?.name === "MainProcess" &&
      this.taskVars.inventory_hostname === host;
    lock.acquire();
    try {
      stats[RUNNING] -= 1;
    } finally {
      lock.release();
    }
    this.finalQueue.put({ host, taskId: task.id, result: ok ? expectedResult(task, host) : -1 });
  }
}

// ---------------------------------------------------------------- exit codes

export function returnsNothing() {}

export function throwsError(message) {
  throw new RangeError(message);
}

export async function rejectsLater(message) {
  await new Promise((resolve) => setTimeout(resolve, 5));
  throw new TypeError(message);
}

/** A rejection nobody awaits: the process still ends with 1. */
export function strayRejection() {
  Promise.reject(new Error("stray"));
  return new Promise((resolve) => setTimeout(resolve, 2000));
}

export function exitsWith(code) {
  exit(code);
}

/** exit() is a hard exit: neither catch nor finally may run. */
export function exitsInsideTry(code, flags) {
  try {
    exit(code);
  } catch {
    Atomics.store(flags, 0, 1);
  } finally {
    Atomics.store(flags, 1, 1);
  }
  Atomics.store(flags, 2, 1);
}

/** Blocks until terminated. */
export function blocksForever(flags) {
  Atomics.store(flags, 0, 1);
  const word = new Int32Array(new SharedArrayBuffer(4));
  for (;;) Atomics.wait(word, 0, 0);
}

/** A busy loop that never yields: only terminate()/kill() can end it. */
export function spinsForever(flags) {
  Atomics.store(flags, 0, 1);
  let x = 0;
  for (;;) x = (x + 1) | 0;
}

export async function awaitsForever(flags) {
  Atomics.store(flags, 0, 1);
  await new Promise(() => {});
}

// ---------------------------------------------------------------- nested processes

export function nestedChild(flags) {
  Atomics.store(flags, 0, 42);
  Atomics.store(flags, 2, parentProcess()?.name === "Process-1" ? 1 : 2);
  exit(5);
}

/**
 * A process that starts a process (a worker that starts a worker). In browsers a worker's
 * new worker starts, and receives its first message, only once the parent returns to its
 * event loop — so the parent awaits joinAsync() instead of blocking in join() at once.
 */
export async function nestedParent(flags) {
  const child = new Process({ target: nestedChild, args: [flags], module: here });
  child.start();
  await child.joinAsync();
  Atomics.store(flags, 1, 100 + child.exitCode);
}

/** After the child has started (its first message arrived), blocking calls on it are fine. */
export async function nestedParentBlocking(flags, started) {
  const child = new Process({ target: nestedChildWaits, args: [flags, started], module: here });
  child.start();
  await started.waitAsync(10_000); // yields: the browser starts the child meanwhile
  child.join();
  Atomics.store(flags, 1, 100 + child.exitCode);
}

export function nestedChildWaits(flags, started) {
  started.set();
  sleepMs(20);
  nestedChild(flags);
}

// ---------------------------------------------------------------- Value / Array

/** n increments of a Value under its own lock, and progress[i] = steps done. */
export function incrementValue(total, progress, i, n) {
  for (let k = 0; k < n; k++) {
    total.withLock(() => total.value++);
    progress.set(i, k + 1);
  }
}
