// Process with real workers: target/args/kwargs, every exit-code path, failures on stderr,
// join timeouts, module functions and start methods, nested and daemonic processes, bad
// input, and wait()/waitAsync(). The children's code lives in fixtures/targets.mjs.
import { test as nodeTest, afterEach } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import {
  Process,
  Lock,
  Event,
  ValueError,
  ProcessError,
  currentProcess,
  parentProcess,
  activeChildren,
  isMainProcess,
  cpuCount,
  wait,
  waitAsync,
  exit,
  getContext,
  getStartMethod,
  setStartMethod,
  getAllStartMethods,
  setWarmPoolSize,
  memoryStats,
} from "../../dist/forkless.mjs";
import {
  returnsNothing,
  resolvesLater,
  throwsWithCause,
  rejectsLater,
  throwsValue,
  exitsDeep,
  exitsInsideTry,
  waitsOnEvent,
  loopsForever,
  spinsForever,
  echoArgs,
  reportsIdentity,
  startsGrandchild,
  daemonTriesToStart,
  daemonStartsUncaught,
  startsDaemonCounter,
  startsSlowChild,
  startsSlowChildThenThrows,
  joinsItself,
} from "./fixtures/targets.mjs";
import { ints, floats, mailbox, readJson, until, wallNow } from "./fixtures/shared.mjs";


/** Every test gets a time limit, so an asynchronous hang fails the test instead of stalling the run. */
function test(name, options, fn) {
  return typeof options === "function" ? nodeTest(name, { timeout: 120_000 }, options) : nodeTest(name, { timeout: 120_000, ...options }, fn);
}

const TARGETS = new URL("./fixtures/targets.mjs", import.meta.url);

function proc(target, args = [], options = {}) {
  return new Process({ target, args, module: TARGETS, ...options });
}

/** Blocking join with a limit, so a hung child fails the test instead of hanging it. */
function joined(p, ms = 15_000) {
  p.join(ms);
  assert.notEqual(p.exitCode, null, `${p.name} was still running after ${ms} ms`);
  return p.exitCode;
}

async function joinedAsync(p, ms = 15_000) {
  await p.joinAsync(ms);
  assert.notEqual(p.exitCode, null, `${p.name} was still running after ${ms} ms`);
  return p.exitCode;
}

/** Runs fn with console.error captured (children's failures are printed there); returns the text. */
async function capturingStderr(fn) {
  const original = console.error;
  const lines = [];
  console.error = (...parts) => lines.push(parts.join(" "));
  try {
    await fn();
  } finally {
    console.error = original;
  }
  return lines.join("\n");
}

// A failed test must not leave children that keep this file's process alive.
afterEach(async () => {
  const left = activeChildren();
  for (const child of left) child.terminate();
  await Promise.all(left.map((child) => child.joinAsync(5_000)));
});

// ---------------------------------------------------------------- target, args, kwargs

test("target gets args then kwargs; forkless objects arrive live, plain data arrives as data", async () => {
  const lock = new Lock();
  const box = mailbox();
  lock.acquire();
  const p = proc(echoArgs, [box, lock, 42, { list: [1, 2, 3], map: new Map([["k", 1]]).size }], { kwargs: { a: 1, b: "two" } });
  p.start();
  assert.equal(await joinedAsync(p), 0);
  assert.deepEqual(readJson(box), {
    n: 42,
    nested: { list: [1, 2, 3], map: 1 },
    kwargs: { a: 1, b: "two" },
    lockIsLock: true,
    lockLocked: true, // the same shared lock, which the parent holds
    argCount: 5,
  });
  lock.release();
  lock.close();
});

// ---------------------------------------------------------------- exit codes

