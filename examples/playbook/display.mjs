// What the runner prints: a line per task with its counts (rewritten in place while the task
// runs when stdout is a terminal), failures grouped by message with where the task is, and a
// PLAY RECAP per host like ansible-playbook's. Colors only on a terminal (NO_COLOR turns them off).

const COLORS = { ok: 32, changed: 33, unreachable: 31, failed: 31, skipped: 36, ignored: 35, bold: 1, dim: 2 };
export const STAT_KEYS = ["ok", "changed", "unreachable", "failed", "skipped", "ignored"];

function plural(n, word, words = `${word}s`) {
  return `${n} ${n === 1 ? word : words}`;
}

export class Display {
  constructor({ out = process.stdout, verbose = false, color } = {}) {
    this.out = out;
    this.verbose = verbose;
    this.tty = Boolean(out.isTTY);
    this.color = color ?? (this.tty && !process.env.NO_COLOR);
    this.live = false;
    this.lastDraw = 0;
  }

  paint(text, style) {
    return this.color && COLORS[style] ? `\x1b[${COLORS[style]}m${text}\x1b[0m` : text;
  }

  write(text) {
    this.out.write(text);
  }

  /** Prints a whole line, first clearing a progress line drawn in place. */
  line(text = "") {
    if (this.live) {
      this.write("\r\x1b[2K");
      this.live = false;
    }
    this.write(`${text}\n`);
  }

  banner(title) {
    const head = `${title} `;
    this.line();
    this.line(this.paint(head + "*".repeat(Math.max(3, 79 - head.length)), "bold"));
  }

  play(play, hosts, { forks, startMethod }) {
    this.banner(`PLAY [${play.name}]`);
    this.line(this.paint(`${plural(hosts, "host")}, at most ${forks} worker processes at once (start method ${startMethod})`, "dim"));
  }

  warn(text) {
    this.line(this.paint(`[WARNING]: ${text}`, "changed"));
  }

  counts(counts) {
    return STAT_KEYS.filter((k) => counts[k] > 0 || k === "ok")
      .map((k) => this.paint(`${k}=${counts[k]}`, counts[k] > 0 ? k : undefined))
      .join(" ");
  }

  taskLine(task, counts, done, total, seconds) {
    const time = seconds === undefined ? "" : `  ${seconds.toFixed(2)} s`;
    return `TASK [${task.name}] ${String(done).padStart(String(total).length)}/${total}  ${this.counts(counts)}${time}`;
  }

  taskStart(task, counts, total) {
    this.taskStarted = performance.now();
    if (this.verbose) this.line(`TASK [${task.name}]`);
    else if (this.tty) this.progress(task, counts, 0, total, true);
  }

  /** Redraws the task's line in place (terminals only; at most every 50 ms unless forced). */
  progress(task, counts, done, total, force = false) {
    if (!this.tty || this.verbose) return;
    const t = performance.now();
    if (!force && t - this.lastDraw < 50) return;
    this.lastDraw = t;
    this.write(`\r\x1b[2K${this.taskLine(task, counts, done, total, (t - this.taskStarted) / 1000)}`);
    this.live = true;
  }

  /** One host's result, printed with -v. */
  hostResult(host, status, result) {
    if (!this.verbose) return;
    const label = { ok: "ok", changed: "changed", skipped: "skipping", failed: "fatal", ignored: "fatal", unreachable: "fatal" }[status];
    const detail = result.msg !== undefined ? ` => ${result.msg}` : result.digest ? ` => digest ${result.digest.slice(0, 16)}…` : "";
    this.line(`  ${this.paint(`${label}: [${host}]${detail}${status === "ignored" ? " ...ignoring" : ""}`, status === "ignored" ? "failed" : status)}`);
  }

  taskEnd(task, counts, total, { failures, sample }) {
    const seconds = (performance.now() - this.taskStarted) / 1000;
    if (this.verbose) this.line(this.paint(`  ${total}/${total}  `, "dim") + `${this.counts(counts)}  ${seconds.toFixed(2)} s`);
    else this.line(this.taskLine(task, counts, total, total, seconds));
    if (sample && !this.verbose) {
      const more = total > 1 ? this.paint(`  (and ${total - 1} more hosts; -v prints each)`, "dim") : "";
      this.line(`  ${this.paint(`ok: [${sample.host}] => ${sample.msg}`, "ok")}${more}`);
    }
    // Failures, grouped by message so that one cause on 50 hosts is one line. Results arrive in
    // completion order; hosts and groups are listed in a stable (inventory-like) order.
    const byName = (a, b) => a.localeCompare(b, "en", { numeric: true });
    const groups = new Map();
    for (const f of [...failures].sort((a, b) => byName(a.host, b.host))) {
      const key = `${f.status}\u0000${f.msg}`;
      if (!groups.has(key)) groups.set(key, { ...f, hosts: [] });
      groups.get(key).hosts.push(f.host);
    }
    for (const g of groups.values()) {
      const hosts = g.hosts.length <= 4 ? g.hosts.join(", ") : `${g.hosts.slice(0, 3).join(", ")}, … ${g.hosts.length} hosts`;
      const what = g.status === "unreachable" ? "UNREACHABLE!" : "FAILED!";
      const tail = g.status === "ignored" ? " ...ignoring" : "";
      this.line(`  ${this.paint(`fatal: [${hosts}]: ${what} => ${g.msg}${tail}`, g.status === "ignored" ? "failed" : g.status)}`);
    }
    if (groups.size > 0 && [...groups.values()].some((g) => g.status !== "ignored")) {
      this.line(this.paint(`  The error appears to be in '${task.file}': line ${task.line}, column ${task.col} (task "${task.name}")`, "failed"));
    }
  }

  /** --timings: where a worker process's time went, on average. */
  timings(t) {
    if (t.processes === 0) return;
    const avg = (k) => (t[k] / t.processes).toFixed(2).padStart(8);
    this.line();
    this.line(`Per worker process, average of ${t.processes} (ms):`);
    this.line(`  ${avg("start")}  Process.start() on the manager (fields cloned, worker handed the boot message)`);
    this.line(`  ${avg("boot")}  from start() to run() in the child (reuse: a worker that ran an earlier process decodes the fields; warm: a booted worker imports worker.mjs first; spawn: boots a worker first)`);
    this.line(`  ${avg("run")}  run(): the task itself (templating, the module)`);
    this.line(`  ${avg("deliver")}  from put() on the FinalQueue to the manager taking the result`);
    this.line(`  ${avg("end")}  from the result to the manager seeing the process ended`);
    this.line(`  ${avg("total")}  start() to ended`);
  }

  noMoreHosts() {
    this.line();
    this.line(this.paint("NO MORE HOSTS LEFT " + "*".repeat(60), "failed"));
  }

  recap(stats, summary) {
    this.banner("PLAY RECAP");
    for (const [host, s] of stats) {
      const style = s.failed > 0 || s.unreachable > 0 ? "failed" : s.changed > 0 ? "changed" : "ok";
      const name = this.paint(host.padEnd(26), style);
      const cells = STAT_KEYS.map((k) => {
        const cell = `${k}=${String(s[k]).padEnd(4)}`;
        return s[k] > 0 ? this.paint(cell, k) : cell;
      });
      this.line(`${name} : ${cells.join(" ")}`.trimEnd());
    }
    this.line();
    this.line(
      `${plural(summary.hosts, "host")}, ${plural(summary.tasks, "task")}, ${plural(summary.processes, "worker process", "worker processes")} ` +
        `(forks ${summary.forks}, start method ${summary.startMethod}) in ${summary.elapsed.toFixed(2)} s`,
    );
  }
}
