// The test runner's watchdog, preloaded into every test file's process by scripts/test-host.mjs
// (node --import ./scripts/watchdog.mjs --test <file>). A file whose main thread is stuck in Wasm
// or in Atomics.wait never returns to its event loop, so nothing on that thread can report
// anything; this preload starts one more thread that, at FORKLESS_WATCHDOG_MS after the process
// started (the runner sets it a little before it kills the file, and FORKLESS_WATCHDOG_SINCE to
// when it spawned the file, so that both count from the same instant), writes what the process is
// doing to FORKLESS_WATCHDOG_FILE (one line on stderr says so; without the variable the whole
// dump goes to stderr):
//   - the main thread's CPU over the last seconds (spinning or waiting?), and the other threads';
//   - the main thread's JS stack, and every worker thread's (a forkless process is one);
//   - forkless's shared state: dumpState(share)/formatState() of dist/forkless.mjs, which read
//     the shared memory without attaching to it or allocating in it;
//   - what keeps the main thread's event loop alive, and the process's memory.
// Without FORKLESS_WATCHDOG_MS the preload does nothing.
//
// Stacks: the watchdog thread connects to the main thread's inspector
// (inspector.Session.connectToMainThread()) and sends Debugger.pause. Node delivers inspector
// messages with an isolate interrupt, which V8 takes at loop back-edges in JS and in Wasm and
// while it waits in Atomics.wait or memory.atomic.wait (the futex wait wakes for interrupts), so
// the pause lands exactly where the main thread is stuck — checked on Node 20, 22 and 24 for a JS
// busy loop, Atomics.wait, a Wasm loop and memory.atomic.wait32. While the main thread is paused
// its inspector still answers, which also reaches the worker threads (NodeWorker domain).
// A thread that is idle in its event loop runs no JS to pause in, and one blocked in a native call
// (spawnSync, a synchronous fs call) takes no interrupt: the dump says so after PAUSE_WAIT_MS.
// (Diagnostic reports cannot: --report-on-signal listens for its signal with process.on() on the
// main thread's event loop, which a hang never reaches, and process.report.getReport() called on
// the watchdog thread reports that thread's JS stack, not the main thread's — checked, Node 20/24.)
import { Worker, isMainThread, parentPort, threadId, workerData } from "node:worker_threads";
import { appendFileSync, readFileSync, readdirSync, writeSync } from "node:fs";

const TAG = "forkless.watchdog";
const NAME = "forkless-watchdog";
const CPU_WINDOW_MS = 2_000; // the main thread's CPU is measured over this much time before the dump
const PAUSE_WAIT_MS = 1_000; // a thread that has not paused by then runs no JS (idle or in native code)
const CALL_WAIT_MS = 1_500; // any other inspector answer
const MAX_FRAMES = 14;
const MAX_THREADS = 32; // worker threads whose stacks are taken (nested ones included)

// The test runner's parent process (node --test without NODE_TEST_CONTEXT) only runs the file
// in a child process; the watchdog belongs in that child. (Node does not load --import into the
// parent today; this keeps it so if one version does.)
const isTestParent = !process.env.NODE_TEST_CONTEXT && process.execArgv.some((a) => a === "--test" || a.startsWith("--test="));

if (isMainThread) {
  if (process.env.FORKLESS_WATCHDOG_MS && !isTestParent) arm(process.env.FORKLESS_WATCHDOG_MS);
} else if (workerData?.[TAG]) {
  watch(workerData);
}

// ---------------------------------------------------------------- main thread: start the watchdog

function arm(text) {
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms < 0) {
    writeSync(2, `forkless watchdog: FORKLESS_WATCHDOG_MS=${text} is not a number of milliseconds (≥ 0); no watchdog\n`);
    return;
  }
  const worker = new Worker(new URL(import.meta.url), {
    name: NAME,
    workerData: { [TAG]: true, startedAt: since(), ms, file: process.env.FORKLESS_WATCHDOG_FILE, what: process.argv[1] },
  });
  worker.unref(); // never keeps a test alive
  worker.on("error", (error) => writeSync(2, `forkless watchdog: the watchdog thread failed: ${error?.stack ?? error}\n`));
  let announced = false;
  // host/runtime.ts calls this once a thread's runtime exists; only this (the main) thread's
  // global has it, so the first call is the main thread's runtime.
  Object.defineProperty(globalThis, Symbol.for("forkless.onRuntime"), {
    configurable: true,
    writable: true,
    value(share) {
      if (announced) return;
      announced = true;
      try {
        worker.postMessage({ share });
      } catch (error) {
        worker.postMessage({ shareError: String(error) });
      }
    },
  });
}

/** When the clock started: FORKLESS_WATCHDOG_SINCE (the runner's spawn, epoch ms), else this process's start. */
function since() {
  const at = Number(process.env.FORKLESS_WATCHDOG_SINCE);
  return Number.isFinite(at) && at > 0 ? at : performance.timeOrigin;
}

