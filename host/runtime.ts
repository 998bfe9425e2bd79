// One runtime per thread: the shared memory, this thread's instance of the module over it,
// and this thread's id. The first thread creates the memory; every other thread attaches
// to it with a RuntimeShare it was sent.
import wasmBase64 from "forkless:wasm";
import type { WasmExports } from "./exports";
import { UnsupportedEnvironmentError, ValueError } from "./errors";
import { applyEngineWorkarounds, decodeBase64, isNode, now } from "./platform";
import { abi } from "./abi";

const PAGE = 65536;
/** What the module declares for its imported memory; a runtime may choose less. */
const MODULE_MAX_PAGES = 65536;

export interface RuntimeOptions {
  /** Bytes of shared memory to start with (default 1 MiB). */
  initialMemoryBytes?: number;
  /** The most the shared memory may grow to (default 1 GiB); allocation past it throws OutOfSharedMemoryError. */
  maxMemoryBytes?: number;
}

/** The thread a parent made for the child it starts (its id in the thread table). */
export interface ThreadRecord {
  readonly id: number;
}

/**
 * What another thread needs to join this runtime; structured-cloneable (postMessage / workerData).
 * `module` is left out in browsers: some WebKit builds refuse to post a WebAssembly.Module
 * (DataCloneError), and every copy of forkless carries the module's bytes, so the other
 * thread compiles its own.
 */
export interface RuntimeShare {
  readonly memory: WebAssembly.Memory;
  readonly module?: WebAssembly.Module;
}

export class Runtime {
  readonly memory: WebAssembly.Memory;
  readonly module: WebAssembly.Module;
  readonly exports: WasmExports;
  /** This thread's id (assembly/threads.ts): in lock words, and for every reference it holds. */
  id: number;
  #buffer: SharedArrayBuffer | undefined;
  #int32: Int32Array | undefined;

  constructor(memory: WebAssembly.Memory, module: WebAssembly.Module, maxPages: number, record?: ThreadRecord) {
    this.memory = memory;
    this.module = module;
    const instance = wasmStep("instantiate", () => new WebAssembly.Instance(module, { env: { memory, now } }));
    this.exports = instance.exports as unknown as WasmExports;
    if (this.exports.arena_init(maxPages) < 0) {
      throw new UnsupportedEnvironmentError("forkless: the shared memory is smaller than the arena's tables");
    }
    if (record) {
      // A process started by a parent: the parent made (and holds) our slot.
      this.id = this.#checkRecord(record);
    } else {
      const id = this.exports.thread_attach();
      if (id < 0) {
        throw new UnsupportedEnvironmentError(
          `forkless: every one of the ${abi.SLOTS - 1} thread slots is in use; end (or detach()) threads you no longer need`,
        );
      }
      this.id = id;
    }
  }

  #checkRecord(record: ThreadRecord): number {
    const id = record?.id;
    if (!Number.isInteger(id) || this.exports.thread_state(id) !== abi.RUNNING) {
      throw new UnsupportedEnvironmentError("forkless: this process's thread is not running in the shared memory it was given");
    }
    return id;
  }

  /**
   * A reused worker (start method "reuse") runs its next process under that process's own
   * thread: the instance holds no per-thread state, so only the id changes.
   */
  adoptRecord(record: ThreadRecord): void {
    this.id = this.#checkRecord(record);
  }

  /** An Int32Array over the whole memory, renewed after the memory grew. */
  int32(): Int32Array {
    const buffer = this.memory.buffer as unknown as SharedArrayBuffer;
    if (buffer !== this.#buffer) {
      this.#buffer = buffer;
      this.#int32 = new Int32Array(buffer);
    }
    return this.#int32!;
  }

  share(): RuntimeShare {
    return isNode ? { memory: this.memory, module: this.module } : { memory: this.memory };
  }
}

// Kept on globalThis so that two copies of forkless in one thread (the ESM and the CJS
// build, say) share one runtime instead of creating two memories.
const slot = Symbol.for("forkless.runtime");
type Slot = { current?: Runtime; compiled?: WebAssembly.Module };
const state: Slot = ((globalThis as any)[slot] ??= {});

