// The main job: the bundled playbook (examples/playbook/site.yml) on 50 simulated hosts with
// forks 8 — one worker process per (task, host), 450 processes — by bin/forkless-playbook.mjs,
// against the same program in Python (bench/python/playbook.py) with multiprocessing's fork
// and spawn start methods. One repetition = one run of the program in a child process; the
// figure is the run's own elapsed seconds (from creating the manager and its final queue to
// the last result; interpreter start-up and imports excluded on both sides). Every run's
// recap totals are checked against the expected ones, so a fast wrong run cannot count.
//
// Two figures: playbook.run is npm start's run (start method "reuse": a worker whose process
// ended cleanly takes the next one, like a Pool's workers); playbook.run.warm gives every
// process a worker that never ran user code, as fork gives Python a fresh process per task.
// Python's spawn baseline takes about a minute per run, so it runs 3 times (no goal uses it).
import { execFile, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { python } from "../lib/python.mjs";

const HOSTS = 50;
/** A run ends hundreds of processes or threads; let the machine settle before the next measurement. */
const SETTLE_MS = 300;
const FORKS = 8;
const playbook = fileURLToPath(new URL("../../examples/playbook/site.yml", import.meta.url));
const runner = fileURLToPath(new URL("../../bin/forkless-playbook.mjs", import.meta.url));
const twin = fileURLToPath(new URL("../python/playbook.py", import.meta.url));

/** Recap totals of site.yml on n hosts (see the playbook): cache hosts warm the cache, every 10th host's migration fails (ignored). */
function expectedTotals(n) {
  let cache = 0;
  let tenth = 0;
  for (let i = 1; i <= n; i++) {
    if (i % 3 === 0) cache++;
    if (i % 10 === 0) tenth++;
  }
  return { ok: 7 * n + cache + tenth, changed: n, unreachable: 0, failed: 0, skipped: 2 * n - cache - tenth, ignored: tenth };
}

function runJson(file, args, what) {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 600_000, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(new Error(`${what}: ${error.message}\n${stderr}`));
      try {
        const summary = JSON.parse(stdout.trim().split("\n").pop());
        resolve(summary);
      } catch {
        reject(new Error(`${what} exited ${error?.code ?? 0} without a JSON summary:\n${stdout}\n${stderr}`));
      }
    });
  });
}

/** One run; checks the totals; returns its elapsed seconds. */
async function once(file, args, what, hosts) {
  const summary = await runJson(file, args, what);
  const expected = expectedTotals(hosts);
  if (summary.exit_code !== 0 || JSON.stringify(summary.totals) !== JSON.stringify(expected)) {
    throw new Error(`${what}: wrong recap: exit ${summary.exit_code}, totals ${JSON.stringify(summary.totals)}, expected ${JSON.stringify(expected)}`);
  }
  if (!(summary.elapsed_s > 0)) throw new Error(`${what}: no elapsed_s in ${JSON.stringify(summary)}`);
  return summary.elapsed_s;
}

/** A session whose repetition is one run; start() makes one tiny run first (2 hosts: checks the program, loads its files into the page cache). */
async function runSession(command) {
  await once(...command(2), 2);
  return { rep: () => once(...command(HOSTS), HOSTS), close: async () => {} };
}

const jsCommand = (method) => (hosts) => [
  process.execPath,
  [runner, playbook, "--hosts", String(hosts), "--forks", String(FORKS), "--start-method", method, "--json"],
  `forkless-playbook (${method})`,
];

const pythonCommand = (method) => (hosts) => [
  python().executable,
  ["-B", twin, playbook, "--hosts", String(hosts), "--forks", String(FORKS), "--start-method", method, "--json"],
  `playbook.py (${method})`,
];

let pythonProblem;
function pythonSkip() {
  if (pythonProblem !== undefined) return pythonProblem;
  const py = python();
  if (!py) return (pythonProblem = "python3 not found on PATH; Python baselines skipped");
  const check = spawnSync(py.executable, ["-c", "import yaml, jinja2"], { encoding: "utf8", timeout: 30_000 });
  pythonProblem = check.status === 0 ? null : `the Python twin needs PyYAML and Jinja2 (${check.stderr.trim().split("\n").pop()}); skipped`;
  return pythonProblem;
}

function pythonPlaybookBaseline(method) {
  return {
    ...(method === "spawn" ? { maxReps: 3 } : { maxReps: 5 }),
    settleMs: SETTLE_MS,
    id: `python.mp-${method}`,
    unit: "s",
    better: "lower",
    description:
      `bench/python/playbook.py, the same playbook runner in Python (multiprocessing ${method}: a WorkerProcess per task and host, ` +
      `FinalQueue(SimpleQueue), PyYAML, Jinja2), site.yml, ${HOSTS} hosts, forks ${FORKS}`,
    skip: pythonSkip,
    info() {
      const py = python();
      return py ? { python: py.version, pythonExecutable: py.executable } : {};
    },
    start: () => runSession(pythonCommand(method)),
  };
}

export const baselines = [pythonPlaybookBaseline("fork"), pythonPlaybookBaseline("spawn")];

export const figures = [
  {
    id: "playbook.run",
    unit: "s",
    better: "lower",
    maxReps: 5,
    settleMs: SETTLE_MS,
    description:
      `npm start's run: bin/forkless-playbook.mjs, examples/playbook/site.yml on ${HOSTS} simulated hosts, forks ${FORKS}: ` +
      `${HOSTS * 9} worker processes (start method reuse: a worker whose process ended cleanly takes the next), results on a FinalQueue`,
    against: ["python.mp-fork", "python.mp-spawn"],
    goals: { "python.mp-fork": 1.0 },
    start: () => runSession(jsCommand("reuse")),
  },
  {
    id: "playbook.run.warm",
    unit: "s",
    better: "lower",
    maxReps: 5,
    settleMs: SETTLE_MS,
    description:
      `the same run with start method warm: each of the ${HOSTS * 9} processes gets a worker that never ran user code ` +
      "(a Node worker boot per process, the counterpart of fork's fresh process)",
    against: ["python.mp-fork", "python.mp-spawn"],
    start: () => runSession(jsCommand("warm")),
  },
];
