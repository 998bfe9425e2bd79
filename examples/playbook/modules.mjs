// The modules a task can call. Each has an argument spec, checked when the playbook is loaded
// (unknown or missing arguments are playbook errors), and run(args, ctx), called inside the
// worker process with its arguments already templated. bench/python/playbook.py implements the
// same modules with the same work (same hashing, same sleeps).
import { setTimeout as delay } from "node:timers/promises";
import { exit } from "forkless";

/** Thrown by a module for a bad argument value (after templating). */
export class ModuleError extends Error {
  name = "ModuleError";
}

function int(value, module, arg, min = 0) {
  const n = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < min) {
    throw new ModuleError(`${module}: argument '${arg}' must be an integer ≥ ${min}; got ${JSON.stringify(value)}`);
  }
  return n;
}

function stringify(value) {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * spec: argument name → { required?, raw? } (raw: not templated first; the module evaluates it
 * itself as an expression). freeform: any argument names (set_fact).
 */
export const MODULES = {
  ping: {
    doc: "returns pong",
    spec: { data: {} },
    run: (args) => ({ changed: false, ping: args.data ?? "pong" }),
  },

  debug: {
    doc: "prints msg (templated) or the value of the expression var",
    spec: { msg: {}, var: { raw: true } },
    run(args, ctx) {
      if (args.var !== undefined) {
        const value = ctx.templar.evaluate(String(args.var));
        return { changed: false, msg: `${args.var}: ${stringify(value)}`, [args.var]: value };
      }
      return { changed: false, msg: args.msg === undefined ? "Hello world!" : stringify(args.msg) };
    },
  },

  set_fact: {
    doc: "sets host variables for the following tasks",
    freeform: true,
    spec: {},
    run: (args) => ({ changed: false, ansible_facts: args }),
  },

  assert: {
    doc: "fails unless every expression in that is true",
    spec: { that: { required: true, raw: true }, fail_msg: {}, msg: {}, success_msg: {}, quiet: {} },
    run(args, ctx) {
      const that = Array.isArray(args.that) ? args.that : [args.that];
      for (const expression of that) {
        if (!ctx.templar.condition(expression)) {
          return {
            changed: false,
            failed: true,
            assertion: stringify(expression),
            msg: args.fail_msg ?? args.msg ?? `Assertion failed: ${stringify(expression)}`,
          };
        }
      }
      return { changed: false, msg: args.success_msg ?? "All assertions passed" };
    },
  },

  hash: {
    doc: "CPU-bound work: sha256 over kb KiB of data, rounds times, chained (like checksumming an artifact)",
    spec: { kb: { required: true }, rounds: {}, seed: {} },
    async run(args, ctx) {
      // Loaded here, not at the top: every worker imports this module, few of them hash.
      const { createHash } = await import("node:crypto");
      const kb = int(args.kb, "hash", "kb", 1);
      const rounds = args.rounds === undefined ? 1 : int(args.rounds, "hash", "rounds", 1);
      const seed = Buffer.from(String(args.seed ?? ctx.host), "utf8");
      if (seed.length === 0) throw new ModuleError("hash: argument 'seed' must not be empty");
      // kb KiB of the seed repeated; each round hashes the previous digest followed by the data.
      const data = Buffer.alloc(kb * 1024, seed);
      let digest = Buffer.alloc(0);
      for (let r = 0; r < rounds; r++) digest = createHash("sha256").update(digest).update(data).digest();
      return { changed: true, digest: digest.toString("hex"), bytes: data.length * rounds };
    },
  },

  sleep: {
    doc: "waits ms milliseconds (a stand-in for remote work: package installs, restarts)",
    spec: { ms: { required: true } },
    async run(args) {
      const ms = int(args.ms, "sleep", "ms");
      await delay(ms);
      return { changed: false, slept_ms: ms };
    },
  },

  fail: {
    doc: "fails with msg",
    spec: { msg: {} },
    run: (args) => ({ changed: false, failed: true, msg: args.msg === undefined ? "Failed as requested from task" : stringify(args.msg) }),
  },

  crash: {
    doc: "ends the worker process at once with exit code `code` (default 3), sending no result: exercises the manager's dead-worker path",
    spec: { code: {} },
    run(args) {
      const code = args.code === undefined ? 3 : int(args.code, "crash", "code", 1);
      return exit(code);
    },
  },
};

/** Problems with a task's module arguments, as messages (empty when fine). */
export function checkArgs(moduleName, args) {
  const module = MODULES[moduleName];
  if (module.freeform) {
    if (args === null || typeof args !== "object" || Array.isArray(args) || Object.keys(args).length === 0) {
      return [`${moduleName} needs a mapping of variable names to values`];
    }
    return [];
  }
  if (args === null || args === undefined) args = {};
  if (typeof args !== "object" || Array.isArray(args)) return [`the arguments of ${moduleName} must be a mapping (key: value)`];
  const problems = [];
  const unknown = Object.keys(args).filter((k) => !Object.hasOwn(module.spec, k));
  if (unknown.length) {
    problems.push(`unsupported parameter${unknown.length > 1 ? "s" : ""} for (${moduleName}) module: ${unknown.join(", ")}; supported: ${Object.keys(module.spec).join(", ") || "none"}`);
  }
  const missing = Object.entries(module.spec)
    .filter(([k, s]) => s.required && args[k] === undefined)
    .map(([k]) => k);
  if (missing.length) problems.push(`missing required argument${missing.length > 1 ? "s" : ""} of ${moduleName}: ${missing.join(", ")}`);
  return problems;
}

/** Argument names the executor leaves untemplated for the module to evaluate. */
export function rawArgs(moduleName) {
  return Object.entries(MODULES[moduleName].spec)
    .filter(([, s]) => s.raw)
    .map(([k]) => k);
}
