// Run as a child process with kinds as arguments: for each kind in turn, awaits one *Async call
// whose only wake-up comes from an unref()'d worker ~150 ms later, with nothing else to keep
// the event loop alive, and prints a JSON line with the outcome. If a pending wait did not keep
// Node alive, the process would end there (exit code 13, "unsettled top-level await").
import { Lock, Semaphore, Event, Condition, Barrier } from "../../../dist/forkless.mjs";
import { TestWorker } from "./workers.mjs";

const MS = 150;

function later(kind, handle) {
  const w = new TestWorker("misc.mjs", "actLater", { kind, handle, ms: MS });
  w.worker.unref();
  return w;
}

async function pendingWait(kind) {
  switch (kind) {
    case "Lock": {
      const lock = new Lock();
      lock.acquire(); // the worker releases it (any thread may release a Lock)
      later(kind, lock.toHandle());
      return lock.acquireAsync();
    }
    case "Semaphore": {
      const sem = new Semaphore(0);
      later(kind, sem.toHandle());
      return sem.acquireAsync();
    }
    case "Event": {
      const event = new Event();
      later(kind, event.toHandle());
      return event.waitAsync();
    }
    case "Condition": {
      const cond = new Condition();
      cond.acquire();
      const pending = cond.waitAsync(); // registered, lock released, before the worker starts
      later(kind, cond.toHandle());
      return pending;
    }
    case "Barrier": {
      const barrier = new Barrier(2);
      later(kind, barrier.toHandle());
      return barrier.waitAsync();
    }
    case "control":
      // Nothing keeps the loop alive: this must NOT print (shows that the check can fail).
      later("Event", new Event().toHandle());
      return new Promise(() => {});
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

for (const kind of process.argv.slice(2)) {
  const t0 = performance.now();
  const outcome = await pendingWait(kind);
  console.log(JSON.stringify({ kind, outcome, elapsed: performance.now() - t0 }));
}
