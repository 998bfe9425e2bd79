// The manager: Ansible's TaskQueueManager with the linear strategy. For each task, every host
// still in the play gets its own WorkerProcess, at most `forks` alive at once; each puts its
// result on the FinalQueue, which the manager reads with a timeout so that it never hangs: a
// worker that ended without a result (its exitCode says so) makes its host unreachable, and a
// task running past its `timeout` (counted from the start message its worker sends) is terminated.
import { EmptyError } from "forkless";
import { FinalQueue, WorkerProcess, clock } from "./worker.mjs";
import { selectHosts } from "./inventory.mjs";
import { STAT_KEYS } from "./display.mjs";

/** How long one wait on the final queue lasts before the manager looks at its workers again. */
const POLL_MS = 100;
/** After a result arrives its worker is returning from run(); give it this long to end. */
const JOIN_GRACE_MS = 5;

function emptyStats() {
  return Object.fromEntries(STAT_KEYS.map((k) => [k, 0]));
}

/** Status of a result for the recap, as Ansible counts it. */
function statusOf(result, task) {
  if (result.unreachable) return "unreachable";
  if (result.failed) return task.ignore_errors ? "ignored" : "failed";
  if (result.skipped) return "skipped";
  return result.changed ? "changed" : "ok";
}

/** A short line to show for a debug task (from its first host). */
function sampleMessage(task, result) {
  if (task.module !== "debug") return undefined;
  if (result.results) return result.results.find((r) => !r.skipped)?.msg;
  return result.msg;
}

export class TaskQueueManager {
  constructor({ inventory, forks, display }) {
    this.inventory = inventory;
    this.forks = forks;
    this.display = display;
    this.finalQ = new FinalQueue();
    this.stats = new Map(inventory.hosts.map((h) => [h.name, emptyStats()]));
    this.hostFacts = new Map(inventory.hosts.map((h) => [h.name, {}]));
    this.removed = new Set(); // hosts that failed or became unreachable: out of the play
    this.played = new Set(); // hosts some play ran on: the recap lists those
    this.processes = 0;
    this.tasks = 0;
    // Where a process's time goes (ms, summed over processes that sent a result; --timings).
    this.timings = { processes: 0, start: 0, boot: 0, run: 0, deliver: 0, end: 0, total: 0 };
  }

  /** One process's phases: start() on the manager, boot to run(), run(), result delivery, ending. */
  addTimings(entry, times) {
    const t = this.timings;
    t.processes++;
    t.start += entry.t1 - entry.t0;
    t.boot += times.begin - entry.t1;
    t.run += times.end - times.begin;
    t.deliver += entry.t2 - times.end;
    t.end += entry.t3 - entry.t2;
    t.total += entry.t3 - entry.t0;
  }

  async runPlaybook(playbook, { startMethod }) {
    try {
      for (const play of playbook.plays) {
        const hosts = selectHosts(this.inventory, play.hosts);
        for (const h of hosts) this.played.add(h.name);
        this.display.play(play, hosts.length, { forks: this.forks, startMethod });
        if (hosts.length === 0) {
          this.display.warn(`no hosts matched ${JSON.stringify(play.hosts)}; skipping the play`);
          continue;
        }
        for (const task of play.tasks) {
          const active = hosts.filter((h) => !this.removed.has(h.name));
          if (active.length === 0) {
            this.display.noMoreHosts();
            break;
          }
          this.tasks++;
          await this.runTask(play, task, active);
        }
      }
    } finally {
      this.finalQ.close();
    }
    return {
      stats: new Map([...this.stats].filter(([host]) => this.played.has(host))),
      hosts: this.played.size,
      tasks: this.tasks,
      processes: this.processes,
      forks: this.forks,
      startMethod,
      timings: this.timings,
      failedHosts: [...this.stats].filter(([, s]) => s.failed > 0 || s.unreachable > 0).map(([h]) => h),
    };
  }

  /** The variables a worker gets: inventory, then play vars, then facts and registered results. */
  hostVars(play, host) {
    return { ...host.vars, ...play.vars, ...this.hostFacts.get(host.name) };
  }