// ---------------------------------------------------------------- watchdog thread

// Writes go to fd 2 with writeSync: a worker's console goes through the main thread, the one
// that may be stuck.
function watch({ startedAt, ms, file, what }) {
  const seen = {};
  parentPort.on("message", (message) => Object.assign(seen, message)); // also keeps this thread alive until the dump
  const deadline = startedAt + ms;
  let before;
  setTimeout(() => (before = sampleCpu()), Math.max(0, deadline - CPU_WINDOW_MS - Date.now()));
  setTimeout(async () => {
    const report = new Report(file);
    const began = Date.now();
    try {
      await dump(report, { startedAt, ms, what, seen, before });
    } catch (error) {
      report.add(`(the watchdog failed while writing this: ${error?.stack ?? error})`);
    }
    report.add(`==== end of forkless watchdog dump (taken in ${((Date.now() - began) / 1000).toFixed(1)} s) ====`);
    report.finish();
    process.exit(0); // this thread only; the rest goes on (or is killed) as it would
  }, Math.max(0, deadline - Date.now()));
}

/** Sections go out as soon as each is ready: a kill in the middle keeps the ones before it. */
class Report {
  constructor(file) {
    this.file = file;
    this.lines = [];
  }
  add(...lines) {
    const text = lines.join("\n") + "\n";
    this.lines.push(text);
    if (this.file) {
      try {
        appendFileSync(this.file, text);
        return;
      } catch (error) {
        writeSync(2, `forkless watchdog: cannot write ${this.file} (${error.message}); the dump goes to stderr\n`);
        this.file = undefined;
        for (const earlier of this.lines.slice(0, -1)) writeSync(2, earlier);
      }
    }
    writeSync(2, text);
  }
  finish() {
    if (this.file) writeSync(2, `forkless watchdog: pid ${process.pid} was still running at its deadline; its dump is in ${this.file}\n`);
  }
}

async function dump(report, { startedAt, ms, what, seen, before }) {
  const elapsed = (Date.now() - startedAt) / 1000;
  report.add(
    `==== forkless watchdog: ${what ?? "?"} (pid ${process.pid}, Node ${process.version}) still running ${elapsed.toFixed(1)} s after it started (FORKLESS_WATCHDOG_MS=${ms}) ====`,
    describeCpu(before, sampleCpu()),
  );

  const inspector = await Inspector.open();
  const main = inspector ? await inspector.root.capture() : undefined;
  report.add(...describeThread("main thread", main, inspector ? undefined : "the inspector is not available in this Node"));

  report.add(...(await forklessState(seen)));

  if (inspector) {
    const threads = await inspector.workers(inspector.root, 0, workerSkipped);
    if (threads.length) report.add(`worker threads (${threads.length}; a forkless process is one):`, ...threads.flatMap(([label, t]) => describeThread(label, t).map((l) => `  ${l}`)));
    else report.add("worker threads: none");
  }

  report.add(...(await mainLoop(inspector, main)));
  inspector?.close();
}

function workerSkipped(info) {
  return info.url === import.meta.url || info.title?.includes(`[worker ${threadId}]`) || info.title?.includes(NAME);
}

// ---------------------------------------------------------------- CPU (Linux /proc)

/** utime+stime in clock ticks of every thread of this process; undefined where there is no /proc. */
function sampleCpu() {
  try {
    const threads = new Map();
    for (const tid of readdirSync("/proc/self/task")) {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields[0] is field 3 (state)
        threads.set(Number(tid), Number(fields[11]) + Number(fields[12]));
      } catch {}
    }
    return { at: Date.now(), threads };
  } catch {
    return undefined;
  }
}

function describeCpu(before, after) {
  if (!before || !after) return "CPU: not measured (no /proc on this system)";
  const seconds = (after.at - before.at) / 1000;
  if (seconds < 0.2) return "CPU: not measured (the watchdog deadline came too early for a sample)";
  const TICK = 100; // USER_HZ: 100 on every Linux Node runs on
  const share = (tid) => ((after.threads.get(tid) ?? 0) - (before.threads.get(tid) ?? 0)) / TICK / seconds;
  const mainShare = share(process.pid); // the main thread's tid is the pid
  let others = 0;
  let busy = 0;
  for (const tid of after.threads.keys()) {
    if (tid === process.pid) continue;
    others += share(tid);
    if (share(tid) > 0.2) busy++;
  }
  const verdict = mainShare > 0.8 ? "spinning: running code, not waiting" : mainShare < 0.05 ? "waiting or idle, not spinning" : "partly busy";
  return (
    `CPU over the last ${seconds.toFixed(1)} s: main thread ${pct(mainShare)} (${verdict}); ` +
    `the ${after.threads.size - 1} other threads ${pct(others)} together` +
    (busy ? `, ${busy} of them above 20%` : "")
  );
}

