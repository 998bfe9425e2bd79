// The test runner itself (scripts/test-host.mjs with its preload scripts/watchdog.mjs), on the
// engine running this file, with an 8 s limit per file: a file whose main thread hangs (in Wasm,
// in a JS loop, or idle awaiting forever) is killed in time with everything it started and
// reported as timed out with the watchdog's dump; a passing file passes, a failing one fails.
// The fixtures are tests/host/fixtures/runner-*.mjs (outside the tests/host/*.test.mjs glob).
// The four runs go in parallel: three of them wait out the limit, and only one spins a core.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as delay } from "node:timers/promises";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const ENGINE = `node${process.versions.node.split(".")[0]}`; // node20, node22, node24: the runner's names
const LIMIT_MS = 8_000;
const SLACK_MS = 4_000; // past the limit: the kill, and the runner's own start (one `node --version`)
const fixture = (name) => `tests/host/fixtures/runner-${name}.mjs`;

const scratch = mkdtempSync(join(tmpdir(), "forkless-runner-test-"));
const PIDFILE = join(scratch, "child.pid");

function runRunner(files) {
  const started = Date.now();
  const child = spawn(process.execPath, ["scripts/test-host.mjs", ...files.map(fixture)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FORKLESS_FILE_TIMEOUT_MS: String(LIMIT_MS), FORKLESS_NODES: ENGINE, FORKLESS_RUNNER_FIXTURE_PIDFILE: PIDFILE },
  });
  let out = "";
  child.stdout.on("data", (chunk) => (out += chunk));
  child.stderr.on("data", (chunk) => (out += chunk));
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, out, ms: Date.now() - started })));
}

// Started together at load; each test below awaits its own.
const runs = {
  mixed: runRunner(["pass", "fail", "hang-wasm"]),
  spin: runRunner(["hang-spin"]),
  idle: runRunner(["hang-idle"]),
  pass: runRunner(["pass"]),
};
after(async () => {
  await Promise.allSettled(Object.values(runs));
  rmSync(scratch, { recursive: true, force: true });
});

/** The runner's output for one file: from its "--- engine file" line to the next file or the summary. */
function section(out, name) {
  const start = out.indexOf(`--- ${ENGINE} ${fixture(name)}\n`);
  assert.notEqual(start, -1, `no section for ${fixture(name)} in:\n${out}`);
  const rest = out.slice(start + 1);
  const end = rest.search(/\n--- |\n=== test-host summary/);
  return end === -1 ? rest : rest.slice(0, end);
}

function summary(out) {
  const start = out.indexOf("=== test-host summary");
  assert.notEqual(start, -1, `no summary in:\n${out}`);
  return out.slice(start);
}

/** The seconds the runner says it let a timed-out file run. */
function killedAfter(out, name) {
  const m = summary(out).match(new RegExp(`timed out: ${fixture(name).replaceAll(".", "\\.")} \\(killed after ([\\d.]+) s\\)`));
  assert.ok(m, `${fixture(name)} not reported as timed out in:\n${summary(out)}`);
  return Number(m[1]) * 1000;
}

/** "main thread NN%" from the dump's CPU line. */
function mainCpu(text) {
  const m = text.match(/CPU over the last [\d.]+ s: main thread (\d+)%/);
  assert.ok(m, `no CPU line in:\n${text}`);
  return Number(m[1]);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z"; // a zombie is dead
  } catch {
    return true;
  }
}

function assertDump(t, text, file) {
  const taken = text.match(/still running ([\d.]+ s) after it started.*\n[^]*taken in ([\d.]+ s)/);
  if (taken) t.diagnostic(`${file}: dump at ${taken[1]}, taken in ${taken[2]}`);
  assert.match(text, new RegExp(`TIMED OUT: ${fixture(file).replaceAll(".", "\\.")} on ${ENGINE} `));
  assert.match(text, /==== forkless watchdog: .* still running [\d.]+ s after it started/);
  assert.match(text, /==== end of forkless watchdog dump \(taken in [\d.]+ s\) ====/);
}

