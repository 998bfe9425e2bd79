// Process without fork: each process is a worker thread running its own instance of the
// Wasm module over the one shared memory. The child imports the module that exports the
// target function or Process subclass and finds it by name (spawn semantics), so user
// code is never shipped as source and no eval is needed.
import { runtime } from "./runtime";
import { TransitBuilder, outOfMemory } from "./handles";
import { ProcessError, ValueError, BlockingNotAllowedError } from "./errors";
import { checkTimeout, remaining, FOREVER } from "./options";
import { cpuCount as platformCpuCount, isNode, mayBlock, moduleUrl, now, sleep, type ResourceLimits } from "./platform";
import { encodeForTransfer } from "./serialize";
import { abi } from "./abi";
import { getStartMethod, onNotice, prewarm, resolveStartMethod, supervisorLink, type StartMethod } from "./context";
import type { ParentNotice } from "./protocol";

/** RUNNING, or TERMINATING (asked to stop, not yet seen stopped): a process that may still run. */
function alive(state: number): boolean {
  return state === abi.RUNNING || state === abi.TERMINATING;
}

export interface ProcessOptions {
  /** The function run() calls; must be exported from `module`. Omit when overriding run(). */
  target?: (...args: any[]) => unknown;
  /** Arguments for target, structured-cloned (forkless objects arrive live). */
  args?: unknown[];
  /** Passed to target as a last argument, like Python's **kwargs. */
  kwargs?: Record<string, unknown>;
  /** Default `Process-N` (nested: `Process-N:M`). */
  name?: string;
  /** Terminated when its parent ends; may not start children. Default: inherit from the current process. */
  daemon?: boolean;
  /** The module that exports target (import.meta.url, or __filename in CommonJS). */
  module?: string | URL;
  /** "warm" (default), "spawn" or "reuse"; see getAllStartMethods(). */
  startMethod?: StartMethod;
  /**
   * Node only: worker_threads resourceLimits for the child (e.g. { maxOldGenerationSizeMb: 64 }).
   * A child that runs out ends with exit code 1 and an OutOfMemoryError failure; its parent goes on.
   * The child gets a fresh worker of its own (limits are fixed when a worker starts).
   */
  resourceLimits?: ResourceLimits;
}

/** An error that ended a child, as the parent sees it. */
export interface ProcessFailure {
  name: string;
  message: string;
  stack?: string;
  cause?: ProcessFailure;
}

/** Serialized description of a child, sent to its worker. */
export interface BootMessage {
  type: "boot";
  /** The child's thread (its slot holds the arguments' transit block until it takes it). */
  record: { id: number };
  name: string;
  daemon: boolean;
  identity: number[];
  parent: { pid: number; name: string };
  moduleUrl: string;
  exportName: string;
  mode: "target" | "subclass";
  payload: unknown;
  /** Start method "reuse": the worker may take another process after this one ends cleanly. */
  reuse?: boolean;
  /** With reuse: counted up (after the exit is published) when the worker is handed back. */
  recycled?: Int32Array;
  /** The method this child was started with: its own default for the children it starts. */
  startMethod: StartMethod;
}

interface State {
  role: "parent" | "self" | "parent-of-self";
  target?: (...args: any[]) => unknown;
  args: unknown[];
  kwargs?: Record<string, unknown>;
  name: string;
  daemon: boolean;
  identity: number[];
  module?: string;
  startMethod?: StartMethod;
  started: boolean;
  closed: boolean;
  pid: number | null;
  /** The child's thread id, and where this thread's table holds our reference to its slot. */
  tid: number;
  tidIndex: number;
  finalized: boolean;
  exitCode: number | null;
  failure?: ProcessFailure;
  exited: Promise<void>;
  resolveExited: () => void;
  /** The child reported that it runs (its "started" message arrived). */
  booted?: boolean;
  sentinel?: Sentinel;
  resourceLimits?: ResourceLimits;
  /** The objects the arguments carry; their references are taken at start(). */
  transit?: TransitBuilder;
}

// On globalThis so that the ESM and CJS builds loaded in one thread agree on every process.
const states: WeakMap<Process, State> = ((globalThis as any)[Symbol.for("forkless.processStates")] ??= new WeakMap());

function newState(role: State["role"]): State {
  let resolveExited!: () => void;
  const exited = new Promise<void>((resolve) => (resolveExited = resolve));
  return {
    role,
    args: [],
    name: "",
    daemon: false,
    identity: [],
    started: false,
    closed: false,
    pid: null,
    tid: 0,
    tidIndex: -1,
    finalized: false,
    exitCode: null,
    exited,
    resolveExited,
  };
}

