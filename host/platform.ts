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
