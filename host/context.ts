// Start methods. There is no fork() for JavaScript threads: a child always starts from a
// fresh worker that imports the user's module (Python's "spawn" semantics). "warm" keeps
// booted workers ready — forkless loaded, nothing of the user's run yet, like forkserver —
// so start() does not pay the worker boot; "spawn" boots a new worker per process.
import { runtime } from "./runtime";
import { ValueError } from "./errors";
import { startWorker, type WorkerLike } from "./platform";
import type { BootMessage } from "./process";

export type StartMethod = "warm" | "spawn";

const METHODS: StartMethod[] = ["warm", "spawn"];

const slot = Symbol.for("forkless.context");
interface ContextState {
  method?: StartMethod;
  pool: WorkerLike[];
  poolSize: number;
  refilling: boolean;
}
const state: ContextState = ((globalThis as any)[slot] ??= { pool: [], poolSize: 2, refilling: false });

export function resolveStartMethod(method: unknown): StartMethod {
  if (method === "fork" || method === "forkserver") {
    throw new ValueError(
      `start method '${method}' cannot exist here: JavaScript threads cannot copy a running heap, and hosts like ` +
        "iOS forbid fork(). Use 'warm' (pre-booted workers that never ran user code, like forkserver; the default) " +
        "or 'spawn' (a fresh worker per process)",
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
  if (resolved !== "warm") drainPool();
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
    while (state.pool.length < state.poolSize && getStartMethod() === "warm") {
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
}

/** Boots the warm pool ahead of the first start() (called when a Process is created). */
export function prewarm(method: StartMethod | undefined): void {
  if ((method ?? getStartMethod()) === "warm" && state.pool.length < state.poolSize) refill();
}

/** Starts a worker for the child described by boot. */
export function launch(method: StartMethod | undefined, boot: BootMessage): WorkerLike {
  const chosen = method ?? getStartMethod();
  let worker: WorkerLike;
  if (chosen === "warm" && state.poolSize > 0) {
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