const pct = (x) => `${Math.round(x * 100)}%`;

// ---------------------------------------------------------------- forkless state

async function forklessState(seen) {
  if (seen.shareError) return [`forkless state: the main thread's runtime could not be sent to the watchdog: ${seen.shareError}`];
  if (!seen.share) return ["forkless state: no forkless runtime was created on the main thread"];
  const memory = seen.share.memory;
  const size = `shared memory ${mib(memory.buffer.byteLength)}`;
  let mod;
  try {
    mod = await import(new URL("../dist/forkless.mjs", import.meta.url));
  } catch (error) {
    return [`forkless state (${size}): cannot load dist/forkless.mjs: ${error.message}`];
  }
  if (typeof mod.dumpState !== "function") {
    return [`forkless state (${size}): this build of dist/forkless.mjs has no dumpState(), so the locks, queues and processes in it cannot be listed`];
  }
  try {
    const state = mod.dumpState(seen.share);
    const text = typeof mod.formatState === "function" ? mod.formatState(state) : JSON.stringify(state, null, 2);
    return [`forkless state (${size}):`, ...String(text).trimEnd().split("\n").map((l) => `  ${l}`)];
  } catch (error) {
    return [`forkless state (${size}): dumpState() failed: ${error?.stack ?? error}`];
  }
}

const mib = (bytes) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 0)} MiB`;

// ---------------------------------------------------------------- the main thread's event loop and memory

async function mainLoop(inspector, capture) {
  const own = process.memoryUsage(); // rss is the process's; the heap figures are this thread's
  let main;
  if (inspector) {
    // Runs on the main thread: while it is paused in the debugger, or between two turns of its loop.
    const expression = "JSON.stringify({ resources: process.getActiveResourcesInfo(), memory: process.memoryUsage() })";
    const answer = await inspector.root.call("Runtime.evaluate", { expression, returnByValue: true }).catch(() => undefined);
    if (typeof answer?.result?.value === "string") main = JSON.parse(answer.result.value);
  }
  const lines = [];
  if (main) {
    const counts = new Map();
    for (const r of main.resources) counts.set(r, (counts.get(r) ?? 0) + 1);
    const list = [...counts].map(([r, n]) => (n > 1 ? `${r} ×${n}` : r)).join(", ");
    // It answered without having paused: it runs no JS and is not stuck in native code.
    const idle = idleCapture(capture) ? "is idle (it answers between two turns) and " : "";
    lines.push(`main thread's event loop ${idle}is kept alive by: ${list || "nothing"}`);
  } else if (inspector) {
    lines.push("main thread's event loop: no answer (the main thread takes no interrupts: blocked in a native call)");
  }
  const m = main?.memory ?? own;
  lines.push(`memory: rss ${mib(own.rss)}; ${main ? "main thread" : "watchdog thread"} heap ${mib(m.heapUsed)} of ${mib(m.heapTotal)}; external ${mib(m.external)}; array buffers ${mib(m.arrayBuffers)}`);
  return lines;
}

// ---------------------------------------------------------------- stacks through the inspector

const isInternal = (capture, frame) => {
  const url = capture.scripts.get(frame.location.scriptId) ?? frame.url ?? "";
  return url === "" || url.startsWith("node:");
};

/** Paused only in Node's own code (a pipe's or a timer's callback between two turns): as good as idle. */
const idleCapture = (capture) => capture && (!capture.frames || capture.frames.every((f) => isInternal(capture, f)));

function describeThread(label, capture, why) {
  if (!capture) return [`${label}: no stack (${why ?? "no answer from its inspector"})`];
  if (capture.frames && idleCapture(capture)) {
    return [`${label}: not running JavaScript of its own (caught in Node's own code only, ${capture.frames.length} frames: idle in its event loop)`];
  }
  if (!capture.frames) {
    return [`${label}: not running JavaScript ${PAUSE_WAIT_MS / 1000} s after Debugger.pause (idle in its event loop, or blocked in a native call)`];
  }
  const lines = [`${label} stack:`];
  let internal = 0;
  const flush = () => {
    if (internal) lines.push(`    … ${internal} frame${internal > 1 ? "s" : ""} of Node itself`);
    internal = 0;
  };
  for (const frame of capture.frames.slice(0, MAX_FRAMES)) {
    if (isInternal(capture, frame)) {
      internal++;
      continue;
    }
    const url = capture.scripts.get(frame.location.scriptId) ?? frame.url ?? "";
    flush();
    const where = url.startsWith("wasm://")
      ? `${url}:0x${frame.location.columnNumber.toString(16)}`
      : `${url}:${frame.location.lineNumber + 1}:${(frame.location.columnNumber ?? 0) + 1}`;
    lines.push(`    at ${frame.functionName || "<anonymous>"} (${where})`);
  }
  flush();
  if (capture.frames.length > MAX_FRAMES) lines.push(`    … ${capture.frames.length - MAX_FRAMES} more frames`);
  return lines;
}