test("exit codes: run() returning → 0, an async run() that resolves → 0", async () => {
  const plain = proc(returnsNothing);
  assert.equal(plain.exitCode, null);
  plain.start();
  assert.equal(joined(plain), 0);
  assert.equal(plain.failure, undefined);

  const flags = ints(1);
  const later = proc(resolvesLater, [30, flags]);
  later.start();
  assert.equal(joined(later), 0);
  assert.equal(flags[0], 1, "the process ended only after its promise resolved");
  await later.joinAsync();
  assert.equal(later.failure, undefined);
  assert.match(later.toString(), /^<Process name='Process-\d+' stopped exitcode=0>$/);
});

test("exit codes: a throw → 1 with failure {name, message, stack, cause}, printed as 'Process <name>:'", async () => {
  let p;
  const printed = await capturingStderr(async () => {
    p = proc(throwsWithCause, ["kaboom"]);
    p.start();
    assert.equal(joined(p), 1);
    // failure comes by message: it is there once the exit was processed (joinAsync).
    await p.joinAsync();
  });
  const { failure } = p;
  assert.ok(failure, "failure is set");
  assert.equal(failure.name, "Error");
  assert.equal(failure.message, "kaboom");
  assert.match(failure.stack, /^Error: kaboom\n\s+at (Object\.)?throwsWithCause .*fixtures\/targets\.mjs:\d+:\d+/);
  assert.deepEqual({ name: failure.cause.name, message: failure.cause.message }, { name: "RangeError", message: "the inner cause" });
  assert.match(failure.cause.stack, /^RangeError: the inner cause/);
  assert.ok(printed.startsWith(`Process ${p.name}:\nError: kaboom\n`), `stderr was: ${printed}`);
  assert.match(printed, /at (Object\.)?throwsWithCause/);
});

test("exit codes: a rejected promise → 1 with the rejection as failure", async () => {
  let p;
  await capturingStderr(async () => {
    p = proc(rejectsLater, ["rejected later"]);
    p.start();
    assert.equal(await joinedAsync(p), 1);
  });
  assert.equal(p.failure?.name, "TypeError");
  assert.equal(p.failure?.message, "rejected later");
  assert.match(p.failure.stack, /at (Object\.)?rejectsLater/);

  let odd;
  await capturingStderr(async () => {
    odd = proc(throwsValue, ["not an Error"]);
    odd.start();
    assert.equal(await joinedAsync(odd), 1);
  });
  assert.deepEqual(odd.failure, { name: "Error", message: "uncaught value: not an Error" });
});

test("exit codes: exit(n) deep inside → n; it ends only that process (no catch, no finally, the sibling and parent go on)", async () => {
  const event = new Event();
  const siblingFlags = ints(1);
  const sibling = proc(waitsOnEvent, [event, siblingFlags]);
  sibling.start();

  const flags = ints(3);
  const deep = proc(exitsDeep, [7, flags]);
  deep.start();
  assert.equal(joined(deep), 7);
  assert.equal(flags[0], 0, "nothing after exit() ran");

  const inTry = proc(exitsInsideTry, [5, flags]);
  inTry.start();
  assert.equal(joined(inTry), 5);
  assert.deepEqual([...flags], [0, 0, 0], "exit() is a hard exit: its catch and finally did not run");
  await Promise.all([deep.joinAsync(), inTry.joinAsync()]);
  assert.equal(deep.failure, undefined, "exit(n) is not a failure");

  assert.equal(sibling.isAlive(), true, "the sibling still runs");
  event.set();
  assert.equal(joined(sibling), 0);
  assert.equal(siblingFlags[0], 2);
  event.close();
});

