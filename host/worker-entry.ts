// The first code a child process runs: join the shared memory, import the user's module,
// find the target or Process subclass by its export name, rebuild the arguments or
// fields, run, and report the exit — in shared memory first, so a parent blocked in
// join() sees it without its event loop. Under the start method "reuse" a process that
// ended cleanly hands the worker back for the next one instead of exiting.
import "./index"; // registers every kind of shared object, so any handle can be revived
import { attach, runtime } from "./runtime";
import { decodeTransferred } from "./serialize";
import { adoptFrom, closeAllObjects, openObjectCount } from "./handles";
import {
  childProcessObject,
  installChildProcess,
  ParentProcess,
  pendingChildren,
  processState,
  setImporting,
  type BootMessage,
  type ProcessFailure,
} from "./process";
import { ExitSignal, workerSide } from "./platform";
import { probeReport } from "./support";
import { deliverNotice, inheritStartMethod, installLink } from "./context";
import { isNotice } from "./protocol";
import { runSupervisor } from "./supervisor";

const side = workerSide();

function describeFailure(error: unknown, depth = 0): ProcessFailure {
  if (error instanceof Error) {
    const failure: ProcessFailure = { name: error.name, message: error.message, stack: error.stack };
    if (error.cause !== undefined && depth < 8) failure.cause = describeFailure(error.cause, depth + 1);
    return failure;
  }
  return { name: "Error", message: `uncaught value: ${String(error)}` };
}

let finished = false;
/** The current process's record: tags our messages, so a reused worker's late ones reach no other process. */
let currentRecord = 0;
/** Importing a module left forkless objects open: the next process could not use them, so never reuse. */
let importOpenedObjects = false;

function finish(code: number): never {
  if (!finished) {
    finished = true;
    try {
      // Drop this process's references (a pipe end closed here is what gives its reader EOF),
      // then publish the exit for a parent that may be blocked in join().
      closeAllObjects();
    } catch {}
    try {
      runtime().exports.thread_exit(runtime().id, code);
    } catch {}
  }
  return side.exit(code);
}

function fail(error: unknown): never {
  if (error instanceof ExitSignal) return finish(error.code);
  side.post({ type: "failure", record: currentRecord, failure: describeFailure(error) });
  return finish(1);
}

/** Runs one process; resolves true when it ended cleanly and the worker may take another. */
async function boot(share: any, message: BootMessage): Promise<boolean> {
  const rt = attach(share, message.record);
  if (rt.id !== message.record.id) rt.adoptRecord(message.record);
  finished = false;
  currentRecord = message.record.id;
  const parent = new ParentProcess(message.parent.pid, message.parent.name);
  const here = installChildProcess(
    childProcessObject(null, { ...message, mode: "target" }, { args: [] }),
    parent,
    (code) => finish(code),
  );

  inheritStartMethod(message.startMethod);
  setImporting(message.moduleUrl);
  let module: any;
  const openBefore = openObjectCount();
  try {
    module = await import(/* @vite-ignore */ message.moduleUrl);
  } catch (error) {
    // WebKit's "Importing a module script failed." does not say which module.
    if (error instanceof Error && !error.message.includes(message.moduleUrl)) {
      error.message = `could not import ${message.moduleUrl} (to find ${message.exportName}): ${error.message}`;
    }
    throw error;
  } finally {
    setImporting(undefined);
  }
  if (openObjectCount() !== openBefore) importOpenedObjects = true;
  // Decode after the import, so subclasses the module registers (registerClass) revive as themselves.
  // The objects in the arguments take over the references the parent gave our slot.
  const transit = rt.exports.thread_boot_take(rt.id);
  const decoded = (
    transit === 0
      ? decodeTransferred(message.payload)
      : adoptFrom(rt, transit, rt.exports.thread_last_index(rt.id), () => decodeTransferred(message.payload))
  ) as any;
  side.post({ type: "started", record: currentRecord });
  const exported = module[message.exportName] ?? module.default?.[message.exportName];
  if (typeof exported !== "function") {
    throw new TypeError(
      `${message.moduleUrl} does not export ${message.exportName}: add \`export\` to the ` +
        `${message.mode === "target" ? "function" : "class"} ${message.exportName} (the child finds it by its exported name)`,
    );
  }
  const process = childProcessObject(exported, message, decoded);
  here.process = process;
  try {
    await process.run();
  } catch (error) {
    // Python's _bootstrap ends its children in a `finally`: a failed run() waits for them too.
    if (!(error instanceof ExitSignal)) await endChildren();
    throw error;
  }
  await endChildren();
  // A process that started children is not reused: their records name this one as parent.
  return message.reuse === true && !importOpenedObjects && here.childCounter === 0;
}