function stateOf(process: Process): State {
  const state = states.get(process);
  if (!state) {
    throw new ProcessError(
      `${process?.constructor?.name ?? "Process"}: this object was not initialised by the Process constructor; call super(options) first in your constructor`,
    );
  }
  return state;
}

// ---------------------------------------------------------------- per-thread process context

interface ThisProcess {
  process: Process;
  parent: ParentProcess | null;
  childCounter: number;
  children: Set<Process>;
  /** Started children by thread id, for the supervisor's notices. */
  byId: Map<number, Process>;
  /** Non-daemonic children still running: while any, a root thread's program stays alive (as in Python). */
  keepAlive: number;
  /** Set while a child imports the user's module: starting processes then is a missing guard. */
  importing?: string;
  /** Hard exit for the child (exit()); undefined in the main process. */
  hardExit?: (code: number) => never;
}

const slot = Symbol.for("forkless.process");
const global = globalThis as any;

function thisProcess(): ThisProcess {
  if (!global[slot]) {
    const main = Object.create(Process.prototype) as Process;
    const state = newState("self");
    state.name = "MainProcess";
    state.started = true;
    state.pid = runtime().id;
    states.set(main, state);
    global[slot] = { process: main, parent: null, childCounter: 0, children: new Set(), byId: new Map(), keepAlive: 0 } satisfies ThisProcess;
    onNotice(dispatchNotice);
  }
  return global[slot];
}

/** A notice from the supervisor about one of this thread's children. */
function dispatchNotice(notice: ParentNotice): void {
  const child = thisProcess().byId.get(notice.id);
  if (!child) return;
  const state = stateOf(child);
  if (notice.type === "child-started") {
    state.booted = true;
  } else if (notice.type === "child-failure") {
    state.failure = notice.failure;
    const text = notice.failure.stack ?? `${notice.failure.name}: ${notice.failure.message}`;
    console.error(`Process ${state.name}:\n${text}`);
  } else if (notice.type === "child-exited") {
    (child as any)._finalize(state, notice.code);
  }
}

/** Used by the worker entry to install the child's own process object. */
export function installChildProcess(process: Process, parent: ParentProcess, hardExit: (code: number) => never): ThisProcess {
  const first = !global[slot];
  global[slot] = { process, parent, childCounter: 0, children: new Set(), byId: new Map(), keepAlive: 0, hardExit } satisfies ThisProcess;
  if (first) onNotice(dispatchNotice);
  return global[slot];
}

export function setImporting(url: string | undefined): void {
  thisProcess().importing = url;
}

// ---------------------------------------------------------------- Process

export class Process {
  /** Subclasses name their module here: `static module = import.meta.url` (or `__filename`). */
  static module?: string | URL;

