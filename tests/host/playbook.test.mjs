// The playbook runner (bin/forkless-playbook.mjs) end to end, as a user runs it: the bundled
// playbook on a small inventory (recap counts, exit 0), the failing playbook (failed and
// unreachable hosts, a timed-out task, exit 2), and bad playbooks (bad YAML, an unknown
// module, a missing variable: exit 2 with a message naming the task and its line).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../../", import.meta.url));
const bin = join(root, "bin/forkless-playbook.mjs");
const TIMEOUT = 120_000;

/** Runs the CLI with this Node; resolves { code, stdout, stderr }. */
function run(args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { cwd: root, timeout: TIMEOUT, env: { ...process.env, NO_COLOR: "1" } }, (error, stdout, stderr) => {
      if (error && typeof error.code !== "number") return reject(error);
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

/** host → { ok, changed, unreachable, failed, skipped, ignored } from the PLAY RECAP lines. */
function recap(stdout) {
  const out = {};
  const section = stdout.slice(stdout.indexOf("PLAY RECAP"));
  for (const m of section.matchAll(/^(\S+)\s+: (.*)$/gm)) {
    out[m[1]] = Object.fromEntries([...m[2].matchAll(/(\w+)=(\d+)/g)].map(([, k, v]) => [k, Number(v)]));
  }
  return out;
}

const stats = (ok, changed, unreachable, failed, skipped, ignored) => ({ ok, changed, unreachable, failed, skipped, ignored });

function withPlaybook(text, fn) {
  const dir = mkdtempSync(join(tmpdir(), "forkless-playbook-"));
  const file = join(dir, "playbook.yml");
  writeFileSync(file, text);
  return fn(file).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test("the bundled playbook: every host ok, host 10's ignored failure counted, exit 0", { timeout: TIMEOUT }, async () => {
  const { code, stdout, stderr } = await run(["examples/playbook/site.yml", "--hosts", "10", "--forks", "3"]);
  assert.equal(code, 0, `exit status; stderr:\n${stderr}\nstdout:\n${stdout}`);
  assert.match(stdout, /PLAY \[Roll out the release\]/);
  assert.match(stdout, /TASK \[Checksum the artifact and its config \(CPU-bound sha256\)\] 10\/10 {2}ok=10 changed=10/);
  assert.match(stdout, /fatal: \[host-10\]: FAILED! => migration lock held on host-10 \.\.\.ignoring/);
  assert.match(stdout, /10 hosts, 9 tasks, 90 worker processes \(forks 3, start method reuse\)/);
  const expected = {};
  for (let i = 1; i <= 10; i++) {
    const cache = i % 3 === 0 ? 1 : 0; // only cache hosts warm the cache
    const ten = i % 10 === 0 ? 1 : 0; // the migration fails (ignored) on every 10th host
    expected[`host-${String(i).padStart(2, "0")}`] = stats(7 + cache + ten, 1, 0, 0, 2 - cache - ten, ten);
  }
  assert.deepEqual(recap(stdout), expected, stdout);
});

test("start method warm (a fresh worker per process) gives the same recap as npm start's reuse", { timeout: TIMEOUT }, async () => {
  const results = {};
  for (const method of ["warm", "reuse"]) {
    const { code, stdout } = await run(["examples/playbook/site.yml", "--hosts", "6", "--forks", "3", "--json", "--start-method", method]);
    assert.equal(code, 0, stdout);
    const summary = JSON.parse(stdout);
    assert.equal(summary.start_method, method);
    assert.equal(summary.processes, 54);
    results[method] = summary.totals;
  }
  // 6 hosts: hosts 3 and 6 are cache hosts (one more ok, one fewer skipped); none is a 10th.
  assert.deepEqual(results.warm, stats(7 * 6 + 2, 6, 0, 0, 2 * 6 - 2, 0));
  assert.deepEqual(results.reuse, results.warm);
});

test("the failing playbook: failed, unreachable and timed-out hosts leave the play; exit 2", { timeout: TIMEOUT }, async () => {
  const { code, stdout } = await run(["--playbook", "examples/playbook/failing.yml", "--hosts", "7", "--forks", "4"]);
  assert.equal(code, 2, stdout);
  assert.match(stdout, /fatal: \[host-04\]: FAILED! => not enough disk space on host-04/);
  assert.match(stdout, /fatal: \[host-05\]: UNREACHABLE! => worker process Worker-\d+ ended with exit code 3 without sending a result/);
  assert.match(stdout, /fatal: \[host-06\]: FAILED! => the task timed out after 3 s; its worker process was terminated/);
  assert.match(stdout, /The error appears to be in 'examples\/playbook\/failing\.yml': line 13, column 7 \(task "Check free disk space/);
  assert.deepEqual(recap(stdout), {
    "host-01": stats(4, 0, 0, 0, 1, 0), // ping, assert, (crash skipped), health check, report
    "host-02": stats(4, 0, 0, 0, 1, 0),
    "host-03": stats(4, 0, 0, 0, 1, 0),
    "host-04": stats(1, 0, 0, 1, 0, 0),
    "host-05": stats(2, 0, 1, 0, 0, 0),
    "host-06": stats(2, 0, 0, 1, 1, 0),
    "host-07": stats(4, 0, 0, 0, 1, 0),
  }, stdout);
});

test("--json prints the recap and totals for programs (the benchmark reads it)", { timeout: TIMEOUT }, async () => {
  const { code, stdout } = await run(["examples/playbook/failing.yml", "--hosts", "4", "--forks", "4", "--json", "--start-method", "spawn"]);
  assert.equal(code, 2, stdout);
  const summary = JSON.parse(stdout);
  assert.equal(summary.exit_code, 2);
  assert.equal(summary.start_method, "spawn");
  assert.deepEqual(summary.failed_hosts, ["host-04"], stdout);
  assert.deepEqual(summary.totals, stats(13, 0, 0, 1, 3, 0), stdout);
  assert.ok(summary.elapsed_s > 0);
});

test("bad YAML: exit 2, and the message names the line and the task", { timeout: TIMEOUT }, () =>
  withPlaybook(
    ["- name: bad", "  hosts: all", "  tasks:", "    - name: Greet", "      debug:", '        msg: "hello', "    - name: Next", "      ping:", ""].join("\n"),
    async (file) => {
      const { code, stderr, stdout } = await run([file, "--hosts", "2"]);
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.match(stderr, /^ERROR! YAML syntax error in or just after task "Greet": Missing closing "quote/);
      assert.match(stderr, /line 6, column 14:\n\n {8}msg: "hello\n {13}\^ here/);
    },
  ));

test("an unknown module: exit 2, naming the task and the line", { timeout: TIMEOUT }, () =>
  withPlaybook(
    ["- name: bad", "  hosts: all", "  tasks:", "    - name: Greet", "      ping:", "    - name: Install nginx", "      apt:", "        name: nginx", ""].join("\n"),
    async (file) => {
      const { code, stderr } = await run([file, "--hosts", "2"]);
      assert.equal(code, 2);
      assert.match(stderr, /^ERROR! task "Install nginx": couldn't resolve module\/action 'apt'/);
      assert.match(stderr, /The error appears to be in '.*playbook\.yml': line 7, column 7:\n\n {6}apt:\n {6}\^ here/);
    },
  ));

test("a missing variable: the hosts fail, exit 2, naming the variable, the task and its line", { timeout: TIMEOUT }, () =>
  withPlaybook(
    [
      "- name: bad",
      "  hosts: all",
      "  tasks:",
      "    - name: Greet",
      "      ping:",
      "    - name: Show the version",
      "      debug:",
      '        msg: "version {{ app_version }}"',
      "    - name: Never reached",
      "      ping:",
      "",
    ].join("\n"),
    async (file) => {
      const { code, stdout } = await run([file, "--hosts", "2", "--forks", "2"]);
      assert.equal(code, 2);
      assert.match(stdout, /fatal: \[host-01, host-02\]: FAILED! => templating the task's arguments uses an undefined variable: 'app_version' is undefined/);
      assert.match(stdout, /The error appears to be in '.*playbook\.yml': line 6, column 7 \(task "Show the version"\)/);
      assert.match(stdout, /NO MORE HOSTS LEFT/);
      assert.doesNotMatch(stdout, /Never reached/);
      assert.deepEqual(recap(stdout), { "host-01": stats(1, 0, 0, 1, 0, 0), "host-02": stats(1, 0, 0, 1, 0, 0) }, stdout);
    },
  ));

test("bad options: exit 2 with the usage", { timeout: TIMEOUT }, async () => {
  const { code, stderr } = await run(["--forks", "0"]);
  assert.equal(code, 2);
  assert.match(stderr, /--forks must be an integer from 1 to 64/);
});