test("a file whose main thread waits in Wasm is killed at its limit with its threads and child processes, and its dump shows where", { timeout: 60_000 }, async (t) => {
  const { code, out, ms } = await runs.mixed;
  assert.equal(code, 1, out);
  // Two short files (a second or two each, more on a busy machine) and one that hangs.
  assert.ok(ms < 10_000 + LIMIT_MS + SLACK_MS, `the run took ${ms} ms for one hanging file with a ${LIMIT_MS} ms limit:\n${out}`);
  assert.ok(killedAfter(out, "hang-wasm") < LIMIT_MS + 1_000);
  const text = section(out, "hang-wasm");
  assertDump(t, text, "hang-wasm");
  // The main thread's stack, taken while it waits: the Wasm frame on top of the fixture's.
  assert.match(text, /main thread stack:\n {4}at \S+ \(wasm:\/\/[^\n]*\n(?: {4}at [^\n]*\n)*? {4}at acquireTheLockAgain \([^)]*runner-hang-wasm\.mjs:\d+:\d+\)/, text);
  assert.ok(mainCpu(text) < 50, `a thread asleep in a wait should not use a core:\n${text}`);
  assert.match(text, /forkless state \(shared memory [\d.]+ MiB\)/); // dumpState's text, or why there is none
  assert.match(text, /runner-fixture-worker stack:\n(?: {6}at [^\n]*\n)*? {6}at waitInWorker /);
  const pid = Number(readFileSync(PIDFILE, "utf8"));
  for (let i = 0; alive(pid) && i < 30; i++) await delay(100);
  assert.equal(alive(pid), false, `the fixture's child process ${pid} survived the kill`);
});

test("a file whose main thread spins in JS is killed at its limit; its dump shows the loop and a busy main thread", { timeout: 60_000 }, async (t) => {
  const { code, out, ms } = await runs.spin;
  assert.equal(code, 1, out);
  assert.ok(ms < LIMIT_MS + SLACK_MS, `the run took ${ms} ms:\n${out}`);
  assert.ok(killedAfter(out, "hang-spin") < LIMIT_MS + 1_000);
  const text = section(out, "hang-spin");
  assertDump(t, text, "hang-spin");
  assert.match(text, /main thread stack:\n {4}at spinForever \([^)]*runner-hang-spin\.mjs:\d+:\d+\)/);
  // 100% alone; the bar is low because this machine may be busy with other work (2 cores shared
  // by this file's four runs and whatever else runs): a waiting thread shows 0%.
  assert.ok(mainCpu(text) >= 5, `a spinning main thread should use a core:\n${text}`);
  assert.match(text, /forkless state \(shared memory/);
});

test("a file that awaits forever with an idle main thread is killed at its limit; its dump says idle and what keeps it alive", { timeout: 60_000 }, async (t) => {
  const { code, out, ms } = await runs.idle;
  assert.equal(code, 1, out);
  assert.ok(ms < LIMIT_MS + SLACK_MS, `the run took ${ms} ms:\n${out}`);
  const text = section(out, "hang-idle");
  assertDump(t, text, "hang-idle");
  assert.match(text, /main thread: not running JavaScript/); // nothing of its own: a Node callback may be caught
  assert.match(text, /main thread's event loop is idle .*kept alive by: .*Timeout/);
  assert.match(text, /forkless state: no forkless runtime was created on the main thread/);
});

test("passing and failing files are reported as such; a run of passing files exits 0", { timeout: 60_000 }, async () => {
  const mixed = await runs.mixed;
  const lines = summary(mixed.out);
  assert.match(lines, new RegExp(`${ENGINE} \\(v[\\d.]+\\): 1 passed, 1 failed, 1 timed out, in `));
  assert.match(lines, /failed: {4}tests\/host\/fixtures\/runner-fail\.mjs \(exit code 1, /);
  assert.doesNotMatch(lines, /(failed|timed out): +tests\/host\/fixtures\/runner-pass/);
  assert.match(section(mixed.out, "fail"), /FAILED: tests\/host\/fixtures\/runner-fail\.mjs on node\d+ \(v[\d.]+\): exit code 1 after/);
  assert.doesNotMatch(section(mixed.out, "pass"), /FAILED|TIMED OUT|watchdog/);

  const pass = await runs.pass;
  assert.equal(pass.code, 0, pass.out);
  assert.match(summary(pass.out), new RegExp(`${ENGINE} \\(v[\\d.]+\\): 1 passed, 0 failed, 0 timed out, in `));
});