  constructor(options: ProcessOptions = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError("Process: expected an options object like { target, args, name, daemon }");
    }
    const { target, args = [], kwargs, name, daemon, module, startMethod, resourceLimits } = options;
    if (resourceLimits !== undefined && (typeof resourceLimits !== "object" || resourceLimits === null)) {
      throw new TypeError("Process: resourceLimits must be an object like { maxOldGenerationSizeMb: 64 }");
    }
    if (target !== undefined && typeof target !== "function") throw new TypeError("Process: target must be a function");
    if (!Array.isArray(args)) throw new TypeError("Process: args must be an array");
    if (kwargs !== undefined && (typeof kwargs !== "object" || kwargs === null)) throw new TypeError("Process: kwargs must be an object");
    if (name !== undefined && typeof name !== "string") throw new TypeError("Process: name must be a string");
    if (daemon !== undefined && typeof daemon !== "boolean") throw new TypeError("Process: daemon must be true or false");
    const here = thisProcess();
    const state = newState("parent");
    state.target = target;
    state.args = args;
    state.kwargs = kwargs;
    state.identity = [...stateOf(here.process).identity, ++here.childCounter];
    state.name = name ?? `Process-${state.identity.join(":")}`;
    state.daemon = daemon ?? stateOf(here.process).daemon;
    state.module = module === undefined ? undefined : moduleUrl(module);
    state.startMethod = startMethod === undefined ? undefined : resolveStartMethod(startMethod);
    state.resourceLimits = resourceLimits;
    states.set(this, state);
    prewarm(state.startMethod);
  }

  /** The process's work. The default calls target(...args, kwargs?); override it in a subclass. */
  run(): unknown {
    const state = stateOf(this);
    if (state.target) return state.kwargs ? state.target(...state.args, state.kwargs) : state.target(...state.args);
    return undefined;
  }

  get name(): string {
    return stateOf(this).name;
  }

  set name(value: string) {
    if (typeof value !== "string") throw new TypeError("Process.name must be a string");
    stateOf(this).name = value;
  }

  get daemon(): boolean {
    return stateOf(this).daemon;
  }

  set daemon(value: boolean) {
    const state = stateOf(this);
    if (state.started) throw new ValueError("Process.daemon: set it before start()");
    if (typeof value !== "boolean") throw new TypeError("Process.daemon must be true or false");
    state.daemon = value;
  }

  /** A unique id while the process exists (null before start). */
  get pid(): number | null {
    return stateOf(this).pid;
  }

  /** null while running; 0 after run() returned; N for exit(N); 1 after an uncaught error; -15 terminate(); -9 kill(). */
  get exitCode(): number | null {
    const state = this._checkOpen("exitCode");
    if (state.role !== "parent" || !state.started) return null;
    if (state.finalized) return state.exitCode;
    const ex = runtime().exports;
    // As in Python, a terminated child has no exit code until it has really stopped.
    return alive(ex.thread_state(state.tid)) ? null : ex.thread_exit_code(state.tid);
  }

  /** The error that ended the child (name, message, stack, cause), if one did. */
  get failure(): ProcessFailure | undefined {
    return stateOf(this).failure;
  }

  /** Something wait() can watch: ready once the process has ended. */
  get sentinel(): Sentinel {
    const state = this._checkOpen("sentinel");
    if (state.role !== "parent" || !state.started) throw new ValueError("Process.sentinel: the process has not been started");
    // One object per process, so `wait([...]).includes(p.sentinel)` works as in CPython.
    return (state.sentinel ??= new ProcessSentinel(this));
  }

  /** Starts the process in a new worker. At most once, and only by the process that created it. */
  start(): void {
    const state = this._checkOpen("start");
    const here = thisProcess();
    if (state.role !== "parent") throw new ValueError("Process.start: a process object can only be started by the process that created it");
    if (state.started) throw new ValueError(`${this.name}: cannot start a process twice`);
    if (stateOf(here.process).daemon) throw new ValueError("Process.start: daemonic processes are not allowed to have children");
    if (here.importing) {
      throw new ProcessError(
        `Process.start() was called while this child was importing ${here.importing} to find its code: ` +
          "the module starts processes at its top level. Guard that code with `if (isMainProcess()) { … }`, " +
          "or keep process classes and targets in a module without side effects",
      );
    }
    const boot = this._bootMessage(state);
    const rt = runtime();
    const ex = rt.exports;
    const flags = state.daemon ? abi.FLAG_DAEMON : 0;
    let sent: { t: number; index: number } | undefined;
    try {
      sent = state.transit!.commit(rt);
    } catch (error) {
      state.transit = undefined;
      throw error;
    }
    state.transit = undefined;
    const tid = ex.thread_new(rt.id, flags);
    if (tid < 0) {
      if (sent) ex.block_release(sent.t, ex.block_generation(sent.t), rt.id, sent.index);
      if (tid !== abi.E_NO_THREAD) throw outOfMemory(rt, "Process.start");
      throw new ProcessError(
        `Process.start: every one of the ${abi.SLOTS - 1} thread slots is in use; join() the processes that ended (and let go of their Process objects)`,
      );
    }
    state.tid = tid;
    state.tidIndex = ex.thread_last_index(rt.id);
    state.pid = tid;
    // The child's slot takes the arguments' references: if it never runs, its reaper drops them.
    if (sent) ex.thread_boot_give(tid, sent.t, rt.id, sent.index);
    boot.record = { id: tid };
    const method = state.startMethod ?? getStartMethod();
    boot.startMethod = method;
    try {
      supervisorLink().post({ type: "start", id: tid, parent: rt.id, method, daemon: state.daemon, boot, resourceLimits: state.resourceLimits });
    } catch (error) {
      // Only a page's own supervisor throws here (the worker could not be created): undo.
      ex.thread_exit(tid, 1);
      ex.thread_reap(tid, 1, rt.id);
      ex.thread_release(tid, rt.id, state.tidIndex);
      throw error;
    }
    state.started = true;
    here.children.add(this);
    here.byId.set(tid, this);
    // Like Python, the program waits for non-daemonic children at exit, and daemonic ones end with it.
    if (!state.daemon && here.keepAlive++ === 0) supervisorLink().setKeepAlive(true);
  }

  private _bootMessage(state: State): BootMessage {
    const cls = this.constructor as typeof Process;
    const overridden = cls !== Process && cls.prototype.run !== Process.prototype.run;
    const mode: BootMessage["mode"] = cls === Process || (!overridden && state.target) ? "target" : "subclass";
    const exported = mode === "target" ? state.target : cls;
    const exportName = exported?.name;
    if (mode === "target" && !exported) {
      throw new ValueError(`${state.name}: nothing to run; pass { target } or subclass Process and override run()`);
    }
    if (!exportName) {
      throw new ValueError(`${state.name}: the ${mode === "target" ? "target function" : "Process subclass"} needs a name, and must be exported from its module`);
    }
    const location = mode === "target" ? state.module : state.module ?? (cls.module === undefined ? undefined : moduleUrl(cls.module));
    if (!location) {
      throw new ValueError(
        mode === "target"
          ? `${state.name}: the child must import the module that exports ${exportName}(): pass { module: import.meta.url } ` +
              "(or { module: __filename } in CommonJS) and export the function"
          : `${cls.name}: the child must import the module that exports class ${cls.name}: add ` +
              "`static module = import.meta.url;` (or `static module = __filename;` in CommonJS) to the class, and export it",
      );
    }
    // Forkless objects travel with references of their own (a transit block the child's slot
    // holds until the child adopts them): nothing the parent does meanwhile can free them.
    const transit = new TransitBuilder();
    let payload: unknown;
    if (mode === "target") {
      payload = {
        args: encodeForTransfer(state.args, `${state.name}.args`, transit),
        kwargs: state.kwargs === undefined ? undefined : encodeForTransfer(state.kwargs, `${state.name}.kwargs`, transit),
      };
    } else {
      const fields: Record<string, unknown> = {};
      for (const key of Object.keys(this)) fields[key] = (this as any)[key];
      payload = { fields: encodeForTransfer(fields, cls.name, transit) };
    }
    state.transit = transit;
    const here = thisProcess();
    return {
      type: "boot",
      record: { id: 0 },
      name: state.name,
      daemon: state.daemon,
      identity: state.identity,
      parent: { pid: runtime().id, name: here.process.name },
      moduleUrl: location,
      exportName,
      mode,
      payload,
      startMethod: state.startMethod ?? getStartMethod(),
    };
  }

  /** The supervisor reaped the child (it can run no more): keep its exit code, drop our hold on its thread. */
  private _finalize(state: State, code: number): void {
    if (state.finalized) return;
    const rt = runtime();
    state.exitCode = code;
    rt.exports.thread_release(state.tid, rt.id, state.tidIndex);
    state.finalized = true;
    const here = thisProcess();
    here.children.delete(this);
    here.byId.delete(state.tid);
    if (!state.daemon && --here.keepAlive === 0) supervisorLink().setKeepAlive(false);
    state.resolveExited();
  }

  /** Waits for the process to end (blocking; timeout in ms). Read exitCode afterwards. */
  join(timeout?: number): void {
    const state = this._checkJoinable("join");
    const ms = checkTimeout(timeout, "Process.join");
    if (state.finalized) return;
    const ex = runtime().exports;
    const id = state.tid;
    // Ended: exited by itself, or stopped and reaped (a thread being reaped is waited for below).
    const current = ex.thread_state(id);
    if (current === abi.EXITED || current === abi.DEAD) return;
    if (ms !== 0 && !mayBlock()) {
      throw new BlockingNotAllowedError("Process.join() would block this thread, which may not block; use await process.joinAsync() instead");
    }
    // The child's exit and its reaping (by the supervisor) are published in shared memory, so
    // this works while our own event loop is blocked.
    ex.thread_join(id, ms, runtime().id);
  }

  /** join() for threads that may not block: resolves when the process ended or timeout ms passed. */
  async joinAsync(timeout?: number): Promise<void> {
    const state = this._checkJoinable("joinAsync");
    const ms = checkTimeout(timeout, "Process.joinAsync");
    if (state.finalized) return;
    if (ms === FOREVER) return state.exited;
    await raceDeadline(state.exited, now() + ms);
  }

  isAlive(): boolean {
    const state = this._checkOpen("isAlive");
    if (state.role === "self") return true;
    if (state.role !== "parent" || !state.started || state.finalized) return false;
    return alive(runtime().exports.thread_state(state.tid));
  }

  /** Stops the process at once (exit code -15). Its finally blocks do not run. */
  terminate(): void {
    this._stop(-15, "terminate");
  }

  /** Same as terminate() here (exit code -9): a worker thread has no gentler signal to ignore. */
  kill(): void {
    this._stop(-9, "kill");
  }

  private _stop(code: number, what: string): void {
    const state = this._checkOpen(what);
    if (state.role !== "parent") throw new ValueError(`Process.${what}: only the process that started it may stop it`);
    if (!state.started || state.finalized) return;
    // TERMINATING: alive to every primitive until the supervisor has seen its worker stop, so
    // nothing it holds is handed on while it might still run.
    if (runtime().exports.thread_terminate(state.tid, code) === 1) supervisorLink().post({ type: "terminate", id: state.tid });
  }

  /** Releases the process's resources; it must have ended. Most methods throw afterwards. */
  close(): void {
    const state = stateOf(this);
    if (state.closed) return;
    if (state.role === "parent" && state.started && !state.finalized) {
      if (this.isAlive()) {
        throw new ValueError(`${state.name}: cannot close a process while it is still running; join() or terminate() it first`);
      }
    }
    state.closed = true;
    // As in CPython, a closed process is no longer among the active children.
    thisProcess().children.delete(this);
  }

  private _checkOpen(what: string): State {
    const state = stateOf(this);
    if (state.closed) throw new ValueError(`Process.${what}: the process object is closed`);
    return state;
  }

  private _checkJoinable(what: string): State {
    const state = this._checkOpen(what);
    if (state.role === "self") throw new ValueError(`Process.${what}: a process cannot join itself`);
    if (state.role !== "parent") throw new ValueError(`Process.${what}: only the process that started it can join it`);
    if (!state.started) throw new ValueError(`Process.${what}: can only join a started process`);
    return state;
  }

  toString(): string {
    const state = states.get(this);
    if (!state) return `<${this.constructor.name} uninitialised>`;
    const status =
      state.role === "self" ? "started" : !state.started ? "initial" : this.exitCode === null ? "started" : `stopped exitcode=${this.exitCode}`;
    return `<${this.constructor.name} name='${state.name}' ${status}${state.daemon ? " daemon" : ""}>`;
  }
}

