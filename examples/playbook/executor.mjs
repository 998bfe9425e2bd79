// Ansible's TaskExecutor, run inside a worker process: evaluates the task's `when` (per loop
// item), templates its arguments with the host's variables and runs its module. It never
// throws: every problem becomes a failed result, which the worker puts on the final queue.
import { MODULES, rawArgs } from "./modules.mjs";
import { Templar, UndefinedVariableError } from "./templar.mjs";

function messageOf(error, phase) {
  const text = error?.message ?? String(error);
  if (error instanceof UndefinedVariableError) return `${phase} uses an undefined variable: ${text}`;
  return phase ? `${phase} failed: ${text}` : text;
}

async function runOnce(task, templar, host) {
  if (task.when !== undefined) {
    let pass;
    try {
      pass = templar.condition(task.when);
    } catch (error) {
      return { failed: true, msg: messageOf(error, `the conditional check ${JSON.stringify(task.when)}`) };
    }
    if (!pass) return { changed: false, skipped: true, skip_reason: "Conditional result was False", false_condition: task.when };
  }
  const module = MODULES[task.module];
  const raw = new Set(rawArgs(task.module));
  let args;
  try {
    args = {};
    for (const [k, v] of Object.entries(task.args ?? {})) args[k] = raw.has(k) ? v : templar.template(v);
  } catch (error) {
    return { failed: true, msg: messageOf(error, "templating the task's arguments") };
  }
  try {
    const result = await module.run(args, { host, templar });
    return { changed: false, ...result };
  } catch (error) {
    return { failed: true, msg: messageOf(error, `module ${task.module}`) };
  }
}

/** Runs one task on one host: { changed, failed?, skipped?, msg?, results? (loops), … }. */
export async function executeTask(task, host, hostVars) {
  try {
    let templar = new Templar(hostVars);
    if (task.vars) templar = templar.child(task.vars);
    if (task.loop === undefined) return await runOnce(task, templar, host);
    let items;
    try {
      items = templar.template(task.loop);
    } catch (error) {
      return { failed: true, msg: messageOf(error, "templating the loop") };
    }
    if (!Array.isArray(items)) return { failed: true, msg: `loop must be a list; it gave ${JSON.stringify(items)}` };
    const results = [];
    for (const item of items) results.push({ ...(await runOnce(task, templar.child({ item }), host)), item });
    const failed = results.some((r) => r.failed);
    const skipped = results.length > 0 && results.every((r) => r.skipped);
    return {
      changed: results.some((r) => r.changed),
      ...(failed ? { failed: true, msg: results.find((r) => r.failed).msg } : {}),
      ...(skipped ? { skipped: true, msg: "All items skipped" } : {}),
      results,
    };
  } catch (error) {
    return { failed: true, msg: `unexpected error: ${error?.stack ?? error}` };
  }
}
