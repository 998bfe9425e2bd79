// The thin layer that differs between Node and browsers: clock, whether this thread may
// block, asynchronous waiting, and engine workarounds.

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

export function startWorker(url: URL, data: unknown): WorkerLike {
  if (isNode) {
    const { Worker } = nodeProcess!.getBuiltinModule!("node:worker_threads");
    const worker = new Worker(url, { workerData: data });
    return {
      post: (message) => worker.postMessage(message),
      onMessage: (listener) => worker.on("message", listener),
      onExit: (listener) => worker.once("exit", listener),
      terminate: () => void worker.terminate(),
      setKeepAlive: (keep) => (keep ? worker.ref() : worker.unref()),
    };
  }
  const WebWorker = (globalThis as any).Worker;
  if (typeof WebWorker !== "function") {
    throw new Error("forkless: this thread cannot start workers (no Worker constructor here)");
  }
  // Web Workers have no exit event: the child posts { type: "exit" } as its last message,
  // and an uncaught error counts as exit code 1.
  const worker = new WebWorker(url, { type: "module" });
  const exitListeners: ((code: number) => void)[] = [];
  let exited = false;
  const exit = (code: number) => {
    if (exited) return;
    exited = true;
    worker.terminate();
    for (const listener of exitListeners) listener(code);
  };
  worker.addEventListener("message", (event: MessageEvent) => {
    if (event.data?.type === "exit") exit(event.data.code);
  });
  worker.addEventListener("error", (event: ErrorEvent) => {
    event.preventDefault?.();
    exit(1);
  });
  worker.postMessage({ type: "init", data });
  return {
    post: (message) => worker.postMessage(message),
    onMessage: (listener) => worker.addEventListener("message", (event: MessageEvent) => listener(event.data)),
    onExit: (listener) => void exitListeners.push(listener),
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
  return {
    data,
    post: (message) => scope.postMessage(message),
    onMessage: (listener) => scope.addEventListener("message", (event: MessageEvent) => listener(event.data)),
    exit: (code) => {
      scope.postMessage({ type: "exit", code });
      scope.close();
      // Nothing after close() may run user code: stop this task here.
      throw new ExitSignal(code);
    },
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
