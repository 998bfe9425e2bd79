// The thin layer that differs between Node and browsers: clock, whether this thread may
// block, asynchronous waiting, and engine workarounds.
import { UnsupportedEnvironmentError } from "./errors";

// `using` needs Symbol.dispose; engines before 2025 lack it (Node 20 has it, WebKit 18 not).
(Symbol as any).dispose ??= Symbol.for("Symbol.dispose");

type NodeProcess = {
  versions?: { node?: string };
  getBuiltinModule?: (id: string) => any;
};

const nodeProcess: NodeProcess | undefined = (globalThis as any).process;

export const isNode = typeof nodeProcess?.versions?.node === "string";

export const nodeMajor = isNode ? Number(nodeProcess!.versions!.node!.split(".")[0]) : 0;

export const now: () => number =
  typeof performance !== "undefined" ? () => performance.now() : () => Date.now();

let mayBlockCache: boolean | undefined;

/** Whether Atomics.wait (and so a Wasm wait) is allowed here; a browser's main thread says no. */
export function mayBlock(): boolean {
  if (mayBlockCache === undefined) {
    try {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
      mayBlockCache = true;
    } catch {
      mayBlockCache = false;
    }
  }
  return mayBlockCache;
}

/**
 * Node 20's baseline Wasm compiler (Liftoff, V8 11.3) lets loops around an atomic wait
 * run extra iterations under contention; TurboFan compiles the same module correctly.
 * Called before the module is compiled, so users on Node 20 need not know about it.
 */
export function applyEngineWorkarounds(): void {
  if (!isNode || nodeMajor > 20) return;
  const v8 = nodeProcess!.getBuiltinModule?.("node:v8");
  v8?.setFlagsFromString("--no-liftoff");
}

export type WaitResult = "ok" | "not-equal" | "timed-out";

const hasWaitAsync = typeof (Atomics as any).waitAsync === "function";

/**
 * Resolves when view[index] may have changed from value, or after timeoutMs (Infinity = never).
 * Uses Atomics.waitAsync; where that is missing, polls with a backoff capped at 4 ms.
 */
export async function waitAsync(
  view: Int32Array,
  index: number,
  value: number,
  timeoutMs: number,
): Promise<WaitResult> {
  if (hasWaitAsync) {
    const result = (Atomics as any).waitAsync(view, index, value, timeoutMs);
    if (!result.async) return result.value;
    // A pending waitAsync does not keep Node's event loop alive in every version.
    const keepAlive = isNode ? setInterval(noop, 1 << 30) : undefined;
    try {
      return await result.value;
    } finally {
      if (keepAlive !== undefined) clearInterval(keepAlive);
    }
  }
  const deadline = now() + timeoutMs;
  let delay = 0.1;
  while (Atomics.load(view, index) === value) {
    const left = deadline - now();
    if (left <= 0) return "timed-out";
    await sleep(Math.min(delay, left));
    delay = Math.min(delay * 2, 4);
  }
  return "ok";
}

