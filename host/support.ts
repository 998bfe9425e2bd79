// support(): what this host offers forkless, and for each missing piece what to change.
// It creates nothing of forkless's own runtime: it probes with a one-page shared memory of
// its own and one short-lived worker started from forkless's worker script (same origin,
// so a CSP with worker-src 'self' allows it; no blob: or data: URLs).
import { FIX, sharedMemoryProblem, wasmProblem } from "./runtime";
import { isNode, mayBlock, nodeMajor, startWorker } from "./platform";
import { workerUrl } from "./context";

export interface SupportReport {
  /** self.crossOriginIsolated; null outside browsers (Node has no such notion). */
  crossOriginIsolated: boolean | null;
  /** The SharedArrayBuffer global exists. */
  sharedArrayBuffer: boolean;
  /** A shared WebAssembly.Memory reached a worker and writes there were seen here. */
  sharedMemoryPostable: boolean;
  /** Atomics.waitAsync exists (without it, the *Async calls poll with a short backoff). */
  atomicsWaitAsync: boolean;
  /** A module worker (forkless's worker.mjs) started and answered. */
  moduleWorkers: boolean | "unknown";
  /** Workers can start workers (processes that start processes). */
  nestedWorkers: boolean | "unknown";
  /** WebAssembly exists and may be compiled and instantiated here (a CSP may forbid it). */
  webAssembly: boolean;
  /** Blocking waits are allowed on this thread (false on a browser's main thread: use the *Async calls). */
  blockingAllowed: boolean;
  /** Missing requirements, each with its fix; empty when forkless can run here. */
  problems: string[];
  /** Things that work, but differently (e.g. polling instead of Atomics.waitAsync). */
  notes: string[];
  /** navigator.userAgent, or "node vX" */
  engine: string;
}

/** What the probe worker reports back (see probeReport). */
interface ProbeAnswer {
  type: "probe";
  sharedArrayBuffer: boolean;
  crossOriginIsolated: boolean | null;
  memoryReceived: boolean;
  memoryWritten: boolean;
  nestedWorkers: boolean;
  wasmProblem?: string;
}

const PROBE_VALUE = 0x464b4c; // "FKL"

/** Runs in the probe worker (from worker-entry): checks what it received and what it can do. */
export function probeReport(data: { memory?: WebAssembly.Memory }): ProbeAnswer {
  const memory = data?.memory;
  const memoryReceived =
    typeof WebAssembly === "object" &&
    memory instanceof WebAssembly.Memory &&
    Object.prototype.toString.call(memory.buffer) === "[object SharedArrayBuffer]";
  let memoryWritten = false;
  if (memoryReceived) {
    try {
      const view = new Int32Array(memory!.buffer);
      Atomics.store(view, 0, PROBE_VALUE);
      Atomics.notify(view, 0);
      memoryWritten = true;
    } catch {}
  }
  const g = globalThis as any;
  const nestedWorkers = isNode || typeof g.Worker === "function";
  return {
    type: "probe",
    sharedArrayBuffer: typeof SharedArrayBuffer === "function",
    crossOriginIsolated: typeof g.crossOriginIsolated === "boolean" ? g.crossOriginIsolated : null,
    memoryReceived,
    memoryWritten,
    nestedWorkers,
    wasmProblem: wasmProblem(),
  };
}

function engineName(): string {
  if (isNode) return `node ${(globalThis as any).process.version}`;
  return String((globalThis as any).navigator?.userAgent ?? "unknown engine");
}

function newProbeMemory(): WebAssembly.Memory | undefined {
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true } as WebAssembly.MemoryDescriptor);
  } catch {
    return undefined;
  }
}

interface ProbeOutcome {
  answer?: ProbeAnswer;
  failure?: string;
  postError?: string;
  timedOut?: boolean;
  canStart: boolean;
}

async function runProbe(memory: WebAssembly.Memory | undefined, timeoutMs: number): Promise<ProbeOutcome> {
  const g = globalThis as any;
  if (!isNode && typeof g.Worker !== "function") return { canStart: false };
  let worker;
  try {
    worker = startWorker(workerUrl(), { probe: true, memory });
  } catch (error) {
    // startWorker turns a DataCloneError into an UnsupportedEnvironmentError; keep the engine's words.
    const cause = (error as any)?.cause ?? error;
    return { canStart: true, postError: `${cause?.name ?? "Error"}: ${cause?.message ?? String(cause)}` };
  }
  return new Promise<ProbeOutcome>((resolve) => {
    let settled = false;
    const done = (outcome: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      worker.terminate();
      resolve(outcome);
    };
    const timer = setTimeout(() => done({ canStart: true, timedOut: true }), timeoutMs);
    worker.onMessage((message) => {
      if (message?.type === "probe") done({ canStart: true, answer: message });
      else if (message?.type === "failure") done({ canStart: true, failure: `${message.failure?.name}: ${message.failure?.message}` });
    });
    worker.onExit((code) => done({ canStart: true, failure: `the probe worker exited with code ${code} before answering` }));
  });
}

/**
 * Reports what this host offers forkless: `console.log(await support())`.
 * `problems` lists each missing requirement with its fix; empty means forkless can run here.
 */
