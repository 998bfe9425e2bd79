// Worker tasks for handle, lifetime, memory, keep-alive and harness tests.
import {
  Lock,
  RLock,
  Semaphore,
  BoundedSemaphore,
  Event,
  Condition,
  Barrier,
  fromHandle,
  configure,
  memoryStats,
  ValueError,
  OutOfSharedMemoryError,
} from "../../../dist/forkless.mjs";

/**
 * Rebuilds every kind (workerData, plus an Event handle sent later by postMessage), changes
 * each one's shared state, lets main look, then undoes it and meets main at the barrier.
 */
export async function useEveryKind({ handles }, ctx) {
  const revived = {};
  for (const [name, handle] of Object.entries(handles)) {
    const generic = fromHandle(handle);
    if (generic.constructor.name !== name) throw new Error(`fromHandle(${name} handle) gave a ${generic.constructor.name}`);
    generic.close();
    revived[name] = { Lock, RLock, Semaphore, BoundedSemaphore, Condition, Barrier }[name].fromHandle(handle);
  }
  const { Lock: lock, RLock: rlock, Semaphore: sem, BoundedSemaphore: bsem, Condition: cond, Barrier: barrier } = revived;
  ctx.post("opened");
  const event = Event.fromHandle(await ctx.message());
  lock.acquire();
  rlock.acquire();
  rlock.acquire();
  sem.acquire();
  bsem.acquire();
  cond.acquire();
  event.set();
  ctx.post("changed");
  await ctx.message();
  lock.release();
  rlock.release();
  rlock.release();
  sem.release();
  bsem.release();
  let overRelease = "no error";
  try {
    bsem.release();
  } catch (error) {
    overRelease = error instanceof ValueError ? "ValueError" : error.name;
  }
  cond.release();
  event.clear();
  const index = barrier.wait(10_000);
  for (const o of [lock, rlock, sem, bsem, cond, barrier, event]) o.close();
  return { index, overRelease };
}

/** Opens a Lock from a handle sent later, holds it, and closes it when told. */
export async function shareThenClose(_, ctx) {
  ctx.post("ready");
  const lock = Lock.fromHandle(await ctx.message());
  lock.acquire();
  ctx.post("holding");
  await ctx.message(); // main closed its reference
  lock.release();
  const usable = lock.acquire({ timeout: 1000 });
  lock.release();
  ctx.post(usable);
  await ctx.message();
  lock.close();
  return "closed";
}

/** Makes its own 2 MiB runtime (never attached), fills it with Locks, frees some, allocates again. */
export function exhaust({ maxMemoryBytes }) {
  const out = {};
  try {
    configure({ maxMemoryBytes: 0 });
  } catch (error) {
    out.zeroMax = `${error.name}: ${error.message}`;
  }
  try {
    configure({ initialMemoryBytes: 4 << 20, maxMemoryBytes });
  } catch (error) {
    out.initialAboveMax = `${error.name}: ${error.message}`;
  }
  configure({ initialMemoryBytes: 64 * 1024, maxMemoryBytes });
  try {
    configure({ maxMemoryBytes });
  } catch (error) {
    out.again = error instanceof ValueError;
  }
  const start = memoryStats();
  const locks = [];
  let error;
  const t0 = performance.now();
  while (!error) {
    try {
      locks.push(new Lock());
    } catch (e) {
      error = e;
    }
    if (locks.length > 1_000_000) throw new Error("allocated a million Locks in 2 MiB: the limit is not enforced");
  }
  out.fillMs = performance.now() - t0;
  out.count = locks.length;
  out.isOutOfMemory = error instanceof OutOfSharedMemoryError;
  out.name = error.name;
  out.message = error.message;
  out.full = memoryStats();
  out.start = start;
  // Every kind fails the same way while the memory is full.
  out.others = [];
  for (const make of [() => new Event(), () => new Semaphore(1), () => new Barrier(2), () => new Condition(locks[0])]) {
    try {
      make().close();
      out.others.push("allocated");
    } catch (e) {
      out.others.push(e instanceof OutOfSharedMemoryError ? "OutOfSharedMemoryError" : e.name);
    }
  }
  // Closing some makes room again, for as many objects of the same size.
  for (const lock of locks.splice(-10)) lock.close();
  let again = 0;
  try {
    for (let i = 0; i < 10; i++) {
      locks.push(new Lock());
      again++;
    }
    new Lock();
    again++;
  } catch (e) {
    out.afterRefill = e.name;
  }
  out.again = again;
  for (const lock of locks) lock.close();
  out.end = memoryStats();
  // With everything closed, a bigger object fits again (Barrier needs a larger block than Lock).
  try {
    new Barrier(2).close();
    out.barrierAfterClose = "allocated";
  } catch (e) {
    out.barrierAfterClose = e.name;
  }
  return out;
}

/** Sleeps ms (blocking), then does one thing to the object main awaits asynchronously. */
export function actLater({ kind, handle, ms }, ctx) {
  ctx.sleep(ms);
  switch (kind) {
    case "Lock": Lock.fromHandle(handle).release(); break;
    case "Semaphore": Semaphore.fromHandle(handle).release(); break;
    case "Event": Event.fromHandle(handle).set(); break;
    case "Condition": {
      const cond = Condition.fromHandle(handle);
      cond.acquire();
      cond.notify();
      cond.release();
      break;
    }
    case "Barrier": Barrier.fromHandle(handle).wait(10_000); break;
    default: throw new Error(`unknown kind ${kind}`);
  }
  return kind;
}

// ---- harness self-checks

export function throwTyped() {
  throw new RangeError("the worker's own message");
}

export function exitWith({ code }) {
  process.exit(code);
}

export function throwLater() {
  setTimeout(() => {
    throw new TypeError("thrown from a timer in the worker");
  }, 10);
  return new Promise(() => {});
}

export function echo(data, ctx) {
  ctx.post({ got: data });
  return data;
}

export function never() {
  return new Promise(() => {});
}