  async runTask(play, task, hosts) {
    const display = this.display;
    const counts = emptyStats();
    const failures = [];
    let sample; // a debug task's message from its first host, shown without -v
    const order = new Map(hosts.map((h, i) => [h.name, i]));
    const pending = [...hosts];
    const running = new Map(); // id → { p, host, result, deadline }
    let done = 0;
    display.taskStart(task, counts, hosts.length);

    const record = (entry, result) => {
      entry.result = result;
      const status = this.processResult(task, entry.host, result);
      counts[status === "changed" ? "ok" : status]++;
      if (status === "changed") counts.changed++;
      if (status === "ignored") counts.ok++;
      if (status === "failed" || status === "ignored" || status === "unreachable") failures.push({ host: entry.host, status, msg: result.msg });
      const msg = status === "ok" ? sampleMessage(task, result) : undefined;
      if (msg !== undefined && (!sample || order.get(entry.host) < order.get(sample.host))) sample = { host: entry.host, msg };
      display.hostResult(entry.host, status, result);
      done++;
      display.progress(task, counts, done, hosts.length);
    };
    const take = (message) => {
      const entry = running.get(message.id);
      if (!entry || entry.result) return; // a late result from a worker already given up on
      if (message.started) {
        entry.deadline = performance.now() + task.timeout * 1000;
        return;
      }
      entry.t2 = clock();
      entry.times = message.times;
      record(entry, message.result);
      entry.p.join(JOIN_GRACE_MS); // it is returning from run(); usually ends within microseconds
    };
    const drain = () => {
      while (true) {
        let message;
        try {
          message = this.finalQ.get(0);
        } catch (error) {
          if (error instanceof EmptyError) return;
          throw error;
        }
        take(message);
      }
    };

    while (done < hosts.length) {
      // Start workers while there are free slots (a slot is free once its process has ended).
      while (running.size < this.forks && pending.length > 0) {
        const host = pending.shift();
        const id = ++this.processes;
        const t0 = clock();
        const p = new WorkerProcess(this.finalQ, id, task, host.name, this.hostVars(play, host));
        p.start();
        running.set(id, { p, host: host.name, result: undefined, deadline: Infinity, t0, t1: clock() }); // deadline: set when the task starts
      }

      // Wait for a result, at most until the next thing to look at.
      drain();
      let wait = POLL_MS;
      for (const entry of running.values()) {
        if (entry.result) wait = Math.min(wait, 1); // ended its task, still ending: look again soon
        else if (entry.deadline !== Infinity) wait = Math.min(wait, Math.max(0, entry.deadline - performance.now()));
      }
      if (done < hosts.length && !hasEnded(running)) {
        try {
          take(await this.finalQ.getAsync(wait));
        } catch (error) {
          if (!(error instanceof EmptyError)) throw error;
        }
      }

      // Free the slots of workers that ended; a worker that ended without a result was lost.
      for (const [id, entry] of running) {
        if (entry.p.exitCode === null) {
          if (!entry.result && performance.now() >= entry.deadline) {
            entry.p.terminate();
            record(entry, { failed: true, msg: `the task timed out after ${task.timeout} s; its worker process was terminated` });
          }
          continue;
        }
        if (!entry.result) drain(); // its result may have arrived just before it ended
        if (!entry.result) {
          const failure = entry.p.failure ? `: ${entry.p.failure.name}: ${entry.p.failure.message}` : "";
          record(entry, {
            unreachable: true,
            msg: `worker process ${entry.p.name} ended with exit code ${entry.p.exitCode} without sending a result${failure}`,
          });
        }
        if (entry.times) {
          entry.t3 = clock();
          this.addTimings(entry, entry.times);
        }
        running.delete(id);
      }
    }
    // Every host has a result; wait (briefly) for the last workers to end before the next task.
    for (const entry of running.values()) {
      entry.p.join(1000);
      if (entry.times) {
        entry.t3 = clock();
        this.addTimings(entry, entry.times);
      }
    }
    display.taskEnd(task, counts, hosts.length, { failures, sample });
  }

  /** Updates the recap, facts and registered variables with one host's result; returns its status. */
  processResult(task, host, result) {
    const status = statusOf(result, task);
    const stats = this.stats.get(host);
    switch (status) {
      case "unreachable":
        stats.unreachable++;
        this.removed.add(host);
        break;
      case "failed":
        stats.failed++;
        this.removed.add(host);
        break;
      case "ignored":
        stats.ok++;
        stats.ignored++;
        if (result.changed) stats.changed++;
        break;
      case "skipped":
        stats.skipped++;
        break;
      default:
        stats.ok++;
        if (result.changed) stats.changed++;
    }
    const facts = this.hostFacts.get(host);
    if (!result.failed && !result.unreachable) {
      for (const r of result.results ?? [result]) if (r.ansible_facts && !r.skipped) Object.assign(facts, r.ansible_facts);
    }
    if (task.register) facts[task.register] = result;
    return status;
  }
}

/** True when some worker in the table has ended (so there is a slot to free or a loss to report). */
function hasEnded(running) {
  for (const entry of running.values()) if (entry.p.exitCode !== null) return true;
  return false;
}
