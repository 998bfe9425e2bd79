// Start methods, and this thread's link to its supervisor (host/supervisor.ts).
//
// There is no fork() for JavaScript threads: a child always starts from a fresh worker that
// imports the user's module (Python's "spawn" semantics). "warm" keeps booted workers ready —
// forkless loaded, nothing of the user's run yet, like forkserver — so start() does not pay
// the worker boot; "spawn" boots a new worker per process. "reuse" (opt-in) hands a worker
// whose process ended cleanly to the next process, like a Pool's workers: no boot at all,
// but module state survives from one process to the next.
import { runtime } from "./runtime";
import { ValueError } from "./errors";
import { mayBlock, startWorker } from "./platform";
import { Supervisor, workerUrl } from "./supervisor";
import { isNotice, type ParentNotice, type Request } from "./protocol";

export type StartMethod = "warm" | "spawn" | "reuse";

const METHODS: StartMethod[] = ["warm", "spawn", "reuse"];

/** How a thread reaches its supervisor. */
export interface SupervisorLink {
  post(request: Request): void;
  /** Whether the link keeps this (root) thread's program alive: while it has non-daemonic children. */
  setKeepAlive(keep: boolean): void;
}

const slot = Symbol.for("forkless.context");
interface ContextState {
  method?: StartMethod;
  poolSize: number;
  link?: SupervisorLink;
  listeners: Set<(notice: ParentNotice) => void>;
}
const state: ContextState = ((globalThis as any)[slot] ??= { poolSize: 2, listeners: new Set() });

export { workerUrl };

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

/** A child process starts with its parent's method as its own default (set by the bootstrap). */
export function inheritStartMethod(method: StartMethod | undefined): void {
  if (method !== undefined && state.method === undefined) state.method = method;
}

/** Python's set_start_method(method, force=False): once per program unless forced. */
export function setStartMethod(method: StartMethod, options: { force?: boolean } = {}): void {
  const resolved = resolveStartMethod(method);
  if (state.method !== undefined && !options.force) {
    throw new ValueError("setStartMethod: the start method was already set; pass { force: true } to change it");
  }
  state.method = resolved;
  if (resolved === "spawn") state.link?.post({ type: "pool", drain: true });
}

/** How many booted workers the warm method keeps ready (default 2; 0 disables). */
export function setWarmPoolSize(size: number): void {
  if (!Number.isInteger(size) || size < 0 || size > 64) throw new RangeError("setWarmPoolSize: size must be an integer from 0 to 64");
  state.poolSize = size;
  state.link?.post({ type: "pool", size });
}

/** Boots the supervisor and its warm pool ahead of the first start() (called when a Process is created). */
export function prewarm(method: StartMethod | undefined): void {
  const chosen = method ?? getStartMethod();
  const link = supervisorLink();
  if (chosen !== "spawn" && state.poolSize > 0) link.post({ type: "pool", prewarm: true });
}

/** Installs the link of a child process (its bootstrap's port to the supervisor that started it). */
export function installLink(link: SupervisorLink): void {
  state.link = link;
}

/** Delivers a notice about one of this thread's children (process.ts listens). */
export function deliverNotice(notice: ParentNotice): void {
  for (const listener of state.listeners) listener(notice);
}

export function onNotice(listener: (notice: ParentNotice) => void): void {
  state.listeners.add(listener);
}

/**
 * This thread's supervisor. A root thread makes one on first use: a dedicated worker where
 * the thread may block (Node's main thread, a worker), or an in-thread supervisor on a page,
 * whose main thread never blocks and so can watch every exit itself.
 */
export function supervisorLink(): SupervisorLink {
  if (state.link) return state.link;
  const rt = runtime();
  if (mayBlock()) {
    const worker = startWorker(workerUrl(), { share: rt.share(), supervisor: { root: rt.id, poolSize: state.poolSize } });
    worker.onMessage((message) => {
      if (isNotice(message)) deliverNotice(message);
    });
    worker.setKeepAlive(false);
    state.link = { post: (request) => worker.post(request), setKeepAlive: (keep) => worker.setKeepAlive(keep) };
  } else {
    const supervisor = new Supervisor(rt, rt.id, (notice) => queueMicrotask(() => deliverNotice(notice)), true);
    supervisor.request(rt.id, { type: "pool", size: state.poolSize });
    state.link = { post: (request) => supervisor.request(rt.id, request), setKeepAlive: () => {} };
  }
  return state.link;
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
