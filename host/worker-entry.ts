// The first code a child process runs: join the shared memory, import the user's module,
// find the target or Process subclass by its export name, rebuild the arguments or
// fields, run, and report the exit — in shared memory first, so a parent blocked in
// join() sees it without its event loop.
import "./index"; // registers every kind of shared object, so any handle can be revived
import { attach, runtime } from "./runtime";
import { decodeTransferred } from "./serialize";
import { closeAllObjects } from "./handles";
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
  side.post({ type: "failure", failure: describeFailure(error) });
  return finish(1);
}

async function boot(share: any, message: BootMessage): Promise<void> {
  attach(share, message.record);
  const parent = new ParentProcess(message.parent.pid, message.parent.name);
  const here = installChildProcess(
    childProcessObject(null, { ...message, mode: "target" }, { args: [] }),
    parent,
    (code) => finish(code),
  );

  setImporting(message.moduleUrl);
  let module: any;
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
  // Decode after the import, so subclasses the module registers (registerClass) revive as themselves.
  const decoded = decodeTransferred(message.payload) as any;
  side.post({ type: "started" });
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
  const message: BootMessage = data.boot ?? (await new Promise((resolve) => side.onMessage((m) => m?.type === "boot" && resolve(m))));
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
  try {
    await boot(data.share, message);
  } catch (error) {
    fail(error);
  }
  finish(0);
}

main();
