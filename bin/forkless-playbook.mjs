#!/usr/bin/env node
// forkless-playbook: runs an Ansible-style playbook on simulated hosts, one forkless worker
// process per (task, host), at most --forks at once (the linear strategy).
//
//   node bin/forkless-playbook.mjs [playbook.yml] [options]      (npm start runs the bundled one)
//
//   --playbook FILE         the playbook (default examples/playbook/site.yml)
//   --hosts N               how many simulated hosts the inventory has (default 50)
//   --forks N               worker processes alive at most (default 8)
//   --start-method M        forkless start method: reuse (default), warm or spawn
//   --warm-pool N           booted workers kept ready for the first processes (default: --forks)
//   -v, --verbose           print every host's result
//   --json                  print only a JSON summary (elapsed seconds, recap, timings) at the end
//   --timings               after the recap, where a worker process's time goes, on average
//   --no-color              no colors even on a terminal (NO_COLOR works too)
//
// Exit status: 0 when every host succeeded (failures under ignore_errors count as ignored),
// 2 when a host failed or was unreachable, and 2 for a bad playbook or bad options (the
// message names the task and line); 1 for an unexpected error.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isMainProcess, setStartMethod, setWarmPoolSize } from "forkless";
import { loadPlaybook, PlaybookError } from "../examples/playbook/playbook.mjs";
import { makeInventory } from "../examples/playbook/inventory.mjs";
import { TaskQueueManager } from "../examples/playbook/strategy.mjs";
import { Display, STAT_KEYS } from "../examples/playbook/display.mjs";

const EXIT_HOSTS_FAILED = 2;
const EXIT_BAD_INPUT = 2;
const DEFAULT_PLAYBOOK = fileURLToPath(new URL("../examples/playbook/site.yml", import.meta.url));

function usage() {
  return readFileSync(fileURLToPath(import.meta.url), "utf8")
    .split("\n")
    .slice(1)
    .filter((line) => line.startsWith("//"))
    .map((line) => line.slice(3))
    .join("\n");
}

class UsageError extends Error {}

function positiveInt(value, flag, max) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} must be an integer from 1 to ${max}; got ${JSON.stringify(value)}`);
  return n;
}

function options(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        playbook: { type: "string" },
        hosts: { type: "string", default: "50" },
        forks: { type: "string", default: "8" },
        "start-method": { type: "string", default: "reuse" },
        "warm-pool": { type: "string" },
        verbose: { type: "boolean", short: "v", default: false },
        json: { type: "boolean", default: false },
        timings: { type: "boolean", default: false },
        "no-color": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError(error.message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };
  if (positionals.length > 1 || (positionals.length === 1 && values.playbook)) {
    throw new UsageError("give one playbook, either as an argument or with --playbook");
  }
  const forks = positiveInt(values.forks, "--forks", 64);
  const startMethod = values["start-method"];
  if (!["warm", "spawn", "reuse"].includes(startMethod)) throw new UsageError(`--start-method must be warm, spawn or reuse; got ${JSON.stringify(startMethod)}`);
  return {
    playbook: values.playbook ?? positionals[0] ?? DEFAULT_PLAYBOOK,
    hosts: positiveInt(values.hosts, "--hosts", 100_000),
    forks,
    startMethod,
    warmPool: values["warm-pool"] === undefined ? Math.min(forks, 64) : Number(values["warm-pool"]),
    verbose: values.verbose,
    json: values.json,
    timings: values.timings,
    color: values["no-color"] ? false : undefined,
  };
}

async function main() {
  let opts;
  try {
    opts = options(process.argv.slice(2));
    if (opts.help) {
      console.log(usage());
      return 0;
    }
    if (!Number.isInteger(opts.warmPool) || opts.warmPool < 0 || opts.warmPool > 64) throw new UsageError("--warm-pool must be an integer from 0 to 64");
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`forkless-playbook: ${error.message}\n\n${usage()}`);
    return EXIT_BAD_INPUT;
  }

  let playbook;
  try {
    playbook = loadPlaybook(opts.playbook);
  } catch (error) {
    if (!(error instanceof PlaybookError)) throw error;
    console.error(error.format());
    return EXIT_BAD_INPUT;
  }

  setStartMethod(opts.startMethod);
  if (opts.startMethod !== "spawn") setWarmPoolSize(opts.warmPool);
  const display = opts.json ? new Display({ out: { write() {}, isTTY: false } }) : new Display({ verbose: opts.verbose, color: opts.color });
  // Timed like the Python twin: from creating the manager (and its final queue) to the last result.
  const started = performance.now();
  const tqm = new TaskQueueManager({ inventory: makeInventory(opts.hosts), forks: opts.forks, display });
  const summary = await tqm.runPlaybook(playbook, { startMethod: opts.startMethod });
  summary.elapsed = (performance.now() - started) / 1000;
  const code = summary.failedHosts.length > 0 ? EXIT_HOSTS_FAILED : 0;
  if (opts.json) {
    const totals = Object.fromEntries(STAT_KEYS.map((k) => [k, 0]));
    for (const s of summary.stats.values()) for (const k of STAT_KEYS) totals[k] += s[k];
    console.log(
      JSON.stringify({
        elapsed_s: summary.elapsed,
        hosts: summary.hosts,
        tasks: summary.tasks,
        processes: summary.processes,
        forks: summary.forks,
        start_method: summary.startMethod,
        exit_code: code,
        failed_hosts: summary.failedHosts,
        totals,
        recap: Object.fromEntries(summary.stats),
        timings: summary.timings,
      }),
    );
  } else {
    display.recap(summary.stats, summary);
    if (opts.timings) display.timings(summary.timings);
  }
  return code;
}

if (isMainProcess()) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error) => {
      console.error(`forkless-playbook: unexpected error: ${error?.stack ?? error}`);
      process.exitCode = 1;
    },
  );
}
