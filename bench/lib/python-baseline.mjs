// A baseline measured by a script in bench/python/: one process run per repetition, each
// printing one JSON number in the baseline's unit. Skipped (with a note) without python3.
import { python, runPython } from "./python.mjs";

export function pythonBaseline({ id, unit, better, description, script }) {
  return {
    id,
    unit,
    better,
    description,
    skip() {
      return python() ? null : "python3 not found on PATH; Python baselines skipped";
    },
    info() {
      const py = python();
      return py ? { python: py.version, pythonExecutable: py.executable } : {};
    },
    async start(ctx) {
      const seconds = ctx.timing.targetMs / 1000;
      return {
        rep: async () => runPython(script, [seconds]),
        close: async () => {},
      };
    },
  };
}