test("exit codes: terminate() → -15 and kill() → -9, in Atomics.wait and in a busy loop", async () => {
  for (const [target, stop, code] of [
    [loopsForever, "terminate", -15],
    [spinsForever, "kill", -9],
    [loopsForever, "kill", -9],
    [spinsForever, "terminate", -15],
  ]) {
    const flags = ints(1);
    const p = proc(target, [flags]);
    p.start();
    await until(() => flags[0] === 1, `${target.name} to run`);
    assert.equal(p.isAlive(), true);
    p[stop]();
    // As in CPython, the process has its exit code once it has really stopped: join() waits for that.
    assert.equal(joined(p), code);
    assert.equal(p.exitCode, code, `${stop}() ends it with ${code}`);
    assert.equal(p.isAlive(), false);
    await p.joinAsync();
    assert.equal(p.exitCode, code, `${target.name} ${stop}: still ${code} after the worker's own exit`);
    assert.equal(p.failure, undefined);
    p[stop](); // stopping an ended process is a no-op
    assert.equal(p.exitCode, code);
  }
});

test("a child's failure is printed on the parent's stderr: 'Process Process-1:' and the stack", () => {
  const script = fileURLToPath(new URL("./fixtures/print-failure.mjs", import.meta.url));
  const run = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 30_000 });
  assert.equal(run.status, 0, `the parent program itself succeeds; stderr: ${run.stderr}`);
  assert.deepEqual(JSON.parse(run.stdout.trim()), { name: "Process-1", exitCode: 1 });
  assert.match(run.stderr, /^Process Process-1:\nError: kaboom from the child\n\s+at (Object\.)?throwsWithCause (\[as target\] )?\(file:\/\/.*fixtures\/targets\.mjs:\d+:\d+\)/m);
});

test("the main program waits for its non-daemonic children at exit, and not for daemonic ones", () => {
  const script = fileURLToPath(new URL("./fixtures/main-exit.mjs", import.meta.url));
  const t0 = performance.now();
  const run = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 20_000 });
  const elapsed = performance.now() - t0;
  assert.equal(run.signal, null, `the program ended by itself (a daemon must not keep it alive); stderr: ${run.stderr}`);
  assert.equal(run.status, 0, run.stderr);
  const seen = JSON.parse(run.stdout.trim());
  assert.equal(seen.flag, 1, "the non-daemonic child finished before the program exited");
  assert.ok(seen.sleptFor >= 290 && seen.exitedAfter >= seen.sleptFor, JSON.stringify(seen));
});

// ---------------------------------------------------------------- join with a timeout

test("join(timeout) and joinAsync(timeout) return with the process still alive; terminate then ends it", async () => {
  const event = new Event();
  const flags = ints(1);
  const p = proc(waitsOnEvent, [event, flags]);
  p.start();
  await until(() => flags[0] === 1, "the child to wait");

  let t0 = performance.now();
  p.join(150);
  const blocked = performance.now() - t0;
  assert.ok(blocked >= 140, `join(150) returned after ${blocked.toFixed(1)} ms`);
  assert.equal(p.isAlive(), true);
  assert.equal(p.exitCode, null);

  t0 = performance.now();
  p.join(0);
  assert.ok(performance.now() - t0 < 1_000, "join(0) only polls");
  await p.joinAsync(60);
  assert.equal(p.isAlive(), true);
  assert.equal(p.exitCode, null);
  assert.match(p.toString(), /started>$/);

  p.terminate();
  assert.equal(joined(p), -15);
  assert.equal(flags[0], 1, "the child never saw the event");
  event.close();
});

// ---------------------------------------------------------------- module functions

test("module functions in the main process: currentProcess, parentProcess, isMainProcess, cpuCount", () => {
  const me = currentProcess();
  assert.equal(me.name, "MainProcess");
  assert.equal(currentProcess(), me, "the same object every time");
  assert.equal(me.isAlive(), true);
  assert.equal(typeof me.pid, "number");
  assert.equal(parentProcess(), null);
  assert.equal(isMainProcess(), true);
  const cpus = cpuCount();
  assert.ok(Number.isInteger(cpus) && cpus >= 1, `cpuCount() = ${cpus}`);
  assert.throws(() => me.join(), (e) => e instanceof ValueError && /cannot join itself/.test(e.message));
  assert.throws(() => me.start(), ValueError);
});