function noop(): void {}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function decodeBase64(text: string): Uint8Array {
  const buffer = (globalThis as any).Buffer;
  if (buffer) return new Uint8Array(buffer.from(text, "base64"));
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

// ---------------------------------------------------------------- workers

/** The part of a Node worker_threads Worker or a Web Worker that processes need. */
export interface WorkerLike {
  post(message: unknown): void;
  onMessage(listener: (message: any) => void): void;
  /** Called once when the thread has stopped, with its exit code. */
  onExit(listener: (code: number) => void): void;
  terminate(): void;
  /** Whether an idle worker keeps the host alive (Node only). */
  setKeepAlive(keep: boolean): void;
}

/** Node's worker_threads resourceLimits (a child that passes them ends with OutOfMemoryError, not its parent). */
export interface ResourceLimits {
  maxOldGenerationSizeMb?: number;
  maxYoungGenerationSizeMb?: number;
  codeRangeSizeMb?: number;
  stackSizeMb?: number;
}

export function startWorker(url: URL, data: unknown, resourceLimits?: ResourceLimits): WorkerLike {
  if (isNode) {
    const { Worker } = nodeProcess!.getBuiltinModule!("node:worker_threads");
    const worker = new Worker(url, resourceLimits ? { workerData: data, resourceLimits } : { workerData: data });
    let keepAlive = true;
    const listeners: ((message: any) => void)[] = [];
    // A worker that dies of itself (out of memory, an engine crash) emits 'error' and then
    // 'exit': its owner hears it as the process's failure, never as an uncaught error.
    worker.on("error", (error: any) => {
      const failure = {
        name: error?.code === "ERR_WORKER_OUT_OF_MEMORY" ? "OutOfMemoryError" : String(error?.name ?? "Error"),
        message: String(error?.message ?? error),
        stack: typeof error?.stack === "string" ? error.stack : undefined,
      };
      for (const listener of listeners) listener({ type: "failure", failure });
    });
    return {
      post: (message) => worker.postMessage(message),
      onMessage: (listener) => {
        listeners.push(listener);
        worker.on("message", listener);
        // Adding a 'message' listener refs the worker's port again: keep what setKeepAlive chose.
        if (!keepAlive) worker.unref();
      },
      onExit: (listener) => worker.once("exit", listener),
      terminate: () => void worker.terminate(),
      setKeepAlive: (keep) => {
        keepAlive = keep;
        if (keep) worker.ref();
        else worker.unref();
      },
    };
  }
  const WebWorker = (globalThis as any).Worker;
  if (typeof WebWorker !== "function") {
    throw new UnsupportedEnvironmentError(
      typeof (globalThis as any).WorkerGlobalScope === "function"
        ? "forkless: this worker cannot start workers (no Worker constructor in workers: nested workers need Safari/iOS 15.5 or later); start processes from the page instead"
        : "forkless: this thread cannot start workers (no Worker constructor here)",
    );
  }
  // Web Workers have no exit event: the child posts { type: "exit" } as its last message,
  // and an uncaught error counts as exit code 1.
  let worker: any;
  try {
    worker = new WebWorker(url, { type: "module" });
  } catch (error) {
    throw new UnsupportedEnvironmentError(
      `forkless could not start a module worker from ${url.href} (${String((error as any)?.message ?? error)}): ` +
        "module workers need Safari/iOS 15 or later, and the page's CSP must allow it (worker-src 'self')",
      { cause: error },
    );
  }
  const messageListeners: ((message: any) => void)[] = [];
  const exitListeners: ((code: number) => void)[] = [];
  let exited = false;
  let exitCode = 1;
  let heard = false;
  let lateFailure: unknown;
  const exit = (code: number) => {
    if (exited) return;
    exited = true;
    exitCode = code;
    worker.terminate();
    for (const listener of exitListeners) listener(code);
  };
  worker.addEventListener("message", (event: MessageEvent) => {
    heard = true;
    const message = event.data;
    for (const listener of messageListeners) listener(message);
    if (message?.type === "exit") exit(message.code);
  });
  worker.addEventListener("error", (event: ErrorEvent) => {
    event.preventDefault?.();
    if (exited) return;
    // A worker that never spoke failed to load: say which script and the usual causes.
    const failure = {
      name: heard ? "Error" : "WorkerLoadError",
      message: heard
        ? event.message || "uncaught error in the worker"
        : `the worker script ${url.href} failed to load or to evaluate${event.message ? ` (${event.message})` : ""}; ` +
          "check that it is served (as text/javascript) from the page's origin with the same " +
          "Cross-Origin-Embedder-Policy / Cross-Origin-Resource-Policy headers, and that a CSP allows it (worker-src 'self')",
    };
    lateFailure = { type: "failure", failure };
    for (const listener of messageListeners) listener(lateFailure);
    exit(1);
  });
  try {
    worker.postMessage({ type: "init", data });
  } catch (error) {
    worker.terminate();
    exited = true;
    throw new UnsupportedEnvironmentError(
      `forkless cannot send its shared WebAssembly.Memory to a worker (${(error as any)?.name ?? "Error"}: ` +
        `${(error as any)?.message ?? error}). WebKit refuses this while it hides SharedArrayBuffer: WebKitGTK/WPE ` +
        "need JSC_useSharedArrayBuffer=1 in the environment; Safari and WKWebView need 15.2 or later and a cross-origin " +
        "isolated page (COOP same-origin + COEP require-corp). Run `await support()` for a full report",
      { cause: error },
    );
  }
  return {
    post: (message) => {
      if (!exited) worker.postMessage(message);
    },
    onMessage: (listener) => {
      messageListeners.push(listener);
      // A pre-booted (warm) worker may have failed before anyone listened: tell the newcomer.
      if (lateFailure !== undefined) queueMicrotask(() => listener(lateFailure));
    },
    onExit: (listener) => {
      exitListeners.push(listener);
      if (exited) queueMicrotask(() => listener(exitCode));
    },
    terminate: () => exit(1),
    setKeepAlive: () => {},
  };
}

/** In a worker started by startWorker: its data, a way to talk to the parent, and a hard exit. */
export interface WorkerSide {
  data: Promise<any>;
  post(message: unknown): void;
  onMessage(listener: (message: any) => void): void;
  exit(code: number): never;
}

export function workerSide(): WorkerSide {
  if (isNode) {
    const { workerData, parentPort } = nodeProcess!.getBuiltinModule!("node:worker_threads");
    return {
      data: Promise.resolve(workerData),
      post: (message) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on("message", listener),
      exit: (code) => {
        (nodeProcess as any).exit(code);
        throw new ExitSignal(code);
      },
    };
  }
  const scope = globalThis as any;
  const data = new Promise((resolve) => {
    const first = (event: MessageEvent) => {
      if (event.data?.type !== "init") return;
      scope.removeEventListener("message", first);
      resolve(event.data.data);
    };
    scope.addEventListener("message", first);
  });
  // A message this engine could not deserialize (WebKit: a shared Memory or a Module) would
  // otherwise leave the child waiting for its init forever: report it and end.
  scope.addEventListener("messageerror", () => {
    scope.postMessage({
      type: "failure",
      failure: {
        name: "UnsupportedEnvironmentError",
        message:
          "forkless: this worker could not receive a message from its parent (messageerror): the engine cannot " +
          "deserialize a shared WebAssembly.Memory here (WebKit: JSC_useSharedArrayBuffer=1; Safari/iOS 15.2 or later, " +
          "on a cross-origin isolated page)",
      },
    });
    exitWorker(1);
  });
  const exitWorker = (code: number): never => {
    scope.postMessage({ type: "exit", code });
    scope.close();
    // Like process.exit in a Node worker, nothing after exit() may run — not even the caller's
    // catch or finally blocks — so park this thread until the parent, which has our exit
    // message, terminates it. (Workers may block; if this one may not, unwind instead.)
    try {
      const parked = new Int32Array(new SharedArrayBuffer(4));
      for (;;) Atomics.wait(parked, 0, 0);
    } catch {}
    throw new ExitSignal(code);
  };
  return {
    data,
    post: (message) => scope.postMessage(message),
    onMessage: (listener) => scope.addEventListener("message", (event: MessageEvent) => listener(event.data)),
    exit: exitWorker,
  };
}

/** Thrown to unwind a Web Worker after exit(); never seen by Node. */
export class ExitSignal extends Error {
  constructor(readonly code: number) {
    super(`process exited with code ${code}`);
  }
}

export function cpuCount(): number {
  if (isNode) {
    const os = nodeProcess!.getBuiltinModule!("node:os");
    return typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length;
  }
  return (globalThis as any).navigator?.hardwareConcurrency ?? 1;
}

/** file:// URL for a module path (CommonJS __filename) or URL string (import.meta.url). */
export function moduleUrl(location: string | URL): string {
  const text = String(location);
  if (/^[a-z][a-z0-9+.-]*:/i.test(text) && !/^[a-z]:[\\/]/i.test(text)) return text;
  if (isNode) return nodeProcess!.getBuiltinModule!("node:url").pathToFileURL(text).href;
  return new URL(text, (globalThis as any).location?.href).href;
}
