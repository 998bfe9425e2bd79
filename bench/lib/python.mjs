// Python baselines run the interpreter binary itself: on these machines `python3` on PATH
// may be a pyenv shim that adds ~50 ms to every process start (and to every child process).
// -B keeps __pycache__ out of bench/python.
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

let resolved;

/** { executable, version } of python3, or null (with the reason in .missing) when there is none. */
export function python() {
  if (resolved !== undefined) return resolved;
  try {
    const out = execFileSync("python3", ["-c", "import sys, json; print(json.dumps([sys.executable, sys.version.split()[0]]))"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    });
    const [executable, version] = JSON.parse(out.trim());
    resolved = executable ? { executable, version } : null;
  } catch {
    resolved = null;
  }
  return resolved;
}

/** Runs bench/python/<script> with the resolved interpreter; the script prints one JSON number. */
export function runPython(script, args = []) {
  const py = python();
  if (!py) throw new Error("bench: python3 is not available");
  const path = fileURLToPath(new URL(`../python/${script}`, import.meta.url));
  const run = spawnSync(py.executable, ["-B", path, ...args.map(String)], { encoding: "utf8", timeout: 120_000 });
  if (run.status !== 0) {
    throw new Error(`bench: ${script} failed (status ${run.status}${run.signal ? `, ${run.signal}` : ""}): ${run.stderr || run.error}`);
  }
  const lines = run.stdout.trim().split("\n");
  const value = JSON.parse(lines[lines.length - 1]);
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new Error(`bench: ${script} printed ${JSON.stringify(run.stdout)}, expected one JSON number`);
  }
  return value;
}