test("start methods: ['warm', 'spawn', 'reuse']; fork and forkserver are refused with the reason; contexts", () => {
  assert.deepEqual(getAllStartMethods(), ["warm", "spawn", "reuse"]);
  assert.equal(getStartMethod(), "warm");
  for (const method of ["fork", "forkserver"]) {
    assert.throws(
      () => setStartMethod(method),
      (e) => e instanceof ValueError && e.message.includes(`'${method}'`) && /cannot copy a running heap/.test(e.message) && /'warm'/.test(e.message),
    );
    assert.throws(() => getContext(method), ValueError);
    assert.throws(() => new Process({ target: returnsNothing, module: TARGETS, startMethod: method }), ValueError);
  }
  assert.throws(() => setStartMethod("threads"), (e) => e instanceof ValueError && /unknown start method/.test(e.message));
  assert.equal(getStartMethod(), "warm", "failed calls changed nothing");
  assert.equal(getContext("spawn").getStartMethod(), "spawn");
  assert.equal(getContext("warm").getStartMethod(), "warm");
  assert.equal(getContext().getStartMethod(), "warm");

  setStartMethod("warm");
  assert.throws(() => setStartMethod("spawn"), (e) => e instanceof ValueError && /force/.test(e.message));
  setStartMethod("spawn", { force: true });
  assert.equal(getStartMethod(), "spawn");
  assert.equal(getContext().getStartMethod(), "spawn");
  setStartMethod("warm", { force: true });
  assert.equal(getStartMethod(), "warm");

  assert.throws(() => exit(1.5), TypeError, "exit() checks its code before ending anything");
  assert.throws(() => setWarmPoolSize(-1), RangeError);
  assert.throws(() => setWarmPoolSize(1.5), RangeError);
});

test("pid is null before start and a unique number after; activeChildren() lists live children and drops finished ones", async () => {
  const event = new Event();
  const flags = ints(3);
  const children = [0, 1, 2].map((i) => proc(waitsOnEvent, [event, flags, i]));
  for (const child of children) assert.equal(child.pid, null);
  assert.deepEqual(activeChildren(), []);
  for (const child of children) child.start();
  const pids = children.map((child) => child.pid);
  for (const pid of pids) assert.ok(Number.isInteger(pid) && pid > 0, `pid ${pid}`);
  assert.equal(new Set([...pids, currentProcess().pid]).size, 4, `pids ${pids} and main ${currentProcess().pid} are distinct`);
  assert.deepEqual(new Set(activeChildren()), new Set(children));

  await until(() => [...flags].every((f) => f === 1), "every child to wait");
  children[1].terminate();
  assert.equal(joined(children[1]), -15);
  assert.deepEqual(new Set(activeChildren()), new Set([children[0], children[2]]));
  event.set();
  for (const child of [children[0], children[2]]) assert.equal(joined(child), 0);
  assert.deepEqual(activeChildren(), [], "finished children are dropped (after join, before their exit events)");
  assert.equal(children[0].pid, pids[0], "pid stays readable after the end");
  await Promise.all(children.map((c) => c.joinAsync()));
  assert.deepEqual(activeChildren(), []);
  event.close();
});

// ---------------------------------------------------------------- nested and daemonic

test("nested: a child's child is named '<parent name>:1' and sees the child as its parentProcess()", async () => {
  const box = mailbox();
  const grandBox = mailbox();
  const p = proc(startsGrandchild, [box, grandBox]);
  assert.match(p.name, /^Process-\d+$/);
  p.start();
  assert.equal(await joinedAsync(p), 0);
  const child = readJson(box);
  const grandchild = readJson(grandBox);
  assert.deepEqual(child.parent, { name: "MainProcess", pid: currentProcess().pid, alive: true });
  assert.equal(child.name, p.name, "currentProcess() in the child is the child");
  assert.equal(child.pid, p.pid);
  assert.equal(child.isMain, false);
  assert.equal(child.alive, true);
  assert.equal(child.daemon, false);
  assert.equal(child.child.pidBefore, null);
  assert.equal(child.child.exitCode, 0);
  assert.equal(child.child.name, `${p.name}:1`);
  assert.match(child.child.name, /^Process-\d+:1$/);

  assert.equal(grandchild.name, `${p.name}:1`);
  assert.equal(grandchild.pid, child.child.pid);
  assert.deepEqual(grandchild.parent, { name: p.name, pid: p.pid, alive: true });
  assert.equal(grandchild.isMain, false);
  assert.notEqual(grandchild.pid, p.pid);
});