/** Kinds that never run user code: our message ports come and go; a CloseReq is a handle being closed (the module loader's files). */
const HARMLESS_RESOURCES = new Set(["MessagePort", "CloseReq"]);

/** Node's count of handles that keep a thread busy, by kind. */
function activeResources(): Map<string, number> | undefined {
  const info = (globalThis as any).process?.getActiveResourcesInfo?.();
  if (!Array.isArray(info)) return undefined;
  const counts = new Map<string, number>();
  for (const kind of info) if (!HARMLESS_RESOURCES.has(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/**
 * Ends the current process without ending the worker, if it left nothing behind that could
 * run during the next process (a timer, a socket, a file operation). Returns false when it did.
 */
function recycle(idle: Map<string, number> | undefined, message: BootMessage): boolean {
  closeAllObjects();
  const now = activeResources();
  if (!idle || !now) return false;
  for (const [kind, count] of now) if (count > (idle.get(kind) ?? 0)) return false;
  const flag = message.recycled;
  if (!(flag instanceof Int32Array)) return false;
  finished = true;
  runtime().exports.thread_exit(runtime().id, 0);
  // From here the parent may free our record and hand this worker on: never touch it again.
  Atomics.add(flag, 0, 1);
  side.post({ type: "recycled", record: currentRecord });
  return true;
}

/** Like Python: wait for non-daemonic children; daemonic ones end with us. */
async function endChildren(): Promise<void> {
  for (const child of pendingChildren()) {
    if (processState(child).daemon) child.terminate();
  }
  for (const child of pendingChildren()) {
    if (!processState(child).daemon) await child.joinAsync();
  }
}

async function main(): Promise<void> {
  const data = await side.data;
  if (data?.probe) {
    // support() asked what this worker received and can do; it is not a process.
    side.post(probeReport(data));
    return side.exit(0);
  }
  if (data?.supervisor) {
    // The supervisor of a root thread: it never runs user code, and never ends on its own.
    runSupervisor(attach(data.share), data.supervisor.root, data.supervisor.poolSize ?? 2, side);
    return;
  }
  const boots: BootMessage[] = [];
  let bootArrived: (() => void) | undefined;
  // This worker's supervisor started it: its port is where this process asks for children.
  installLink({ post: (request) => side.post(request), setKeepAlive: () => {} });
  side.onMessage((m) => {
    if (isNotice(m)) return deliverNotice(m);
    if (m?.type !== "boot") return;
    boots.push(m);
    bootArrived?.();
  });
  const nextBoot = async (): Promise<BootMessage> => {
    while (boots.length === 0) await new Promise<void>((resolve) => (bootArrived = resolve));
    bootArrived = undefined;
    return boots.shift()!;
  };
  let message: BootMessage = data.boot ?? (await nextBoot());
  const idle = activeResources();
  const g = globalThis as any;
  if (g.process?.on) {
    g.process.on("uncaughtException", fail);
    g.process.on("unhandledRejection", fail);
  } else if (typeof g.addEventListener === "function") {
    // Web Workers: what Node's handlers do above, so a stray rejection ends the process with 1.
    g.addEventListener("unhandledrejection", (event: any) => {
      event.preventDefault?.();
      fail(event.reason);
    });
    g.addEventListener("error", (event: any) => {
      if (event.error instanceof ExitSignal) return;
      event.preventDefault?.();
      fail(event.error ?? new Error(event.message));
    });
  }
  for (;;) {
    let reusable = false;
    try {
      reusable = await boot(data.share, message);
    } catch (error) {
      fail(error);
    }
    // Let a rejection the process left floating be reported now, as this process's failure,
    // not later as the next one's.
    if (reusable) await new Promise<void>((resolve) => setTimeout(resolve, 0));
    if (!reusable || !recycle(idle, message)) finish(0);
    message = await nextBoot();
  }
}

main();
