// Start methods. There is no fork() for JavaScript threads: a child always starts from a
// fresh worker that imports the user's module (Python's "spawn" semantics). "warm" keeps
// booted workers ready — forkless loaded, nothing of the user's run yet, like forkserver —
// so start() does not pay the worker boot; "spawn" boots a new worker per process.
// "reuse" (opt-in) hands a worker whose process ended cleanly to the next process, like a
// Pool's workers: no boot at all, but module state survives from one process to the next.
import { runtime } from "./runtime";
import { ValueError } from "./errors";
import { isNode, startWorker, type WorkerLike } from "./platform";
import type { BootMessage } from "./process";

export type StartMethod = "warm" | "spawn" | "reuse";

const METHODS: StartMethod[] = ["warm", "spawn", "reuse"];

/** Idle workers the reuse method keeps per thread; more are ended (each costs a few MB). */
const MAX_IDLE_REUSABLE = 16;

const slot = Symbol.for("forkless.context");
interface ContextState {
  method?: StartMethod;
  pool: WorkerLike[];
  poolSize: number;
  refilling: boolean;
  /** Workers of the reuse method whose last process ended cleanly, waiting for the next one. */
  idle?: ReusableWorker[];
  /** Workers of the reuse method running a process. */
  busy?: Set<ReusableWorker>;
}
const state: ContextState = ((globalThis as any)[slot] ??= { pool: [], poolSize: 2, refilling: false });
state.idle ??= [];
state.busy ??= new Set();

export function resolveStartMethod(method: unknown): StartMethod {
  if (method === "fork" || method === "forkserver") {
    throw new ValueError(
      `start method '${method}' cannot exist here: JavaScript threads cannot copy a running heap, and hosts like ` +
        "iOS forbid fork(). Use 'warm' (pre-booted workers that never ran user code, like forkserver; the default), " +
        "'spawn' (a fresh worker per process) or 'reuse' (a worker goes on to the next process, like a Pool's workers)",
    );
  }
  if (!METHODS.includes(method as StartMethod)) {
    throw new ValueError(`unknown start method ${JSON.stringify(method)}; use one of ${METHODS.map((m) => `'${m}'`).join(", ")}`);
  }
  return method as StartMethod;
}

/** The methods this host supports, default first (Python's get_all_start_methods()). */
export function getAllStartMethods(): StartMethod[] {
  return [...METHODS];
}

/** The method used when a process does not choose one. */
export function getStartMethod(): StartMethod {
  return state.method ?? "warm";
}

/** Python's set_start_method(method, force=False): once per program unless forced. */
export function setStartMethod(method: StartMethod, options: { force?: boolean } = {}): void {
  const resolved = resolveStartMethod(method);
  if (state.method !== undefined && !options.force) {
    throw new ValueError("setStartMethod: the start method was already set; pass { force: true } to change it");
  }
  state.method = resolved;
  if (resolved === "spawn") drainPool();
}

/** How many booted workers the warm method keeps ready in this thread (default 2; 0 disables). */
export function setWarmPoolSize(size: number): void {
  if (!Number.isInteger(size) || size < 0 || size > 64) throw new RangeError("setWarmPoolSize: size must be an integer from 0 to 64");
  state.poolSize = size;
  while (state.pool.length > size) state.pool.pop()!.terminate();
}

/** forkless's worker entry, next to this bundle (every bundler understands this pattern). */
export function workerUrl(): URL {
  return new URL("./worker.mjs", import.meta.url);
}

function bootWorker(): WorkerLike {
  return startWorker(workerUrl(), { share: runtime().share() });
}

function refill(): void {
  if (state.refilling) return;
  state.refilling = true;
  // Booting costs a worker start (tens of ms), so do it off the caller's path.
  setTimeout(() => {
    state.refilling = false;
    while (state.pool.length < state.poolSize && getStartMethod() !== "spawn") {
      let worker: WorkerLike;
      try {
        worker = bootWorker();
      } catch {
        // This host cannot start workers (not isolated, DataCloneError, …): start() will boot
        // one itself and throw the diagnosis to its caller, instead of an uncaught error here.
        break;
      }
      worker.setKeepAlive(false); // an idle warm worker must not keep the program alive
      state.pool.push(worker);
    }
  }, 0);
}

