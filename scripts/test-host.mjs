// npm run test:host — the host suites (tests/host/*.test.mjs) on every Node the README promises:
// the system node (20) and the Node 22 and 24 binaries installed from the npm registry as
// devDependencies.
//
// Each file runs alone in its own process group (`node --expose-gc --import scripts/watchdog.mjs
// --test <file>`), one after the other (the machine running this may have 2 cores), under a
// wall-clock limit. The limit is what makes a run end: Node's per-test `timeout` fires on the
// main thread's event loop, which a main thread spinning in Wasm or asleep in Atomics.wait never
// returns to (a fresh-clone run once hung 8+ minutes that way, until CI's own 90-minute limit).
// A file past its limit is killed with its whole process group (its worker threads and any
// child process it spawned) and reported with the watchdog's dump of what it was doing, taken
// shortly before the kill (scripts/watchdog.mjs); the run goes on with the next file and exits
// non-zero at the end.
//
//   node scripts/test-host.mjs [file …]       a subset (paths as given, e.g. tests/host/locks.test.mjs)
//   FORKLESS_NODES=node20,node24              a subset of the engines
//   FORKLESS_FILE_TIMEOUT_MS=240000           the limit per file (a file in LONGER gets more)
//   FORKLESS_HOST_TIMEOUT_MS=1800000          no file starts after this much time (all engines)
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const WATCHDOG = pathToFileURL(join(ROOT, "scripts/watchdog.mjs")).href;

// Files take 1–46 s each on the 2-core machine this was measured on (the slowest, queues and
// process-scale, 17–46 s depending on its load); 240 s leaves room for a slower CI machine and
// still ends a hung file in minutes. A few per-test timeouts are as long or longer (queues' Ansible
// test 240 s, process-scale's hygiene test 300 s): those ceilings are for far slower machines, and
// a hang there is reported by this limit instead, with a main-thread stack that names the test.
const DEFAULT_LIMIT_MS = 240_000;
// FORKLESS_SOAK=1 turns the long tests of queues, pipes and process-scale up to 600–900 s each.
const SOAK_LIMIT_MS = 1_800_000;
// Files that need more than the default, with the reason. None today.
const LONGER = {};
// A run where every file hangs (a broken build) would otherwise take files × engines × the limit:
// once this much time is spent, the files not started yet are reported as not run. A full run
// takes about 6 min here (three engines); CI gives the whole of npm test 90 min.
const RUN_BUDGET_MS = 1_800_000;

const ENGINES = [
  ["node20", process.execPath],
  ["node22", join(ROOT, "node_modules/node22/bin/node")],
  ["node24", join(ROOT, "node_modules/node24/bin/node")],
];

function fail(message) {
  console.error(`test-host: ${message}`);
  process.exit(2);
}

function positiveMs(name) {
  const text = process.env[name];
  if (text === undefined || text === "") return undefined;
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms <= 0) fail(`${name}=${text} is not a positive number of milliseconds`);
  return ms;
}

const baseLimit = positiveMs("FORKLESS_FILE_TIMEOUT_MS") ?? (process.env.FORKLESS_SOAK === "1" ? SOAK_LIMIT_MS : DEFAULT_LIMIT_MS);
const limitFor = (file) => Math.max(baseLimit, LONGER[file] ?? 0);
const budget = positiveMs("FORKLESS_HOST_TIMEOUT_MS") ?? (process.env.FORKLESS_SOAK === "1" ? Infinity : RUN_BUDGET_MS);
// The watchdog dumps this long before the kill: time to pause every thread and write the dump
// (well under 1 s when the threads answer; 1 s more for each round that waits on an idle one).
const marginFor = (limit) => Math.min(10_000, Math.max(3_000, Math.round(limit / 4)));

const only = process.env.FORKLESS_NODES?.split(",").filter(Boolean);
for (const name of only ?? []) if (!ENGINES.some(([n]) => n === name)) fail(`FORKLESS_NODES: unknown engine ${name}; use ${ENGINES.map(([n]) => n).join(", ")}`);
const engines = ENGINES.filter(([name]) => !only || only.includes(name));

const args = process.argv.slice(2);
const files = (
  args.length
    ? args.map((arg) => {
        const path = resolve(arg);
        if (!existsSync(path)) fail(`no such test file: ${arg}`);
        return relative(ROOT, path);
      })
    : readdirSync(join(ROOT, "tests/host"))
        .filter((f) => f.endsWith(".test.mjs"))
        .sort()
        .map((f) => `tests/host/${f}`)
);

// ---------------------------------------------------------------- one file

const workDir = mkdtempSync(join(tmpdir(), "forkless-test-host-"));
let running; // the child process of the file being run, for the signal handlers

/** Runs one file; { outcome: "passed" | "failed" | "timed out", ms, exit, dump, leftovers }. */
function runFile(engine, bin, file) {
  const limit = limitFor(file);
  const dumpFile = join(workDir, `${engine}-${basename(file)}.dump`);
  rmSync(dumpFile, { force: true });
  const started = Date.now();
  const env = {
    ...process.env,
    FORKLESS_WATCHDOG_MS: String(Math.max(0, limit - marginFor(limit))),
    FORKLESS_WATCHDOG_SINCE: String(started),
    FORKLESS_WATCHDOG_FILE: dumpFile,
  };
  // Set when this runner itself runs under node --test (tests/host/runner.test.mjs): the file's
  // node --test would take itself for a test runner's child and not run it as a test file.
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(bin, ["--expose-gc", "--import", WATCHDOG, "--test", "--test-concurrency=1", file], {
    cwd: ROOT,
    // stdin: a process group in the background that reads the terminal is stopped (SIGTTIN).
    stdio: ["ignore", "inherit", "inherit"],
    detached: true, // its own process group: one kill(-pgid) ends it and everything it started
    env,
  });
  running = child;
  return new Promise((done) => {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, limit);
    const finish = (exit) => {
      clearTimeout(timer);
      running = undefined;
      const ms = Date.now() - started;
      // The leader is gone; whatever it left running in its group goes too.
      const leftovers = timedOut ? [] : groupMembers(child.pid);
      killGroup(child.pid);
      const dump = existsSync(dumpFile) ? readFileSync(dumpFile, "utf8") : undefined;
      const outcome = timedOut ? "timed out" : exit.code === 0 ? "passed" : "failed";
      done({ outcome, ms, limit, exit, dump, leftovers });
    };
    child.once("exit", (code, signal) => finish({ code, signal }));
    child.once("error", (error) => finish({ code: null, signal: null, error }));
  });
}