/** What the child sees of its parent. */
export class ParentProcess {
  constructor(
    readonly pid: number,
    readonly name: string,
  ) {}

  isAlive(): boolean {
    return runtime().exports.thread_alive(this.pid) === 1;
  }

  toString(): string {
    return `<ParentProcess name='${this.name}' pid=${this.pid}>`;
  }
}

/** Creates the process object a child runs as (used by the worker entry). */
export function childProcessObject(exported: any, boot: BootMessage, decoded: any): Process {
  const proto = boot.mode === "subclass" ? exported.prototype : Process.prototype;
  const process = Object.create(proto) as Process;
  const state = newState("self");
  state.name = boot.name;
  state.daemon = boot.daemon;
  state.identity = boot.identity;
  state.started = true;
  state.pid = boot.record.id;
  if (boot.mode === "target") {
    state.target = exported;
    state.args = decoded.args;
    state.kwargs = decoded.kwargs;
  } else {
    Object.assign(process, decoded.fields);
  }
  states.set(process, state);
  return process;
}

export function processState(process: Process): { daemon: boolean; name: string } {
  return stateOf(process);
}

// ---------------------------------------------------------------- module functions

export function currentProcess(): Process {
  return thisProcess().process;
}

export function parentProcess(): ParentProcess | null {
  return thisProcess().parent;
}

