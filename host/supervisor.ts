// The supervisor: the one thread that owns every process's worker (see protocol.ts).
//
// Why a thread of its own: a worker's exit is an event on the thread that created the Worker
// object, and only that thread's event loop can see it. A parent blocked in join(), or in a
// Lock its terminated child held, has no event loop running — yet the child's thread must be
// seen stopped before anything it held is handed on (it may run until its next safe point).
// The supervisor never blocks and never runs user code, so it sees every exit at once, reaps
// the thread in shared memory (which wakes the blocked parent), and tells the parent.
// It also makes processes outlive their parent, as in CPython: a child's children belong to
// the supervisor, not to the child's worker, so terminating a process does not kill its
// non-daemonic children (daemonic ones are terminated with it).
//
// In Node, and wherever the root thread may block, the supervisor is a dedicated worker
// started by the root; on a browser page, whose main thread never blocks, the page itself is
// the supervisor.
import type { Runtime } from "./runtime";
import { isNode, now, startWorker, type ResourceLimits, type WorkerLike } from "./platform";
import type { StartMethod } from "./context";
import type { BootMessage, ProcessFailure } from "./process";
import { isRequest, type ParentNotice, type Request, type StartRequest } from "./protocol";

/** Idle workers the reuse method keeps (each costs a few MB); more are ended. */
const MAX_IDLE_REUSABLE = 16;
/**
 * Browsers report no exit for a terminated worker. Termination takes effect at the thread's
 * next safe point (microseconds), so after this long it counts as stopped and is reaped.
 */
const BROWSER_STOP_GRACE_MS = 100;

/** forkless's worker entry, next to this bundle (every bundler understands this pattern). */
export function workerUrl(): URL {
  return new URL("./worker.mjs", import.meta.url);
}

interface Child {
  id: number;
  parent: number;
  daemon: boolean;
  worker: WorkerLike;
  /** Where the supervisor's reference table holds its hold on the child's slot. */
  hold: number;
  stopAskedAt?: number;
  exited: boolean;
}

function describe(error: any): ProcessFailure {
  return {
    name: error?.code === "ERR_WORKER_OUT_OF_MEMORY" ? "OutOfMemoryError" : String(error?.name ?? "Error"),
    message: String(error?.message ?? error),
    stack: typeof error?.stack === "string" ? error.stack : undefined,
  };
}

export class Supervisor {
  private readonly children = new Map<number, Child>();
  private readonly pool: WorkerLike[] = [];
  private poolSize = 2;
  private refilling = false;
  private readonly idle: ReusableWorker[] = [];
  readonly busy = new Set<ReusableWorker>();

  /**
   * @param rt this thread's runtime (its id reaps and holds)
   * @param rootId the root thread the supervisor serves
   * @param toRoot delivers a notice to the root thread
   * @param inline the root's own thread (a page): a worker that cannot be started is the root's start() error
   */
  constructor(
    private readonly rt: Runtime,
    private readonly rootId: number,
    private readonly toRoot: (notice: ParentNotice) => void,
    private readonly inline = false,
  ) {}

  /** A request from thread `from` (the root, or a child acting as a parent). */
  request(from: number, message: Request): void {
    if (message.type === "start") {
      if (message.parent === from) this.start(message);
    } else if (message.type === "terminate") {
      const child = this.children.get(message.id);
      if (child && child.parent === from) this.stop(child);
    } else if (message.type === "pool") {
      if (message.size !== undefined) {
        this.poolSize = message.size;
        while (this.pool.length > this.poolSize) this.pool.pop()!.terminate();
      }
      if (message.drain) this.drain();
      if (message.prewarm) this.refill();
    }
  }

  private notify(parent: number, notice: ParentNotice): void {
    if (parent === this.rootId) this.toRoot(notice);
    else this.children.get(parent)?.worker.post(notice);
  }