/** Diagnosis texts shared with support(): what is missing, and how to fix it. */
export const FIX = {
  isolation:
    "serve the page and its worker scripts (forkless's worker.mjs and the modules your processes import) with the headers " +
    "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp' " +
    "(from http://localhost or https; file:// pages are never isolated; in an iOS app, load the page from an in-app " +
    "loopback HTTP server that sends them, see docs/wkwebview.md)",
  webkitHidden:
    "this page is cross-origin isolated, yet the engine hides SharedArrayBuffer: WebKitGTK/WPE need the environment " +
    "variable JSC_useSharedArrayBuffer=1 in the process that starts the web view (WebKitWebDriver, MiniBrowser, your app); " +
    "Safari and WKWebView need iOS/macOS Safari 15.2 or later",
  wasm:
    "WebAssembly is not available in this engine: iOS/macOS Lockdown Mode turns it off (exclude the app or site from " +
    "Lockdown Mode), as do JIT-less engines (nodejs-mobile on iOS) and some enterprise policies",
  csp:
    "the page's Content-Security-Policy forbids WebAssembly: add 'wasm-unsafe-eval' to script-src " +
    "(e.g. \"script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'\"); 'unsafe-eval' is not needed, forkless never evals code",
};

function isCspRefusal(error: unknown): boolean {
  const text = String((error as any)?.message ?? error);
  return /content.security.policy|unsafe-eval/i.test(text);
}

/** Runs a WebAssembly step, turning a CSP refusal into an error that says what to add. */
function wasmStep<T>(what: string, step: () => T): T {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.Module !== "function") {
    throw new UnsupportedEnvironmentError(`forkless cannot ${what} its WebAssembly module: ${FIX.wasm}.`);
  }
  try {
    return step();
  } catch (error) {
    if (isCspRefusal(error)) {
      throw new UnsupportedEnvironmentError(`forkless cannot ${what} its WebAssembly module: ${FIX.csp}.`, { cause: error });
    }
    throw error;
  }
}

function compileModule(): WebAssembly.Module {
  if (!state.compiled) {
    applyEngineWorkarounds();
    state.compiled = wasmStep("compile", () => new WebAssembly.Module(decodeBase64(wasmBase64) as BufferSource));
  }
  return state.compiled;
}

/** Why forkless's module cannot be compiled and instantiated here (no WebAssembly, a CSP), with the fix; else undefined. */
export function wasmProblem(): string | undefined {
  try {
    compileModule();
    // WebKit's CSP check comes at instantiation, not compilation: try the smallest module there is.
    wasmStep("instantiate", () => new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))));
    return undefined;
  } catch (error) {
    return String((error as any)?.message ?? error);
  }
}

/** Why shared memory is unavailable here, with the fix; undefined when it is available. */
export function sharedMemoryProblem(): string | undefined {
  if (typeof SharedArrayBuffer !== "undefined") return undefined;
  const isolated = (globalThis as any).crossOriginIsolated;
  if (isolated === true) return `forkless needs SharedArrayBuffer: ${FIX.webkitHidden}.`;
  if (isolated === false) {
    return `forkless needs SharedArrayBuffer, which a page only gets when cross-origin isolated (self.crossOriginIsolated is false): ${FIX.isolation}.`;
  }
  return "forkless needs SharedArrayBuffer, which this JavaScript engine does not provide (browsers: serve the page cross-origin isolated; Node 16 or later has it).";
}

function checkSharedMemory(): void {
  const problem = sharedMemoryProblem();
  if (problem) throw new UnsupportedEnvironmentError(problem);
}

function createMemory(initial: number, maximum: number): WebAssembly.Memory {
  return wasmStep("create the shared memory for", () => {
    try {
      return new WebAssembly.Memory({ initial, maximum, shared: true } as WebAssembly.MemoryDescriptor);
    } catch (error) {
      if (error instanceof RangeError) {
        throw new UnsupportedEnvironmentError(
          `forkless could not reserve a shared memory of up to ${maximum * PAGE} bytes (${error.message}); ` +
            "mobile engines reserve the maximum up front: call configure({ maxMemoryBytes: 64 << 20 }) (or less) before creating any object",
          { cause: error },
        );
      }
      throw error;
    }
  });
}