test("a process cannot join itself", async () => {
  const box = mailbox();
  const p = proc(joinsItself, [box]);
  p.start();
  assert.equal(await joinedAsync(p), 0);
  const seen = readJson(box);
  assert.equal(seen.threw, true);
  assert.equal(seen.name, "ValueError");
  assert.match(seen.message, /cannot join itself/);
});

test("daemonic processes may not start children: start() throws a ValueError that says so", async () => {
  const box = mailbox();
  const caught = proc(daemonTriesToStart, [box], { daemon: true });
  assert.equal(caught.daemon, true);
  caught.start();
  assert.equal(await joinedAsync(caught), 0);
  const seen = readJson(box);
  assert.equal(seen.started, false);
  assert.equal(seen.name, "ValueError");
  assert.match(seen.message, /daemonic processes are not allowed to have children/);
  assert.equal(seen.inheritedDaemon, true, "a process created in a daemon is daemonic by default");

  let uncaught;
  await capturingStderr(async () => {
    uncaught = proc(daemonStartsUncaught, [], { daemon: true });
    uncaught.start();
    assert.equal(await joinedAsync(uncaught), 1);
  });
  assert.equal(uncaught.failure.name, "ValueError");
  assert.match(uncaught.failure.message, /daemonic/);

  // The daemon flag is fixed once started.
  assert.throws(() => (caught.daemon = false), ValueError);
  assert.match(caught.toString(), / daemon>$/);
});

test("daemonic children are terminated when their parent ends", async () => {
  const counter = ints(2);
  const p = proc(startsDaemonCounter, [counter]);
  p.start();
  assert.equal(await joinedAsync(p), 0);
  assert.ok(counter[0] >= 5, "the daemon ran");
  assert.ok(counter[1] > 0, "the daemon had a pid");
  await new Promise((resolve) => setTimeout(resolve, 30));
  const settled = Atomics.load(counter, 0);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(Atomics.load(counter, 0), settled, "the daemon stopped counting when its parent ended");
});

test("a parent waits for its non-daemonic children before it ends", async () => {
  const flags = ints(2);
  const stamps = floats(2);
  const p = proc(startsSlowChild, [flags, stamps, 200]);
  p.start();
  assert.equal(joined(p), 0);
  const ended = wallNow();
  assert.equal(flags[1], 1, "the parent's run() returned");
  assert.equal(flags[0], 1, "its child had finished before the parent's join completed");
  assert.ok(stamps[0] - stamps[1] >= 190, `the child slept ${stamps[0] - stamps[1]} ms after the parent's run() returned`);
  assert.ok(ended >= stamps[0]);
});

test("a parent whose run() throws still waits for its non-daemonic children (Python's _bootstrap does)", async () => {
  const flags = ints(2);
  const stamps = floats(2);
  let p;
  await capturingStderr(async () => {
    p = proc(startsSlowChildThenThrows, [flags, stamps, 150]);
    p.start();
    assert.equal(await joinedAsync(p), 1);
  });
  assert.match(p.failure.message, /failed after starting its child/);
  assert.equal(flags[0], 1, "the child ran to its end");
});

// ---------------------------------------------------------------- bad input