/** True in the process the program started in (not in a child): guard top-level code with it. */
export function isMainProcess(): boolean {
  // A child installs its process before any user code runs, so no slot means the main process
  // (answered without creating the runtime, so it works on a page that cannot have one).
  const here: ThisProcess | undefined = global[slot];
  return !here || here.parent === null;
}

/** Children started by this process that are still alive; finished ones are forgotten. */
export function activeChildren(): Process[] {
  const alive: Process[] = [];
  for (const child of thisProcess().children) {
    if (child.isAlive()) alive.push(child);
    else {
      child.join(0);
      if (stateOf(child).finalized) thisProcess().children.delete(child);
    }
  }
  return alive;
}

/** Children not yet finalized (including ones that ended but whose worker is still stopping). */
export function pendingChildren(): Process[] {
  return [...thisProcess().children];
}

export function cpuCount(): number {
  return platformCpuCount();
}

/**
 * Ends the current process with this exit code, from anywhere inside it (Python's
 * sys.exit / os._exit in a child). Only this process ends. In the main process of Node it
 * exits the program.
 */
export function exit(code: number = 0): never {
  if (!Number.isInteger(code)) throw new TypeError(`exit: code must be an integer; got ${String(code)}`);
  const here = thisProcess();
  if (here.hardExit) return here.hardExit(code);
  if (isNode) {
    (globalThis as any).process.exit(code);
  }
  throw new ProcessError("exit() cannot end a page's main thread; it only ends forkless processes");
}