function pagesFor(bytes: number, what: string): number {
  if (!Number.isFinite(bytes) || bytes <= 0) {
    throw new RangeError(`forkless.configure: ${what} must be a positive number of bytes; got ${String(bytes)}`);
  }
  return Math.min(MODULE_MAX_PAGES, Math.ceil(bytes / PAGE));
}

/**
 * Tools that watch a program from another thread (the test runner's watchdog) register
 * `globalThis[Symbol.for("forkless.onRuntime")] = (share) => …` to learn of the memory as
 * soon as it exists: a thread that later hangs can no longer be asked for it.
 */
function announce(rt: Runtime): void {
  const hook = (globalThis as any)[Symbol.for("forkless.onRuntime")];
  if (typeof hook === "function") {
    try {
      hook(rt.share());
    } catch {}
  }
}

/** Creates this thread's runtime with a fresh shared memory. Call before any object is made, or never. */
export function configure(options: RuntimeOptions = {}): Runtime {
  if (state.current) {
    throw new ValueError(
      "forkless.configure: the runtime of this thread already exists; call configure() before creating any forkless object",
    );
  }
  checkSharedMemory();
  const initial = pagesFor(options.initialMemoryBytes ?? 1 << 20, "initialMemoryBytes");
  const maximum = pagesFor(options.maxMemoryBytes ?? 1 << 30, "maxMemoryBytes");
  if (initial > maximum) {
    throw new RangeError("forkless.configure: initialMemoryBytes must not exceed maxMemoryBytes");
  }
  const module = compileModule();
  const memory = createMemory(initial, maximum);
  state.current = new Runtime(memory, module, maximum);
  announce(state.current);
  return state.current;
}

/** Joins the runtime another thread shared (runtime().share()). */
export function attach(share: RuntimeShare, record?: ThreadRecord): Runtime {
  const current = state.current;
  if (current) {
    if (current.memory === share?.memory) return current;
    throw new ValueError("forkless.attach: this thread is already attached to another shared memory");
  }
  checkSharedMemory();
  if (
    !share ||
    typeof WebAssembly !== "object" ||
    !(share.memory instanceof WebAssembly.Memory) ||
    (share.module !== undefined && !(share.module instanceof WebAssembly.Module))
  ) {
    throw new TypeError("forkless.attach: expected the object returned by runtime().share() in the other thread");
  }
  applyEngineWorkarounds();
  state.current = new Runtime(share.memory, share.module ?? compileModule(), 0, record);
  announce(state.current);
  return state.current;
}

/** This thread's runtime if it has one (without creating it). */
export function currentRuntime(): Runtime | undefined {
  return state.current;
}

/** Forgets this thread's runtime (after detach()): the next use creates or attaches anew. */
export function forgetRuntime(): void {
  state.current = undefined;
}

/** This thread's runtime, created with defaults on first use. */
export function runtime(): Runtime {
  return state.current ?? configure();
}

export interface MemoryStats {
  /** Blocks of the program's objects (locks, queues, values, …) alive in the shared memory. */
  blocks: number;
  /** Their bytes (block sizes, headers included). */
  bytes: number;
  /** forkless's own bookkeeping: reference tables, queue staging buffers, messages' references in flight, wait registrations. */
  internalBlocks: number;
  internalBytes: number;
  /** Where the heap begins: the bytes below hold the arena's header, thread table and page table. */
  heapStart: number;
  /** End of the pages the arena has handed out so far. */
  top: number;
  memoryBytes: number;
  maxMemoryBytes: number;
}

/** Allocator figures, for tests and diagnostics. */
export function memoryStats(): MemoryStats {
  const rt = runtime();
  const ex = rt.exports;
  return {
    blocks: ex.arena_blocks(),
    bytes: ex.arena_bytes() >>> 0,
    internalBlocks: ex.arena_internal_blocks(),
    internalBytes: ex.arena_internal_bytes() >>> 0,
    heapStart: ex.arena_heap_start() >>> 0,
    top: ex.arena_top() >>> 0,
    memoryBytes: rt.memory.buffer.byteLength,
    maxMemoryBytes: ex.arena_max_pages() * PAGE,
  };
}