test("bad input: start twice, join before start, daemon after start", async () => {
  const p = proc(returnsNothing);
  assert.throws(() => p.join(), (e) => e instanceof ValueError && /can only join a started process/.test(e.message));
  await assert.rejects(p.joinAsync(), ValueError);
  assert.throws(() => p.sentinel, ValueError);
  assert.equal(p.isAlive(), false);
  p.start();
  assert.throws(() => p.start(), (e) => e instanceof ValueError && /cannot start a process twice/.test(e.message));
  assert.throws(() => (p.daemon = true), ValueError);
  assert.equal(joined(p), 0);
  assert.throws(() => p.start(), ValueError, "not even after it ended");
});

test("bad input: close() while running throws; after terminate and join it closes, and then methods throw", async () => {
  const flags = ints(1);
  const p = proc(loopsForever, [flags]);
  p.start();
  assert.throws(() => p.close(), (e) => e instanceof ValueError && /still running/.test(e.message));
  assert.equal(p.isAlive(), true, "close() changed nothing");
  p.terminate();
  assert.equal(joined(p), -15);
  await p.joinAsync();
  p.close();
  p.close(); // twice is fine
  for (const [what, call] of [
    ["isAlive", () => p.isAlive()],
    ["start", () => p.start()],
    ["join", () => p.join()],
    ["terminate", () => p.terminate()],
    ["kill", () => p.kill()],
    ["exitCode", () => p.exitCode],
    ["sentinel", () => p.sentinel],
  ]) {
    assert.throws(call, (e) => e instanceof ValueError && /closed/.test(e.message), `${what} after close()`);
  }
  await assert.rejects(p.joinAsync(), ValueError);
});

test("bad input: a function (or symbol) in args or kwargs is refused with its path, and nothing starts", () => {
  const before = memoryStats();
  const lock = new Lock();
  const cases = [
    [{ args: [lock, () => 1] }, /^Process-\d+\.args\[1\] is a function/],
    [{ args: [{ opts: { onDone() {} } }] }, /^Process-\d+\.args\[0\]\.opts\.onDone is a function/],
    [{ args: [[1, [2, Symbol("s")]]] }, /^Process-\d+\.args\[0\]\[1\]\[1\] is a symbol/],
    [{ args: [], kwargs: { callback: returnsNothing } }, /^Process-\d+\.kwargs\.callback is a function/],
    [{ args: [Promise.resolve(1)] }, /^Process-\d+\.args\[0\] is a Promise/],
    [{ args: [new WeakMap()] }, /^Process-\d+\.args\[0\] is a WeakMap/],
  ];
  for (const [options, pattern] of cases) {
    const p = new Process({ target: echoArgs, module: TARGETS, ...options });
    assert.throws(() => p.start(), (e) => e instanceof TypeError && pattern.test(e.message), String(pattern));
    assert.equal(p.pid, null);
    assert.equal(p.isAlive(), false);
    assert.deepEqual(activeChildren(), []);
  }
  lock.close();
  const after = memoryStats();
  assert.equal(after.blocks, before.blocks, "no thread record or other block was left behind");
  assert.equal(after.bytes, before.bytes);
});

test("bad input: a subclass with a function field names it; a subclass without `static module` is told to add it", () => {
  class WorkerProcess extends Process {
    static module = import.meta.url;
    constructor() {
      super();
      this.host = "h1";
      this.callback = () => {};
    }
    run() {}
  }
  const withCallback = new WorkerProcess();
  assert.throws(
    () => withCallback.start(),
    (e) => e instanceof TypeError && /^WorkerProcess\.callback is a function/.test(e.message),
  );
  assert.equal(withCallback.pid, null);

  class NoModule extends Process {
    run() {}
  }
  assert.throws(
    () => new NoModule().start(),
    (e) => e instanceof ValueError && e.message.includes("static module = import.meta.url") && /class NoModule/.test(e.message),
  );

  assert.throws(
    () => new Process({ target: returnsNothing }).start(),
    (e) => e instanceof ValueError && e.message.includes("module: import.meta.url") && /returnsNothing/.test(e.message),
  );
  assert.throws(() => new Process().start(), (e) => e instanceof ValueError && /nothing to run/.test(e.message));
  assert.throws(() => new Process({ target: "returnsNothing" }), TypeError);
  assert.throws(() => new Process({ target: returnsNothing, args: "x" }), TypeError);
  assert.throws(() => new Process({ target: returnsNothing, daemon: 1 }), TypeError);
  assert.throws(() => new Process({ target: returnsNothing, kwargs: 3 }), TypeError);

  class Uninitialised extends Process {
    // eslint-disable-next-line constructor-super
    constructor() {
      return Object.create(Uninitialised.prototype);
    }
  }
  assert.throws(() => new Uninitialised().start(), (e) => e instanceof ProcessError && /call super/.test(e.message));
  assert.deepEqual(activeChildren(), []);
});