function killGroup(pgid) {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {} // ESRCH: nothing left in it
}

/** The live (not zombie) processes of a process group, from /proc; [] where there is none. */
function groupMembers(pgid) {
  const members = [];
  let entries = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return members;
  }
  for (const pid of entries) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // state, ppid, pgrp, …
      if (Number(fields[2]) !== pgid || fields[0] === "Z") continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
      members.push(`${pid} ${command.slice(0, 120)}`);
    } catch {}
  }
  return members;
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    // The file's group is not in the terminal's foreground group: Ctrl-C reaches only us.
    if (running) killGroup(running.pid);
    rmSync(workDir, { recursive: true, force: true });
    console.log(`\ntest-host: interrupted (${signal}); the file that was running was killed`);
    process.exit(130);
  });
}

// ---------------------------------------------------------------- reports

function seconds(ms) {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

function exitText({ code, signal, error }) {
  if (error) return `could not start: ${error.message}`;
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

function report(engine, version, file, result) {
  const bar = "!".repeat(78);
  const where = `${file} on ${engine} (${version})`;
  if (result.outcome === "timed out") {
    console.log(`\n${bar}`);
    console.log(`!! TIMED OUT: ${where}: still running after ${seconds(result.ms)}, past its limit of ${seconds(result.limit)};`);
    console.log(`!! killed (SIGKILL) with its whole process group. Limit: FORKLESS_FILE_TIMEOUT_MS, or LONGER in scripts/test-host.mjs.`);
    console.log(bar);
    console.log(result.dump ?? "(no watchdog dump: the process did not start it, or died before its deadline)");
  } else if (result.outcome === "failed") {
    console.log(`\n!! FAILED: ${where}: ${exitText(result.exit)} after ${seconds(result.ms)} (its output is above)`);
  } else if (result.dump) {
    console.log(`\nnote: ${where} passed but took ${seconds(result.ms)}, close to its limit of ${seconds(result.limit)}; the watchdog's dump:`);
    console.log(result.dump);
  }
  if (result.leftovers.length) {
    console.log(`note: ${where} left ${result.leftovers.length} process(es) running in its group after it exited; killed:`);
    for (const line of result.leftovers) console.log(`    ${line}`);
  }
}

// ---------------------------------------------------------------- main

const runStarted = Date.now();
const summaries = [];
for (const [engine, bin] of engines) {
  if (!existsSync(bin)) {
    summaries.push({ engine, missing: `missing at ${bin}; run npm ci` });
    console.error(`test-host: ${engine} is missing at ${bin}; run npm ci`);
    continue;
  }
  const version = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 30_000 }).stdout?.trim() || "version unknown";
  const limits = [...new Set(files.map(limitFor))].map(seconds).join("/");
  console.log(`\n=== host tests on ${engine} (${version}): ${files.length} file(s), one at a time, each limited to ${limits} ===`);
  const engineStarted = Date.now();
  const results = [];
  for (const file of files) {
    if (Date.now() - runStarted > budget) {
      results.push({ file, outcome: "not run", ms: 0 });
      continue;
    }
    console.log(`\n--- ${engine} ${file}`);
    const result = await runFile(engine, bin, file);
    results.push({ file, ...result });
    report(engine, version, file, result);
  }
  summaries.push({ engine, version, results, ms: Date.now() - engineStarted });
}
rmSync(workDir, { recursive: true, force: true });

console.log(`\n=== test-host summary (${seconds(Date.now() - runStarted)}) ===`);
let ok = true;
for (const { engine, version, results, ms, missing } of summaries) {
  if (missing) {
    ok = false;
    console.log(`${engine}: NOT RUN, ${missing}`);
    continue;
  }
  const count = (outcome) => results.filter((r) => r.outcome === outcome).length;
  const notRun = results.filter((r) => r.outcome === "not run");
  const slowest = results
    .filter((r) => r.outcome !== "not run")
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 3)
    .map((r) => `${basename(r.file, ".test.mjs")} ${seconds(r.ms)}`)
    .join(", ");
  console.log(
    `${engine} (${version}): ${count("passed")} passed, ${count("failed")} failed, ${count("timed out")} timed out, ` +
      (notRun.length ? `${notRun.length} not run, ` : "") +
      `in ${seconds(ms)}` +
      (results.length > 1 ? ` (slowest: ${slowest})` : ""),
  );
  if (notRun.length) console.log(`    not run:   ${notRun.length} file(s): the run's budget of ${seconds(budget)} was spent (FORKLESS_HOST_TIMEOUT_MS)`);
  for (const r of results) {
    if (r.outcome === "failed") console.log(`    failed:    ${r.file} (${exitText(r.exit)}, ${seconds(r.ms)})`);
    if (r.outcome === "timed out") console.log(`    timed out: ${r.file} (killed after ${seconds(r.ms)})`);
  }
  if (count("passed") !== results.length) ok = false;
}
process.exit(ok ? 0 : 1);