// ---------------------------------------------------------------- wait()

/**
 * Resolves when `promise` does, or once now() has reached `deadline` — never before it:
 * setTimeout may fire a fraction of a millisecond early, so it is re-armed until the clock agrees.
 */
export async function raceDeadline(promise: Promise<unknown>, deadline: number): Promise<void> {
  let settled = false;
  const done = promise.then(() => {
    settled = true;
  });
  while (!settled) {
    const left = deadline - now();
    if (left <= 0) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.ceil(left))))]);
    clearTimeout(timer);
  }
}

/** A way to end an asynchronous wait early (waitAsync() ends its losers' waits with it). */
export class Cancellation {
  cancelled = false;
  private readonly wakers = new Set<() => void>();
  cancel(): void {
    this.cancelled = true;
    for (const wake of this.wakers) wake();
  }
  onCancel(wake: () => void): () => void {
    this.wakers.add(wake);
    return () => this.wakers.delete(wake);
  }
}

/** Something that becomes ready: a process sentinel, or a connection. */
export interface Sentinel {
  ready(): boolean;
  /** Resolves once ready, or when `cancel` is cancelled (then it need not be ready). */
  readyAsync(cancel?: Cancellation): Promise<void>;
}

class ProcessSentinel implements Sentinel {
  constructor(readonly process: Process) {}
  ready(): boolean {
    return this.process.exitCode !== null;
  }
  readyAsync(): Promise<void> {
    return stateOf(this.process).exited;
  }
}

type Waitable = Sentinel | Process;

function sentinelOf(object: Waitable): Sentinel {
  if (object instanceof Process) return object.sentinel;
  if (object && typeof (object as Sentinel).ready === "function" && typeof (object as Sentinel).readyAsync === "function") {
    return object as Sentinel;
  }
  throw new TypeError("wait: expected processes, process sentinels or connections");
}

/** Blocks until at least one object is ready or timeout ms passed; returns the ready ones (Python's connection.wait). */
export function wait<T extends Waitable>(objects: T[], timeout?: number): T[] {
  const ms = checkTimeout(timeout, "wait");
  const sentinels = objects.map(sentinelOf);
  const deadline = ms < 0 ? FOREVER : now() + ms;
  let pause = 0.05;
  const nap = new Int32Array(new SharedArrayBuffer(4));
  while (true) {
    const ready = objects.filter((_, i) => sentinels[i].ready());
    if (ready.length > 0) return ready;
    const left = remaining(deadline, now());
    if (left === 0) return [];
    if (!mayBlock()) throw new BlockingNotAllowedError("wait() would block this thread; use await waitAsync(objects, timeout)");
    Atomics.wait(nap, 0, 0, Math.min(pause, left));
    pause = Math.min(pause * 2, 2);
  }
}

export async function waitAsync<T extends Waitable>(objects: T[], timeout?: number): Promise<T[]> {
  const ms = checkTimeout(timeout, "waitAsync");
  const sentinels = objects.map(sentinelOf);
  const ready = () => objects.filter((_, i) => sentinels[i].ready());
  if (ready().length > 0 || ms === 0) return ready();
  // Every wait this starts ends with it: the losers are cancelled, so nothing stays pending.
  const cancel = new Cancellation();
  try {
    const any = Promise.race(sentinels.map((s) => s.readyAsync(cancel)));
    if (ms === FOREVER) await any;
    else await raceDeadline(any, now() + ms);
  } finally {
    cancel.cancel();
  }
  await sleep(0);
  return ready();
}
