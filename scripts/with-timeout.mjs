// node scripts/with-timeout.mjs <seconds> <command> [args…]
// Runs a stage of npm test under a wall-clock limit, so that a stage that hangs (an
// AssemblyScript spec spinning in Wasm, say: as-pect runs the specs on its own main thread,
// where no timeout of its own can fire) fails the run instead of holding CI until its own limit.
// The command runs in its own process group; past the limit the group gets SIGTERM, then SIGKILL
// 10 s later, and this exits 124 (as coreutils' timeout does). Otherwise it exits as the command did.
import { spawn } from "node:child_process";
import { constants } from "node:os";

const GRACE_MS = 10_000;
const [limitText, command, ...args] = process.argv.slice(2);
const limitS = Number(limitText);
if (!command || !Number.isFinite(limitS) || limitS <= 0) {
  console.error("usage: node scripts/with-timeout.mjs <seconds> <command> [args…]");
  process.exit(2);
}
const what = [command, ...args].join(" ");

const child = spawn(command, args, {
  // stdin: a background process group that reads the terminal is stopped (SIGTTIN).
  stdio: ["ignore", "inherit", "inherit"],
  detached: true, // its own process group, so that the kill reaches whatever it started
});

function signalGroup(signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {} // ESRCH: already gone
}

let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  console.error(`\nwith-timeout: \`${what}\` still running after its limit of ${limitS} s: killing it (SIGTERM, SIGKILL ${GRACE_MS / 1000} s later)`);
  signalGroup("SIGTERM");
  setTimeout(() => signalGroup("SIGKILL"), GRACE_MS).unref();
}, limitS * 1000);

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  // Its group is not the terminal's foreground group: Ctrl-C reaches only this process.
  process.on(signal, () => {
    signalGroup(signal);
    setTimeout(() => signalGroup("SIGKILL"), GRACE_MS).unref();
  });
}

child.once("error", (error) => {
  console.error(`with-timeout: cannot run \`${what}\`: ${error.message}`);
  process.exit(127);
});
child.once("exit", (code, signal) => {
  clearTimeout(timer);
  signalGroup("SIGKILL"); // whatever it left behind in its group
  if (timedOut) {
    console.error(`with-timeout: \`${what}\` was killed after ${limitS} s`);
    process.exit(124);
  }
  process.exit(code ?? 128 + (constants.signals[signal] ?? 1));
});