  private start(message: StartRequest): void {
    const ex = this.rt.exports;
    // Our own hold on the child's slot: it stays the child's until we have reaped it.
    const hold = ex.thread_hold(message.id, this.rt.id);
    if (hold < 0) return; // its slot is gone already (the parent ended meanwhile)
    let worker: WorkerLike;
    try {
      worker = message.resourceLimits
        ? this.bootWorker(message.resourceLimits)
        : this.launch(message.method, message.boot);
      if (message.resourceLimits) worker.post(message.boot);
    } catch (error) {
      if (this.inline && message.parent === this.rootId) {
        ex.thread_release(message.id, this.rt.id, hold);
        throw error; // start() cleans up the child's thread and reports this itself
      }
      this.notify(message.parent, { type: "child-failure", id: message.id, failure: describe(error) });
      ex.thread_reap(message.id, 1, this.rt.id);
      ex.thread_release(message.id, this.rt.id, hold);
      this.notify(message.parent, { type: "child-exited", id: message.id, code: ex.thread_exit_code(message.id) });
      return;
    }
    const child: Child = { id: message.id, parent: message.parent, daemon: message.daemon, worker, hold, exited: false };
    this.children.set(child.id, child);
    worker.onMessage((m) => this.fromChild(child, m));
    worker.onExit((code) => this.exited(child, code));
  }

  private fromChild(child: Child, message: any): void {
    if (isRequest(message)) {
      this.request(child.id, message);
    } else if (message?.type === "started") {
      this.notify(child.parent, { type: "child-started", id: child.id });
    } else if (message?.type === "failure") {
      this.notify(child.parent, { type: "child-failure", id: child.id, failure: message.failure });
    }
  }

  private stop(child: Child): void {
    if (child.exited) return;
    child.stopAskedAt ??= now();
    child.worker.terminate();
  }

  /** The child's worker stopped (or, for reuse, handed itself back): reap, tell the parent, end daemonic children. */
  private exited(child: Child, workerCode: number): void {
    if (child.exited) return;
    child.exited = true;
    if (!isNode && child.stopAskedAt !== undefined) {
      const wait = child.stopAskedAt + BROWSER_STOP_GRACE_MS - now();
      if (wait > 0) {
        setTimeout(() => this.reap(child, workerCode), Math.ceil(wait));
        return;
      }
    }
    this.reap(child, workerCode);
  }

  private reap(child: Child, workerCode: number): void {
    const ex = this.rt.exports;
    // A worker that ended without publishing an exit (a crash, running out of memory) ends with its worker's code.
    ex.thread_reap(child.id, workerCode === 0 ? 1 : workerCode, this.rt.id);
    const code = ex.thread_exit_code(child.id);
    ex.thread_release(child.id, this.rt.id, child.hold);
    this.children.delete(child.id);
    this.notify(child.parent, { type: "child-exited", id: child.id, code });
    // Daemonic children end with their parent, however it ended.
    for (const other of this.children.values()) {
      if (other.parent === child.id && other.daemon) {
        ex.thread_terminate(other.id, -15);
        this.stop(other);
      }
    }
  }

  // ---------------------------------------------------------------- workers

  private bootWorker(resourceLimits?: ResourceLimits): WorkerLike {
    return startWorker(workerUrl(), { share: this.rt.share() }, resourceLimits);
  }

  private refill(): void {
    if (this.refilling) return;
    this.refilling = true;
    // Booting costs a worker start (tens of ms): off the path of the start() that asked.
    setTimeout(() => {
      this.refilling = false;
      while (this.pool.length < this.poolSize) {
        let worker: WorkerLike;
        try {
          worker = this.bootWorker();
        } catch {
          // This host cannot start workers: start() boots one itself and reports why.
          break;
        }
        worker.setKeepAlive(false);
        this.pool.push(worker);
      }
    }, 0);
  }

  private drain(): void {
    for (const worker of this.pool.splice(0)) worker.terminate();
    for (const worker of this.idle.splice(0)) worker.raw.terminate();
  }

  /** Starts a worker for the child described by boot. */
  private launch(method: StartMethod, boot: BootMessage): WorkerLike {
    if (method === "reuse" && isNode) {
      // Browsers cannot tell whether a process left timers running, so they never recycle: there
      // "reuse" behaves like "warm".
      let reusable = this.idle.pop();
      if (!reusable) {
        for (const busy of this.busy) {
          if (busy.takeRecycled()) {
            reusable = busy;
            break;
          }
        }
      }
      if (!reusable) {
        reusable = new ReusableWorker(this, this.pool.shift() ?? this.bootWorker());
        this.refill();
      }
      return reusable.lend(boot);
    }
    let worker: WorkerLike;
    if (method !== "spawn" && this.poolSize > 0) {
      worker = this.pool.shift() ?? this.bootWorker();
      this.refill();
    } else {
      worker = this.bootWorker();
    }
    worker.setKeepAlive(true);
    worker.post(boot);
    return worker;
  }

