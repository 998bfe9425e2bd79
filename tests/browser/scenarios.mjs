// Browser scenarios. The page's main thread may never block, so it uses only the *Async
// calls; child processes (module Web Workers) block freely. Each scenario gets a fresh
// page (run.html?s=NAME) and records checks through `t`.
import * as forkless from "../../dist/forkless.mjs";
import * as fx from "./fixtures.mjs";

const {
  Process,
  Lock,
  RLock,
  Semaphore,
  Event,
  Condition,
  Barrier,
  Queue,
  JoinableQueue,
  Pipe,
  SharedArray,
  Value,
  BlockingNotAllowedError,
  BrokenBarrierError,
  UnsupportedEnvironmentError,
  EmptyError,
  EOFError,
  mayBlock,
  support,
  wait,
  waitAsync,
  activeChildren,
} = forkless;

const here = fx.here;

function ints(n) {
  return new Int32Array(new SharedArrayBuffer(4 * n));
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function until(predicate, what, timeout = 15_000) {
  const deadline = performance.now() + timeout;
  for (;;) {
    if (predicate()) return;
    if (performance.now() > deadline) throw new Error(`timed out after ${timeout} ms waiting for ${what}`);
    await sleep(2);
  }
}

function spawn(target, args, options = {}) {
  const process = new Process({ target, args, module: here, ...options });
  process.start();
  return process;
}

async function joinAll(processes, timeout = 20_000) {
  for (const process of processes) {
    await process.joinAsync(timeout);
    if (process.exitCode === null) throw new Error(`${process.name} did not end within ${timeout} ms`);
  }
}

// ---------------------------------------------------------------- scenarios

export const scenarios = {
  /** 4 processes and the page increment one counter under one Lock; the total is exact. */
  async "lock-counter"(t) {
    const lock = new Lock();
    const counter = ints(1);
    const N = 20_000;
    const children = [0, 1, 2, 3].map(() => spawn(fx.countUnderLock, [lock, counter, N]));
    // The page takes part with acquireAsync: woken by the children's Wasm notify.
    const MAIN = 300;
    for (let i = 0; i < MAIN; i++) {
      if (!(await lock.acquireAsync({ timeout: 10_000 }))) throw new Error("acquireAsync timed out");
      const value = counter[0];
      await null;
      counter[0] = value + 1;
      lock.release();
    }
    await joinAll(children);
    t.eq(children.map((p) => p.exitCode), [0, 0, 0, 0], "every process exits with 0");
    t.eq(counter[0], 4 * N + MAIN, "the counter is exact");
    t.eq(lock.locked(), false, "the lock is free at the end");
  },

  async event(t) {
    const go = new Event();
    const flags = ints(8);
    const dones = [0, 1, 2].map(() => new Event());
    const waiters = dones.map((done, i) => spawn(fx.eventWaiter, [go, done, flags, i]));
    await until(() => Atomics.load(flags, 0) === 3, "three waiters");
    await sleep(20);
    t.eq([1, 2, 3].map((i) => Atomics.load(flags, i)), [0, 0, 0], "nobody passes before set()");
    go.set();
    const fired = await Promise.all(dones.map((done) => done.waitAsync(10_000)));
    t.eq(fired, [true, true, true], "the page's waitAsync sees each child's set()");
    t.eq([1, 2, 3].map((i) => Atomics.load(flags, i)), [1, 1, 1], "every blocked child woke with true");
    await joinAll(waiters);

    const never = new Event();
    const timing = ints(2);
    const timeoutChild = spawn(fx.eventTimesOut, [never, timing]);
    const started = performance.now();
    t.eq(await never.waitAsync(80), false, "waitAsync(80) on an unset event resolves false");
    t.ok(performance.now() - started >= 70, "… after about 80 ms");
    await joinAll([timeoutChild]);
    t.eq(Atomics.load(timing, 0), 1, "a child's wait(60) on an unset event returns false");

    const later = new Event();
    const setter = spawn(fx.setAfter, [later, 50]);
    t.eq(await later.waitAsync(10_000), true, "waitAsync resolves when a child sets the event");
    t.eq(later.isSet(), true, "isSet() after it fired");
    later.clear();
    t.eq(later.isSet(), false, "clear()");
    await joinAll([setter]);
  },

  async barrier(t) {
    const parties = 5;
    const rounds = 6;
    const barrier = new Barrier(parties);
    const seen = ints(parties * rounds);
    const children = [0, 1, 2, 3].map(() => spawn(fx.barrierRounds, [barrier, rounds, seen]));
    const mine = [];
    for (let round = 0; round < rounds; round++) {
      const index = await barrier.waitAsync(20_000);
      mine.push(index);
      Atomics.add(seen, round * parties + index, 1);
    }
    await joinAll(children);
    t.eq(children.map((p) => p.exitCode), [0, 0, 0, 0], "every party exits with 0");
    const perRound = [];
    for (let round = 0; round < rounds; round++) perRound.push([...seen.subarray(round * parties, (round + 1) * parties)].join(""));
    t.eq(perRound, Array(rounds).fill("11111"), "each round hands out indices 0…4 exactly once");
    t.eq(barrier.nWaiting, 0, "nobody left waiting");

    const lonely = new Barrier(2);
    let error;
    try {
      await lonely.waitAsync(50);
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof BrokenBarrierError, `waitAsync(50) with a missing party throws BrokenBarrierError (${error?.name})`);
    t.eq(lonely.broken, true, "the barrier is broken afterwards");
  },

  async condition(t) {
    const cond = new Condition();
    const state = ints(4);
    const mine = ints(3);
    const consumers = [0, 1, 2].map((i) => spawn(fx.conditionConsumer, [cond, state, mine, i]));
    const ITEMS = 60;
    for (let i = 0; i < ITEMS; i++) {
      await cond.acquireAsync();
      state[0] += 1;
      cond.notify();
      cond.release();
      if (i % 10 === 9) await sleep(1);
    }
    await cond.acquireAsync();
    state[1] = 1;
    cond.notifyAll();
    cond.release();
    await joinAll(consumers);
    t.eq(consumers.map((p) => p.exitCode), [0, 0, 0], "consumers exit with 0");
    t.eq(state[2], ITEMS, "every item consumed exactly once");
    t.eq(state[0], 0, "nothing left");
    t.eq(mine[0] + mine[1] + mine[2], ITEMS, "per-consumer counts add up");

    // The other direction: the page waits, a child notifies.
    await cond.acquireAsync();
    const signaller = spawn(fx.conditionSignaller, [cond, state]);
    const result = await cond.waitForAsync(() => state[3] === 1, 10_000);
    t.eq(result, true, "waitForAsync on the page is woken by a child's notifyAll");
    t.ok(cond.lock.isMine?.() ?? true, "the page holds the lock again after waitForAsync");
    t.eq(await cond.waitAsync(30), false, "waitAsync(30) without a notify resolves false");
    cond.release();
    await joinAll([signaller]);
  },

  async "queue-mpmc"(t) {
    const queue = new Queue({ maxsize: 64 });
    const sums = ints(3);
    const PRODUCERS = 3;
    const CONSUMERS = 3;
    const N = 400;
    const consumers = Array.from({ length: CONSUMERS }, () => spawn(fx.queueConsumer, [queue, sums]));
    const producers = Array.from({ length: PRODUCERS }, (_, p) => spawn(fx.queueProducer, [queue, p, N]));
    // The page also produces, with putAsync (the queue is bounded, so it sometimes waits for room).
    const PAGE = 9;
    for (let i = 0; i < N; i++) {
      await queue.putAsync({ p: PAGE, i, value: PAGE * 100_000 + i, payload: fx.payloadFor(PAGE, i), tags: [PAGE, i] });
    }
    await joinAll(producers);
    for (let i = 0; i < CONSUMERS; i++) await queue.putAsync(null);
    await joinAll(consumers);
    let expected = 0;
    for (const p of [0, 1, 2, PAGE]) for (let i = 0; i < N; i++) expected += p * 100_000 + i;
    t.eq(sums[1], (PRODUCERS + 1) * N, "every item arrived once");
    t.eq(sums[0], expected, "the checksum of all values matches");
    t.eq(sums[2], 0, "no item arrived malformed");
    t.eq([...producers, ...consumers].map((p) => p.exitCode), Array(6).fill(0), "producers and consumers exit with 0");
    let empty;
    try {
      await queue.getAsync({ timeout: 20 });
    } catch (e) {
      empty = e;
    }
    t.ok(empty instanceof EmptyError, `getAsync({ timeout: 20 }) on an empty queue throws EmptyError (${empty?.name})`);

    // Page ⇄ child round trip through a JoinableQueue.
    const jobs = new JoinableQueue();
    await jobs.putAsync({ hello: "world", nested: { list: [1, 2, 3] } });
    t.eq(await jobs.getAsync({ timeout: 1000 }), { hello: "world", nested: { list: [1, 2, 3] } }, "structured values survive the ring");
    jobs.taskDone();
    t.eq(await jobs.joinAsync(1000), true, "JoinableQueue.joinAsync after taskDone()");
  },

  async pipe(t) {
    const [mine, theirs] = Pipe();
    const child = spawn(fx.pipeEcho, [theirs]);
    theirs.close(); // like Python: close our copy of the child's end, so EOF can happen
    const replies = [];
    for (let n = 1; n <= 50; n++) {
      await mine.sendAsync({ n });
      replies.push(await mine.recvAsync());
    }
    t.eq(replies.map((r) => r.n), Array.from({ length: 50 }, (_, i) => 2 * (i + 1)), "50 round trips, in order");
    t.eq(replies[0].from, "Process-1", "the reply names the child");
    const bytes = new Uint8Array(100_000).map((_, i) => i & 0xff);
    await mine.sendAsync({ bytes });
    const back = await mine.recvAsync();
    t.ok(back instanceof Uint8Array && back.length === bytes.length && back[0] === bytes[bytes.length - 1] && back[back.length - 1] === 0, "100 kB sent as a value come back reversed through sendBytes (chunked through the ring)");
    t.eq(await mine.pollAsync(0), false, "pollAsync(0) with nothing to read");
    await mine.sendAsync("bye");
    await joinAll([child]);
    t.eq(child.exitCode, 0, "the echo process exits with 0");
    let eof;
    try {
      await mine.recvAsync();
    } catch (e) {
      eof = e;
    }
    t.ok(eof instanceof EOFError, `recvAsync after the other end closed everywhere throws EOFError (${eof?.name}: ${eof?.message})`);
    mine.close();
  },

  /** Ansible's pattern: WorkerProcess subclasses, a manager loop keeping at most N alive, results through a queue. */
  async ansible(t) {
    const MAX = 3;
    const finalQueue = new Queue();
    const lock = new Lock();
    const stats = ints(4);
    const hosts = ["web1", "web2", "db1", "db2", "cache1", "lb1", "web3", "web4", "db3", "edge1"];
    const pending = hosts.map((host, id) => ({ host, task: { id, n: id * 7, ms: 20 + (id % 4) * 15, vars: { list: [id, 2, 3] } } }));
    const running = new Set();
    let maxAlive = 0;
    let nextId = 0;
    const exitCodes = [];
    while (pending.length > 0 || running.size > 0) {
      while (running.size < MAX && pending.length > 0) {
        const { host, task } = pending.shift();
        const worker = new fx.WorkerProcess(finalQueue, lock, stats, { inventory_hostname: host }, host, task, nextId++);
        worker.start();
        running.add(worker);
      }
      maxAlive = Math.max(maxAlive, running.size);
      const ready = await waitAsync([...running], 20_000);
      if (ready.length === 0) throw new Error("no worker finished within 20 s");
      for (const worker of ready) {
        running.delete(worker);
        exitCodes.push(worker.exitCode);
      }
    }
    const results = new Map();
    for (let i = 0; i < hosts.length; i++) {
      const item = await finalQueue.getAsync({ timeout: 5000 });
      results.set(item.host, item);
    }
    t.eq(exitCodes, Array(hosts.length).fill(0), "every WorkerProcess exits with 0");
    t.eq(stats[fx.STARTS], hosts.length, "every worker ran");
    t.ok(stats[fx.MAX_RUNNING] <= MAX && maxAlive <= MAX, `never more than ${MAX} alive (saw ${stats[fx.MAX_RUNNING]} running, ${maxAlive} alive)`);
    t.eq(maxAlive, MAX, `the manager kept ${MAX} alive at a time`);
    t.info(`at most ${stats[fx.MAX_RUNNING]} were inside run() at once`);
    const wrong = hosts.filter((host, id) => results.get(host)?.result !== fx.expectedResult({ n: id * 7, vars: { list: [id, 2, 3] } }, host));
    t.eq(wrong, [], "each host's result arrived through the queue, computed from its fields");
    t.eq(activeChildren().length, 0, "activeChildren() is empty at the end");
  },

  async "exit-codes"(t) {
    const flags = ints(4);
    const cases = [
      ["returnsNothing", spawn(fx.returnsNothing, []), 0],
      ["throwsError", spawn(fx.throwsError, ["boom"]), 1],
      ["rejectsLater", spawn(fx.rejectsLater, ["later"]), 1],
      ["strayRejection", spawn(fx.strayRejection, []), 1],
      ["exit(0)", spawn(fx.exitsWith, [0]), 0],
      ["exit(3)", spawn(fx.exitsWith, [3]), 3],
      ["exit(7) inside try", spawn(fx.exitsInsideTry, [7, flags]), 7],
      ["spawn start method", spawn(fx.returnsNothing, [], { startMethod: "spawn" }), 0],
      ["warm start method", spawn(fx.returnsNothing, [], { startMethod: "warm" }), 0],
      ["reuse start method (in browsers: a warm worker)", spawn(fx.returnsNothing, [], { startMethod: "reuse" }), 0],
      ["reuse start method, an error", spawn(fx.throwsError, ["again"], { startMethod: "reuse" }), 1],
      ["a module that does not exist", spawn(fx.returnsNothing, [], { module: new URL("./no-such-module.mjs", here).href }), 1],
    ];
    await joinAll(cases.map(([, p]) => p));
    for (const [what, process, code] of cases) t.eq(process.exitCode, code, `${what} → exitCode ${code}`);
    t.eq([...flags.subarray(0, 3)], [0, 0, 0], "exit() is a hard exit: no catch, no finally, nothing after it ran");
    const thrown = cases[1][1].failure;
    t.ok(thrown?.name === "RangeError" && thrown?.message === "boom", `failure carries the error (${thrown?.name}: ${thrown?.message})`);
    t.eq(cases[2][1].failure?.name, "TypeError", "a rejected async target is reported too");
    t.info(`missing module: ${JSON.stringify(cases.at(-1)[1].failure)}`);
    t.ok(cases.at(-1)[1].failure?.message?.includes("no-such-module.mjs"), "the failure names the module that could not be imported");

    const blocked = ints(1);
    const spinning = ints(1);
    const awaiting = ints(1);
    const a = spawn(fx.blocksForever, [blocked]);
    const b = spawn(fx.spinsForever, [spinning]);
    const c = spawn(fx.awaitsForever, [awaiting]);
    await until(() => blocked[0] === 1 && spinning[0] === 1 && awaiting[0] === 1, "three running children");
    t.eq([a.exitCode, a.isAlive()], [null, true], "a running process: exitCode null, isAlive() true");
    await a.joinAsync(30);
    t.eq(a.exitCode, null, "joinAsync(30) returns while it still runs");
    a.terminate();
    b.kill();
    c.terminate();
    await joinAll([a, b, c], 5000);
    t.eq([a.exitCode, b.exitCode, c.exitCode], [-15, -9, -15], "terminate() → -15 (blocked), kill() → -9 (busy loop), terminate() → -15 (awaiting)");
    t.eq([a.isAlive(), b.isAlive(), c.isAlive()], [false, false, false], "isAlive() false afterwards");
  },

  async nested(t) {
    const flags = ints(3);
    const parent = spawn(fx.nestedParent, [flags]);
    await joinAll([parent]);
    t.eq(parent.exitCode, 0, "the parent process exits with 0");
    t.eq(flags[0], 42, "the grandchild ran (a worker started by a worker)");
    t.eq(flags[1], 105, "the parent's joinAsync() saw the grandchild's exit(5)");
    t.eq(flags[2], 1, "the grandchild's parentProcess() is the child");

    const again = ints(3);
    const blocking = spawn(fx.nestedParentBlocking, [again, new Event()]);
    await joinAll([blocking]);
    t.eq([blocking.exitCode, again[0], again[1]], [0, 42, 105], "a blocking join() once the grandchild has started");
  },

  async "shared-values"(t) {
    const total = new Value("i", 0);
    const progress = new SharedArray("i", 4);
    const N = 2000;
    const children = [0, 1, 2].map((i) => spawn(fx.incrementValue, [total, progress, i, N]));
    for (let k = 0; k < N; k++) await total.withLockAsync(() => total.value++);
    progress.set(3, N);
    await joinAll(children);
    t.eq(total.value, 4 * N, "Value incremented under its lock by 3 processes and the page (withLockAsync)");
    t.eq(progress.toArray(), [N, N, N, N], "SharedArray written by each process is seen by the page");
  },

  /** Every Promise variant works on the page's main thread, and the thread stays responsive meanwhile. */
  async "promise-api"(t) {
    t.eq(mayBlock(), false, "mayBlock() is false on the page's main thread");
    const lock = new Lock();
    const release = new Event();
    const flags = ints(1);
    const holder = spawn(fx.holdLock, [lock, release, flags]);
    await until(() => Atomics.load(flags, 0) === 1, "the child to hold the lock");
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    const started = performance.now();
    t.eq(await lock.acquireAsync({ timeout: 200 }), false, "acquireAsync({ timeout: 200 }) on a held lock resolves false");
    const waited = performance.now() - started;
    clearInterval(ticker);
    t.ok(waited >= 190, `… after about 200 ms (${waited.toFixed(0)} ms)`);
    t.ok(ticks >= 8, `the page's event loop kept running meanwhile (${ticks} timer ticks in ${waited.toFixed(0)} ms)`);
    t.eq(lock.acquire({ block: false }), false, "acquire({ block: false }) tries once without blocking");
    release.set();
    t.eq(await lock.acquireAsync({ timeout: 10_000 }), true, "acquireAsync resolves true once the child releases");
    lock.release();
    await joinAll([holder]);
    const held = await lock.holdAsync();
    t.eq(lock.locked(), true, "holdAsync() holds the lock");
    held.release();
    t.eq(lock.locked(), false, "… and its guard releases it");
    t.eq(await lock.withLockAsync(async () => (await sleep(1), lock.locked())), true, "withLockAsync runs the function holding the lock");

    const rlock = new RLock();
    t.eq(await rlock.acquireAsync(), true, "RLock.acquireAsync");
    t.eq(await rlock.acquireAsync(), true, "RLock.acquireAsync re-enters");
    t.eq(rlock.depth, 2, "depth 2");
    rlock.release();
    rlock.release();

    const sem = new Semaphore(0);
    t.eq(await sem.acquireAsync({ timeout: 30 }), false, "Semaphore(0).acquireAsync({ timeout: 30 }) → false");
    setTimeout(() => sem.release(), 20);
    t.eq(await sem.acquireAsync({ timeout: 5000 }), true, "Semaphore.acquireAsync resolves after release()");

    const event = new Event();
    t.eq(await event.waitAsync(20), false, "Event.waitAsync(20) → false");
    const setter = spawn(fx.setAfter, [event, 30]);
    t.eq(await event.waitAsync(10_000), true, "Event.waitAsync → true when a child sets it");

    const sleeper = spawn(fx.blocksForever, [ints(1)]);
    t.eq((await waitAsync([setter, sleeper], 10_000)).includes(setter), true, "waitAsync([processes]) resolves with the finished one");
    t.eq((await waitAsync([sleeper], 30)).length, 0, "waitAsync([running], 30) → []");
    await sleeper.joinAsync(20);
    t.eq(sleeper.isAlive(), true, "joinAsync(20) returns while the process runs");
    sleeper.terminate();
    await sleeper.joinAsync();
    t.eq(sleeper.exitCode, -15, "joinAsync() after terminate()");
  },

  /** Every blocking call on the page's main thread throws BlockingNotAllowedError naming the Promise variant. */
  async "main-thread-blocking"(t) {
    const expectBlocked = (what, fn, variant) => {
      const started = performance.now();
      let error;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      const ms = performance.now() - started;
      t.ok(
        error instanceof BlockingNotAllowedError && error.message.includes(variant) && ms < 50,
        `${what} throws BlockingNotAllowedError naming ${variant} at once (${error?.name}: ${error?.message?.slice(0, 90)}…, ${ms.toFixed(1)} ms)`,
      );
    };
    const lock = new Lock();
    lock.acquire(); // free: does not block
    expectBlocked("Lock.acquire() on a held lock", () => lock.acquire(), "acquireAsync");
    expectBlocked("Lock.acquire({ timeout: 100 })", () => lock.acquire({ timeout: 100 }), "acquireAsync");
    expectBlocked("Lock.withLock()", () => lock.withLock(() => 1), "acquireAsync");
    t.eq(lock.acquire({ block: false }), false, "Lock.acquire({ block: false }) is allowed");
    lock.release();

    const rlock = new RLock();
    const hold = new Event();
    const flags = ints(1);
    const holder = spawn(fx.holdLock, [rlock, hold, flags]);
    await until(() => Atomics.load(flags, 0) === 1, "the child to hold the RLock");
    expectBlocked("RLock.acquire() held elsewhere", () => rlock.acquire(), "acquireAsync");
    expectBlocked("Semaphore(0).acquire()", () => new Semaphore(0).acquire(), "acquireAsync");
    const event = new Event();
    expectBlocked("Event.wait()", () => event.wait(), "waitAsync");
    t.eq(event.wait(0), false, "Event.wait(0) is allowed");
    const cond = new Condition(new Lock());
    cond.acquire();
    expectBlocked("Condition.wait()", () => cond.wait(), "waitAsync");
    expectBlocked("Condition.waitFor()", () => cond.waitFor(() => false), "waitAsync");
    cond.release();
    expectBlocked("Barrier.wait()", () => new Barrier(2).wait(), "waitAsync");
    expectBlocked("Process.join()", () => holder.join(), "joinAsync");
    expectBlocked("wait([process])", () => wait([holder]), "waitAsync");
    const queue = new Queue({ maxsize: 1 });
    expectBlocked("Queue.get() on an empty queue", () => queue.get(), "getAsync");
    await queue.putAsync(1);
    expectBlocked("Queue.put() on a full queue", () => queue.put(2), "putAsync");
    t.eq(queue.get({ block: false }), 1, "Queue.get({ block: false }) is allowed");
    const jq = new JoinableQueue();
    await jq.putAsync("x");
    expectBlocked("JoinableQueue.join()", () => jq.join(), "joinAsync");
    const [a, b] = Pipe();
    expectBlocked("Connection.recv()", () => a.recv(), "recvAsync");
    expectBlocked("Connection.poll(100)", () => a.poll(100), "pollAsync");
    t.eq(a.poll(), false, "Connection.poll() (no timeout) is allowed");
    await b.sendAsync("hello");
    t.eq(await a.recvAsync(), "hello", "sendAsync(), then recvAsync()");
    hold.set();
    await joinAll([holder]);
    t.eq(holder.exitCode, 0, "the holder exits with 0");
  },

  /** What support() reports on an isolated page. */
  async support(t) {
    const report = await support();
    t.eq(report.crossOriginIsolated, true, "crossOriginIsolated");
    t.eq(report.sharedArrayBuffer, true, "sharedArrayBuffer");
    t.eq(report.sharedMemoryPostable, true, "sharedMemoryPostable");
    t.eq(report.atomicsWaitAsync, true, "atomicsWaitAsync");
    t.eq(report.moduleWorkers, true, "moduleWorkers");
    t.eq(report.nestedWorkers, true, "nestedWorkers");
    t.eq(report.webAssembly, true, "webAssembly");
    t.eq(report.blockingAllowed, false, "blockingAllowed is false on the main thread");
    t.eq(report.problems, [], "no problems");
    t.info(JSON.stringify(report));
  },

  /** Served without COOP/COEP: the diagnosis error, at once — not a hang. */
  async "no-isolation"(t) {
    t.eq(self.crossOriginIsolated, false, "the page is not cross-origin isolated");
    const report = await support();
    t.info(JSON.stringify(report));
    t.ok(report.problems.some((p) => p.includes("Cross-Origin-Opener-Policy: same-origin") && p.includes("Cross-Origin-Embedder-Policy: require-corp")), "support() names both headers");
    t.eq([report.crossOriginIsolated, report.sharedArrayBuffer, report.sharedMemoryPostable], [false, false, false], "support(): not isolated, no SharedArrayBuffer, nothing postable");
    t.eq(report.problems.length, 1, "one problem, one fix");
    const attempts = {
      "new Lock()": () => new Lock(),
      "new Process().start()": () => spawn(fx.returnsNothing, []),
      "new Queue()": () => new Queue(),
    };
    for (const [what, fn] of Object.entries(attempts)) {
      let error;
      try {
        fn();
      } catch (e) {
        error = e;
      }
      t.ok(
        error instanceof UnsupportedEnvironmentError && /Cross-Origin-Opener-Policy: same-origin/.test(error.message) && /Cross-Origin-Embedder-Policy: require-corp/.test(error.message),
        `${what} throws UnsupportedEnvironmentError with the COOP/COEP instructions (${error?.name}: ${error?.message})`,
      );
    }
  },

  /** WebKit that hides SharedArrayBuffer on an isolated page (WebKitGTK without JSC_useSharedArrayBuffer=1). */
  async "hidden-sab"(t) {
    t.eq(self.crossOriginIsolated, true, "the page is cross-origin isolated");
    t.eq(typeof SharedArrayBuffer, "undefined", "yet SharedArrayBuffer is undefined");
    const report = await support();
    t.info(JSON.stringify(report));
    t.ok(report.problems.some((p) => p.includes("JSC_useSharedArrayBuffer=1")), "support() names JSC_useSharedArrayBuffer=1");
    t.eq(report.sharedMemoryPostable, false, "support(): shared memory is not postable");
    t.ok(report.notes.some((p) => p.includes("DataCloneError")), "support() notes the DataCloneError from posting a shared Memory");
    t.eq(report.problems.length, 1, "one problem, one fix");
    t.eq([report.moduleWorkers, report.webAssembly], [true, true], "support(): module workers and WebAssembly work");
    let error;
    try {
      new Lock();
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof UnsupportedEnvironmentError && /JSC_useSharedArrayBuffer=1/.test(error.message) && /15\.2/.test(error.message), `new Lock() explains the WebKit setting and the iOS floor (${error?.message})`);
  },

  /** forkless's worker.mjs is not served (404): processes end with 1 and say which script; no hang. */
  async "worker-load-error"(t) {
    const report = await support({ timeout: 3000 });
    t.info(JSON.stringify(report));
    t.eq([report.moduleWorkers, report.sharedMemoryPostable], ["unknown", false], "support(): module workers unknown, memory not postable");
    t.ok(report.problems.some((p) => p.includes("worker.mjs")), "support() names the worker script");
    const process = spawn(fx.returnsNothing, []);
    await process.joinAsync(10_000);
    t.eq(process.exitCode, 1, "the process ends with exit code 1");
    t.ok(process.failure?.name === "WorkerLoadError" && process.failure.message.includes("worker.mjs"), `its failure names the script (${process.failure?.name}: ${process.failure?.message})`);
  },

  /** No WebAssembly at all, as in iOS Lockdown Mode (simulated: JSC_useWasm=0, V8 --jitless). */
  async "no-wasm"(t) {
    t.eq(typeof WebAssembly, "undefined", "the engine has no WebAssembly");
    const report = await support();
    t.info(JSON.stringify(report));
    t.eq(report.webAssembly, false, "support(): webAssembly false");
    t.ok(report.problems.some((p) => p.includes("Lockdown Mode")), "support() names Lockdown Mode");
    let error;
    try {
      new Lock();
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof UnsupportedEnvironmentError && /Lockdown Mode/.test(error.message), `new Lock() explains it (${error?.name}: ${error?.message})`);
  },

  /** CSP script-src 'self' 'wasm-unsafe-eval'; worker-src 'self': no eval, no blob: or data: workers. */
  async csp(t) {
    const violations = [];
    document.addEventListener("securitypolicyviolation", (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
    const report = await support();
    t.eq(report.problems, [], `support() finds no problem under the CSP (${report.problems.join(" | ")})`);
    t.eq([report.webAssembly, report.moduleWorkers, report.sharedMemoryPostable], [true, true, true], "wasm, module workers, shared memory");
    const lock = new Lock();
    const counter = ints(1);
    const children = [0, 1].map(() => spawn(fx.countUnderLock, [lock, counter, 5000]));
    const queue = new Queue();
    const consumer = spawn(fx.queueConsumer, [queue, ints(3)]);
    await queue.putAsync({ p: 0, i: 1, value: 1, payload: fx.payloadFor(0, 1), tags: [0, 1] });
    await queue.putAsync(null);
    await joinAll([...children, consumer]);
    t.eq(counter[0], 10_000, "Lock counter under the CSP");
    t.eq(consumer.exitCode, 0, "a queue consumer under the CSP");
    await sleep(20);
    t.eq(violations, [], "no CSP violation was reported");
  },

  /** CSP without 'wasm-unsafe-eval': WebAssembly cannot run at all; the error says what to add. */
  async "csp-no-wasm"(t) {
    const report = await support();
    t.info(JSON.stringify(report));
    t.eq(report.webAssembly, false, "support(): webAssembly false");
    t.ok(report.problems.some((p) => p.includes("'wasm-unsafe-eval'")), "support() says to add 'wasm-unsafe-eval'");
    let error;
    try {
      new Lock();
    } catch (e) {
      error = e;
    }
    t.ok(error instanceof UnsupportedEnvironmentError && /'wasm-unsafe-eval'/.test(error.message), `new Lock() says to add 'wasm-unsafe-eval' (${error?.name}: ${error?.message})`);
  },
};