function drainPool(): void {
  for (const worker of state.pool.splice(0)) worker.terminate();
  for (const worker of state.idle!.splice(0)) worker.raw.terminate();
}

/** Boots the warm pool ahead of the first start() (called when a Process is created). */
export function prewarm(method: StartMethod | undefined): void {
  const chosen = method ?? getStartMethod();
  if (chosen === "spawn" || state.pool.length >= state.poolSize) return;
  if (chosen === "warm" || state.idle!.length === 0) refill();
}

/**
 * A worker the reuse method lends to one process after another. Each process gets a lease (a
 * WorkerLike of its own), so messages and the exit reach only the current process. A child
 * that ended cleanly and left nothing running publishes its exit, then counts up `recycled`
 * (shared memory) and posts "recycled": start() can hand the worker on at once, before that
 * message arrives. After counting up, the child never touches its old record again.
 */
class ReusableWorker {
  private lease: Lease | undefined;
  private readonly recycled = new Int32Array(new SharedArrayBuffer(4));
  private consumed = 0;

  constructor(readonly raw: WorkerLike) {
    raw.onMessage((message) => {
      const lease = this.lease;
      // A message of a process already ended here (seen in shared memory first) is stale.
      if (!lease || message?.record !== lease.record) return;
      if (message?.type === "recycled") {
        if (this.takeRecycled()) this.park();
      } else {
        lease.message(message);
      }
    });
    raw.onExit((code) => {
      const lease = this.lease;
      this.lease = undefined;
      state.busy!.delete(this);
      const at = state.idle!.indexOf(this);
      if (at >= 0) state.idle!.splice(at, 1);
      lease?.ended(code);
    });
  }

  /** Ends the current lease if its process handed the worker back; true if it did. */
  takeRecycled(): boolean {
    if (Atomics.load(this.recycled, 0) === this.consumed) return false;
    this.consumed++;
    const lease = this.lease;
    this.lease = undefined;
    state.busy!.delete(this);
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
    state.busy!.add(this);
    this.raw.setKeepAlive(true);
    this.raw.post({ ...boot, reuse: true, recycled: this.recycled });
    return lease;
  }

  private park(): void {
    // An idle worker must not keep the program alive, nor pile up past the cap.
    this.raw.setKeepAlive(false);
    if (state.idle!.length < MAX_IDLE_REUSABLE) state.idle!.push(this);
    else this.raw.terminate();
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

/** Starts a worker for the child described by boot. */
export function launch(method: StartMethod | undefined, boot: BootMessage): WorkerLike {
  const chosen = method ?? getStartMethod();
  let worker: WorkerLike;
  if (chosen === "reuse" && isNode) {
    // Browsers cannot tell whether a process left timers running, so they never recycle: there
    // "reuse" behaves like "warm".
    let reusable = state.idle!.pop();
    if (!reusable) {
      for (const busy of state.busy!) {
        if (busy.takeRecycled()) {
          reusable = busy;
          break;
        }
      }
    }
    if (!reusable) {
      reusable = new ReusableWorker(state.pool.shift() ?? bootWorker());
      refill();
    }
    return reusable.lend(boot);
  }
  if (chosen !== "spawn" && state.poolSize > 0) {
    worker = state.pool.shift() ?? bootWorker();
    worker.setKeepAlive(true);
    refill();
  } else {
    worker = bootWorker();
  }
  worker.post(boot);
  return worker;
}

/** Python's get_context(method): the API with a default start method bound. */
export function getContext(method?: StartMethod): Context {
  return new Context(method === undefined ? getStartMethod() : resolveStartMethod(method));
}

export class Context {
  constructor(readonly startMethod: StartMethod) {}

  getStartMethod(): StartMethod {
    return this.startMethod;
  }
}