  park(worker: ReusableWorker): void {
    // An idle worker must not pile up past the cap.
    worker.raw.setKeepAlive(false);
    if (this.idle.length < MAX_IDLE_REUSABLE) this.idle.push(worker);
    else worker.raw.terminate();
  }

  forget(worker: ReusableWorker): void {
    this.busy.delete(worker);
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
  }
}

/**
 * A worker the reuse method lends to one process after another. Each process gets a lease (a
 * WorkerLike of its own), so messages and the exit reach only the current process. A child
 * that ended cleanly and left nothing running publishes its exit, then counts up `recycled`
 * (shared memory) and posts "recycled": a start() can take the worker at once, before that
 * message arrives. After counting up, the child never touches its old thread again.
 */
class ReusableWorker {
  private lease: Lease | undefined;
  private readonly recycled = new Int32Array(new SharedArrayBuffer(4));
  private consumed = 0;

  constructor(
    private readonly owner: Supervisor,
    readonly raw: WorkerLike,
  ) {
    raw.onMessage((message) => {
      const lease = this.lease;
      if (!lease) return;
      // A worker-level failure (no record) is the current process's; a message of a process
      // already ended here (seen in shared memory first) is stale.
      if (message?.record !== undefined && message.record !== lease.record) return;
      if (message?.type === "recycled") {
        if (this.takeRecycled()) owner.park(this);
      } else {
        lease.message(message);
      }
    });
    raw.onExit((code) => {
      const lease = this.lease;
      this.lease = undefined;
      owner.forget(this);
      lease?.ended(code);
    });
  }

  /** Ends the current lease if its process handed the worker back; true if it did. */
  takeRecycled(): boolean {
    if (Atomics.load(this.recycled, 0) === this.consumed) return false;
    this.consumed++;
    const lease = this.lease;
    this.lease = undefined;
    this.owner.busy.delete(this);
    if (lease) {
      // It ran, so it adopted what travelled to it, even if its "started" message is still on its way.
      if (!lease.started) lease.message({ type: "started", record: lease.record });
      lease.ended(0);
    }
    return true;
  }

  lend(boot: BootMessage): WorkerLike {
    const lease = new Lease(this.raw, boot.record.id, () => this.lease === lease);
    this.lease = lease;
    this.owner.busy.add(this);
    this.raw.setKeepAlive(true);
    this.raw.post({ ...boot, reuse: true, recycled: this.recycled });
    return lease;
  }
}

class Lease implements WorkerLike {
  private readonly messageListeners: ((message: any) => void)[] = [];
  private readonly exitListeners: ((code: number) => void)[] = [];
  private done = false;
  started = false;

  constructor(
    private readonly raw: WorkerLike,
    readonly record: number,
    private readonly current: () => boolean,
  ) {}

  message(message: any): void {
    if (message?.type === "started") this.started = true;
    for (const listener of this.messageListeners) listener(message);
  }

  ended(code: number): void {
    if (this.done) return;
    this.done = true;
    for (const listener of this.exitListeners) listener(code);
  }

  post(message: unknown): void {
    if (this.current()) this.raw.post(message);
  }

  onMessage(listener: (message: any) => void): void {
    this.messageListeners.push(listener);
  }

  onExit(listener: (code: number) => void): void {
    this.exitListeners.push(listener);
  }

  terminate(): void {
    if (this.current()) this.raw.terminate();
  }

  setKeepAlive(keep: boolean): void {
    if (this.current()) this.raw.setKeepAlive(keep);
  }
}

/** Runs the supervisor in this (dedicated) worker: `port` is the root's end. */
export function runSupervisor(
  rt: Runtime,
  rootId: number,
  poolSize: number,
  port: { post(m: unknown): void; onMessage(l: (m: any) => void): void },
): Supervisor {
  const supervisor = new Supervisor(rt, rootId, (notice) => port.post(notice));
  port.onMessage((message) => {
    if (isRequest(message)) supervisor.request(rootId, message);
  });
  supervisor.request(rootId, { type: "pool", size: poolSize, prewarm: true });
  return supervisor;
}