/** One inspector endpoint: the main thread (through the session) or a worker (through its parent). */
class Target {
  constructor(send) {
    this.send = send; // (id, method, params) => void
    this.nextId = 1;
    this.pending = new Map();
    this.listeners = new Set();
    this.scripts = new Map();
  }
  call(method, params = {}, ms = CALL_WAIT_MS) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${method}: no answer in ${ms} ms`));
      }, ms);
      this.pending.set(id, (error, result) => {
        clearTimeout(timer);
        error ? reject(error) : resolve(result);
      });
      this.send(id, method, params);
    });
  }
  answer(id, error, result) {
    const done = this.pending.get(id);
    this.pending.delete(id);
    done?.(error ? new Error(error.message ?? String(error)) : undefined, result);
  }
  event(method, params) {
    if (method === "Debugger.scriptParsed") this.scripts.set(params.scriptId, params.url);
    for (const listener of this.listeners) listener(method, params);
  }
  next(method, ms) {
    return new Promise((resolve) => {
      const listener = (m, params) => {
        if (m !== method) return;
        this.listeners.delete(listener);
        clearTimeout(timer);
        resolve(params);
      };
      const timer = setTimeout(() => {
        this.listeners.delete(listener);
        resolve(undefined);
      }, ms);
      this.listeners.add(listener);
    });
  }
  /** Pauses the thread where it is; { frames } (undefined if it ran no JS in time) and the script URLs. */
  async capture() {
    try {
      await this.call("Debugger.enable"); // its scriptParsed events (every script's URL) come first
      const paused = this.next("Debugger.paused", PAUSE_WAIT_MS);
      await this.call("Debugger.pause");
      const params = await paused;
      // A pause still pending would stop the next JS this thread runs, the watchdog's own
      // Runtime.evaluate included; disabling the debugger drops it.
      if (!params) await this.call("Debugger.disable").catch(() => {});
      return { frames: params?.callFrames, scripts: this.scripts };
    } catch {
      return undefined;
    }
  }
  /** A worker of this thread, reached through NodeWorker messages on this target. */
  child(sessionId) {
    const child = new Target((id, method, params) => {
      this.call("NodeWorker.sendMessageToWorker", { sessionId, message: JSON.stringify({ id, method, params }) }).catch(() => {});
    });
    const route = (method, params) => {
      if (method !== "NodeWorker.receivedMessageFromWorker" || params.sessionId !== sessionId) return;
      const message = JSON.parse(params.message);
      if (message.id !== undefined) child.answer(message.id, message.error, message.result);
      else child.event(message.method, message.params);
    };
    this.listeners.add(route);
    return child;
  }
}

class Inspector {
  static async open() {
    let inspector;
    try {
      inspector = await import("node:inspector");
    } catch {
      return undefined;
    }
    const session = new inspector.Session();
    try {
      session.connectToMainThread();
    } catch {
      return undefined;
    }
    return new Inspector(session);
  }
  constructor(session) {
    this.session = session;
    this.root = new Target((id, method, params) => session.post(method, params, (error, result) => this.root.answer(id, error, result)));
    session.on("inspectorNotification", ({ method, params }) => this.root.event(method, params));
    this.count = 0;
  }
  /** [label, capture] for every worker thread under `target`, nested ones too; taken in parallel. */
  async workers(target, depth, skip) {
    const attached = [];
    const listener = (method, params) => {
      if (method === "NodeWorker.attachedToWorker") attached.push(params);
    };
    target.listeners.add(listener);
    try {
      // Node sends attachedToWorker for the workers that exist before it answers enable.
      await target.call("NodeWorker.enable", { waitForDebuggerOnStart: false });
    } catch {
      return [];
    } finally {
      target.listeners.delete(listener);
    }
    const mine = attached.filter(({ workerInfo }) => !skip(workerInfo)).slice(0, Math.max(0, MAX_THREADS - this.count));
    this.count += mine.length;
    const results = await Promise.all(
      mine.map(async ({ sessionId, workerInfo }) => {
        const child = target.child(sessionId);
        const label = `${"  ".repeat(depth)}${workerInfo.title || `worker ${workerInfo.workerId}`}${workerInfo.url ? ` ${workerInfo.url}` : ""}`;
        const captured = await child.capture();
        const nested = depth < 3 ? await this.workers(child, depth + 1, skip) : [];
        return [[label, captured], ...nested];
      }),
    );
    return results.flat();
  }
  close() {
    // Disconnecting resumes every thread this session paused: a program nobody kills goes on.
    try {
      this.session.disconnect();
    } catch {}
  }
}