export async function support(options: { timeout?: number } = {}): Promise<SupportReport> {
  const g = globalThis as any;
  const problems: string[] = [];
  const notes: string[] = [];
  const crossOriginIsolated = typeof g.crossOriginIsolated === "boolean" ? (g.crossOriginIsolated as boolean) : null;
  const sharedArrayBuffer = typeof SharedArrayBuffer === "function";
  const atomicsWaitAsync = typeof (Atomics as any).waitAsync === "function";
  const hasWasm = typeof WebAssembly === "object" && typeof WebAssembly.Module === "function";

  const sabProblem = sharedMemoryProblem();
  if (sabProblem) problems.push(sabProblem);
  if (crossOriginIsolated === false && sharedArrayBuffer) {
    notes.push(
      "SharedArrayBuffer is available although the page is not cross-origin isolated (an engine override such as " +
        "JSC_useSharedArrayBuffer=1, or a browser flag): real users' browsers will need the COOP/COEP headers",
    );
  }
  const wasm = wasmProblem();
  if (wasm) problems.push(wasm);
  if (!atomicsWaitAsync) {
    notes.push(
      "Atomics.waitAsync is missing (Safari/iOS before 16.4, Firefox): the *Async calls poll shared memory with a backoff " +
        "capped at 4 ms instead of sleeping until notified; everything works, with a little latency and CPU",
    );
  }

  // Tried even when the SharedArrayBuffer global is hidden: WebKit then still makes a shared
  // Memory but refuses to post it (DataCloneError), and the report should say so.
  const memory = hasWasm ? newProbeMemory() : undefined;
  const probe = await runProbe(memory, options.timeout ?? 5000);
  // Posting the memory failed: probe again without it, to learn about workers all the same.
  const second = probe.postError ? await runProbe(undefined, options.timeout ?? 5000) : undefined;
  const isolationFix = crossOriginIsolated === true ? "" : `; and ${FIX.isolation}`;

  let moduleWorkers: boolean | "unknown" = "unknown";
  let nestedWorkers: boolean | "unknown" = "unknown";
  let sharedMemoryPostable = false;
  if (!probe.canStart) {
    moduleWorkers = false;
    problems.push("this thread has no Worker constructor, so it cannot start processes; start them from the page (or a worker of an engine with nested workers: Safari/iOS 15.5 or later)");
  } else if (probe.answer) {
    const answer = probe.answer;
    moduleWorkers = true;
    nestedWorkers = answer.nestedWorkers;
    sharedMemoryPostable = !!memory && answer.memoryReceived && answer.memoryWritten && Atomics.load(new Int32Array(memory.buffer), 0) === PROBE_VALUE;
    if (memory && !sharedMemoryPostable) {
      problems.push(
        "a shared WebAssembly.Memory posted to a worker did not arrive as shared memory there: WebKit: JSC_useSharedArrayBuffer=1; " +
          `Safari/iOS 15.2 or later${isolationFix}`,
      );
    }
    if (!sabProblem && !answer.sharedArrayBuffer) {
      problems.push(`forkless's worker script has no SharedArrayBuffer although this page has it: ${FIX.isolation}`);
    }
    if (!wasm && answer.wasmProblem) {
      problems.push(`in forkless's worker script: ${answer.wasmProblem} (the CSP that applies to a worker is the one sent with its script)`);
    }
    if (!answer.nestedWorkers) {
      notes.push("workers cannot start workers here (Safari/iOS before 15.5): processes cannot start processes; start every process from the page");
    }
  } else if (probe.postError) {
    if (sabProblem) {
      // A consequence of the problem above, which names the fix.
      notes.push(`posting a shared WebAssembly.Memory to a worker fails here too (${probe.postError}); the fix above cures it as well`);
    } else {
      problems.push(
        `posting a shared WebAssembly.Memory to a worker failed (${probe.postError}), although SharedArrayBuffer exists: ` +
          `WebKit refuses this while it hides SharedArrayBuffer (WebKitGTK/WPE: JSC_useSharedArrayBuffer=1; Safari/iOS: 15.2 or later)${isolationFix}`,
      );
    }
    if (second?.answer) {
      moduleWorkers = true;
      nestedWorkers = second.answer.nestedWorkers;
    }
  } else if (probe.failure) {
    // A script that failed to load says nothing either way about module workers: "unknown".
    const loadFailure = /WorkerLoadError/.test(probe.failure);
    problems.push(
      loadFailure
        ? `${probe.failure.replace(/^WorkerLoadError: /, "")} (module workers need Safari/iOS 15 or later)`
        : `the probe worker failed: ${probe.failure}`,
    );
  } else if (probe.timedOut) {
    problems.push(
      `forkless's worker (${workerUrl().href}) did not answer within ${options.timeout ?? 5000} ms: check that the script is served ` +
        "with the page's COOP/COEP headers and allowed by the CSP (worker-src 'self'), and that module workers are supported (Safari/iOS 15+)",
    );
  }
  if (isNode && nodeMajor > 0 && nodeMajor < 16) problems.push("Node 16 or later is needed (20 or later is supported)");

  return {
    crossOriginIsolated,
    sharedArrayBuffer,
    sharedMemoryPostable,
    atomicsWaitAsync,
    moduleWorkers,
    nestedWorkers,
    webAssembly: !wasm,
    blockingAllowed: mayBlock(),
    problems,
    notes,
    engine: engineName(),
  };
}