// Not exported from fixtures/targets.mjs on purpose: the child finds targets by export name.
function notExported() {}
// Exported by fixtures/unguarded.mjs, which starts a process at its top level.
function victim() {}

test("bad input: a target its module does not export fails the child with a message to add `export`", async () => {
  let p;
  await capturingStderr(async () => {
    p = new Process({ target: notExported, module: TARGETS });
    p.start();
    assert.equal(await joinedAsync(p), 1);
  });
  assert.equal(p.failure.name, "TypeError");
  assert.match(p.failure.message, /does not export notExported: add `export` to the function notExported/);
});

test("bad input: a module that does not exist fails the child with exit code 1", async () => {
  let p;
  await capturingStderr(async () => {
    p = new Process({ target: notExported, module: new URL("./fixtures/no-such-module.mjs", import.meta.url) });
    p.start();
    assert.equal(await joinedAsync(p), 1);
  });
  assert.match(p.failure.message, /no-such-module\.mjs/);
});

test("bad input: a module that starts a process at its top level fails the child with a message about isMainProcess()", async () => {
  let p;
  await capturingStderr(async () => {
    p = new Process({ target: victim, module: new URL("./fixtures/unguarded.mjs", import.meta.url) });
    p.start();
    assert.equal(await joinedAsync(p), 1);
  });
  assert.equal(p.failure.name, "ProcessError");
  assert.match(p.failure.message, /Guard that code with `if \(isMainProcess\(\)\)/);
  assert.match(p.failure.message, /unguarded\.mjs/);
});

// ---------------------------------------------------------------- wait

test("wait() and waitAsync() return the ready objects; [] after a timeout with nothing ready", async () => {
  const event = new Event();
  const flags = ints(1);
  const quick = proc(returnsNothing);
  const slow = proc(waitsOnEvent, [event, flags]);
  quick.start();
  slow.start();
  assert.equal(joined(quick), 0);
  const sentinel = quick.sentinel;

  let ready = wait([sentinel, slow], 5_000);
  assert.equal(ready.length, 1);
  assert.equal(ready[0], sentinel, "the very object passed in");
  ready = await waitAsync([slow, sentinel], 5_000);
  assert.deepEqual(ready, [sentinel]);

  let t0 = performance.now();
  assert.deepEqual(wait([slow.sentinel, slow], 100), []);
  assert.ok(performance.now() - t0 >= 90, "wait waited for its timeout");
  assert.deepEqual(wait([slow], 0), []);
  t0 = performance.now();
  assert.deepEqual(await waitAsync([slow], 100), []);
  assert.ok(performance.now() - t0 >= 90, "waitAsync waited for its timeout");
  assert.deepEqual(await waitAsync([slow], 0), []);

  const pending = waitAsync([slow]);
  await until(() => flags[0] === 1, "the slow child to wait");
  event.set();
  assert.deepEqual(await pending, [slow]);
  assert.deepEqual(wait([quick, slow], 10_000), [quick, slow]);
  assert.equal(slow.exitCode, 0);

  assert.throws(() => wait([{}]), TypeError);
  assert.throws(() => wait([slow], -1), RangeError);
  event.close();
});
