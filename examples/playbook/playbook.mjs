// Loads and checks a playbook: YAML (the `yaml` package, whose LineCounter gives every node's
// line and column), a list of plays, each with hosts, vars and tasks. Everything that can be
// wrong before running — bad YAML, an unknown module or keyword, bad module arguments, a
// template that does not parse — is a PlaybookError naming the task and its line.
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { LineCounter, isMap, isScalar, isSeq, parseDocument } from "yaml";
import { MODULES, checkArgs, rawArgs } from "./modules.mjs";
import { checkSyntax, isTemplate } from "./templar.mjs";

export class PlaybookError extends Error {
  name = "PlaybookError";

  /** where: { file, line, col, source } — printed as Ansible does: the file, line and column, and the line itself. */
  constructor(message, where) {
    super(message);
    this.where = where;
  }

  format() {
    const w = this.where;
    if (!w?.line) return `ERROR! ${this.message}`;
    const text = w.source?.split("\n")[w.line - 1];
    const excerpt = text === undefined ? "" : `\n\n${text}\n${" ".repeat(Math.max(0, w.col - 1))}^ here`;
    return `ERROR! ${this.message}\n\nThe error appears to be in '${w.file}': line ${w.line}, column ${w.col}:${excerpt}`;
  }
}

/** Paths in messages: relative to the working directory when below it. */
function shown(path) {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith("..") ? rel : path;
}

const PLAY_KEYS = new Set(["name", "hosts", "vars", "tasks"]);
const TASK_KEYWORDS = new Set(["name", "loop", "when", "register", "ignore_errors", "timeout", "vars"]);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** { file, plays: [{ name, hosts, vars, tasks: [{ name, module, args, loop, when, register, ignore_errors, timeout, vars, file, line, col }] }] } */
export function loadPlaybook(path) {
  const file = shown(path);
  let source;
  try {
    source = readFileSync(path, "utf8");
  } catch (error) {
    throw new PlaybookError(`cannot read the playbook ${file}: ${error.code === "ENOENT" ? "no such file" : error.message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const at = (node) => {
    const pos = node?.range ? lines.linePos(node.range[0]) : undefined;
    return { file, source, line: pos?.line ?? 1, col: pos?.col ?? 1 };
  };
  if (doc.errors.length > 0) {
    const error = doc.errors[0];
    let [pos] = error.linePos ?? [];
    // An unclosed quote is reported where the file ends; point at the line that opened it.
    const quote = /Missing closing (["'])quote/.exec(error.message)?.[1];
    if (quote && pos) pos = openingQuote(source, pos.line, quote) ?? pos;
    const message = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
    const task = pos ? enclosingTask(source, pos.line) : undefined;
    throw new PlaybookError(
      `YAML syntax error${task ? ` in or just after task ${JSON.stringify(task)}` : ""}: ${message}`,
      pos ? { file, source, line: pos.line, col: pos.col } : { file },
    );
  }
  if (!isSeq(doc.contents)) {
    throw new PlaybookError(`a playbook is a list of plays (each "- hosts: …" with its tasks)`, at(doc.contents));
  }
  const plays = doc.contents.items.map((playNode, index) => loadPlay(playNode, index, { at }));
  if (plays.length === 0) throw new PlaybookError(`the playbook ${file} has no plays`, { file });
  return { file, plays };
}

function loadPlay(node, index, { at }) {
  if (!isMap(node)) throw new PlaybookError(`play ${index + 1} must be a mapping with hosts and tasks`, at(node));
  const play = node.toJSON();
  const label = `play ${JSON.stringify(play.name ?? `#${index + 1}`)}`;
  for (const pair of node.items) {
    const key = pair.key?.value;
    if (!PLAY_KEYS.has(key)) throw new PlaybookError(`${label}: unknown play keyword '${key}'; known: ${[...PLAY_KEYS].join(", ")}`, at(pair.key));
  }
  if (play.hosts === undefined || play.hosts === null || play.hosts === "") {
    throw new PlaybookError(`${label}: the play needs 'hosts:' (e.g. hosts: all)`, at(node));
  }
  if (play.vars !== undefined && (play.vars === null || typeof play.vars !== "object" || Array.isArray(play.vars))) {
    throw new PlaybookError(`${label}: 'vars' must be a mapping`, at(node.get("vars", true) ?? node));
  }
  const tasksNode = node.get("tasks", true);
  if (!isSeq(tasksNode)) throw new PlaybookError(`${label}: 'tasks' must be a list of tasks`, at(tasksNode ?? node));
  const varsNode = node.get("vars", true);
  for (const [name, value] of Object.entries(play.vars ?? {})) {
    checkTemplates(value, `${label}: variable '${name}'`, at(varsNode?.get?.(name, true) ?? varsNode));
  }
  return {
    name: play.name ?? `play ${index + 1}`,
    hosts: play.hosts,
    vars: play.vars ?? {},
    tasks: tasksNode.items.map((taskNode, i) => loadTask(taskNode, i, at)),
  };
}

function loadTask(node, index, at) {
  if (!isMap(node)) throw new PlaybookError(`task ${index + 1} must be a mapping (name: …, <module>: …)`, at(node));
  const raw = node.toJSON();
  const where = at(node);
  const name = typeof raw.name === "string" ? raw.name : undefined;
  const label = `task ${JSON.stringify(name ?? `#${index + 1}`)}`;
  const fail = (message, at2 = where) => {
    throw new PlaybookError(`${label}: ${message}`, at2);
  };
  let module;
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? pair.key.value : undefined;
    if (typeof key !== "string") fail("task keys must be strings", at(pair.key));
    if (TASK_KEYWORDS.has(key)) continue;
    if (!Object.hasOwn(MODULES, key)) {
      fail(
        `couldn't resolve module/action '${key}': it is neither a module (${Object.keys(MODULES).join(", ")}) ` +
          `nor a task keyword (${[...TASK_KEYWORDS].join(", ")})`,
        at(pair.key),
      );
    }
    if (module) fail(`conflicting action statements: ${module}, ${key}`, at(pair.key));
    module = key;
  }
  if (!module) fail(`no module/action detected in the task; use one of ${Object.keys(MODULES).join(", ")}`);
  const keyAt = (key) => at(node.get(key, true) ?? node);
  const args = raw[module] ?? {};
  const problems = checkArgs(module, args);
  if (problems.length) fail(problems.join("; "), keyAt(module));
  if (raw.register !== undefined && (typeof raw.register !== "string" || !IDENTIFIER.test(raw.register))) {
    fail(`'register' must be a variable name; got ${JSON.stringify(raw.register)}`, keyAt("register"));
  }
  if (raw.ignore_errors !== undefined && typeof raw.ignore_errors !== "boolean") fail("'ignore_errors' must be true or false", keyAt("ignore_errors"));
  if (raw.timeout !== undefined && !(typeof raw.timeout === "number" && raw.timeout > 0)) fail("'timeout' must be a positive number of seconds", keyAt("timeout"));
  if (raw.loop !== undefined && !Array.isArray(raw.loop) && !isTemplate(raw.loop)) fail("'loop' must be a list or a template giving one", keyAt("loop"));
  if (raw.vars !== undefined && (raw.vars === null || typeof raw.vars !== "object" || Array.isArray(raw.vars))) fail("'vars' must be a mapping", keyAt("vars"));
  // Templates are parsed now, so that a syntax error names its task before anything runs.
  const raws = new Set(rawArgs(module));
  if (typeof args === "object" && args !== null) {
    const argsNode = node.get(module, true);
    for (const [k, v] of Object.entries(args)) {
      const argAt = at((isMap(argsNode) && argsNode.get(k, true)) || argsNode || node);
      checkTemplates(v, `${label}: argument '${k}'`, argAt, raws.has(k));
    }
  }
  checkTemplates(raw.loop, `${label}: 'loop'`, keyAt("loop"));
  checkTemplates(raw.vars, `${label}: 'vars'`, keyAt("vars"));
  for (const w of raw.when === undefined ? [] : Array.isArray(raw.when) ? raw.when : [raw.when]) {
    if (typeof w === "string") checkTemplates(w, `${label}: 'when'`, keyAt("when"), !isTemplate(w));
  }
  return {
    name: name ?? module,
    module,
    args,
    loop: raw.loop,
    when: raw.when,
    register: raw.register,
    ignore_errors: raw.ignore_errors ?? false,
    timeout: raw.timeout,
    vars: raw.vars,
    file: where.file,
    line: where.line,
    col: where.col,
  };
}

/** The last line at or before `line` with an odd number of `quote` characters: where a string was left open. */
function openingQuote(source, line, quote) {
  const lines = source.split("\n");
  for (let i = Math.min(line, lines.length) - 1; i >= 0; i--) {
    const text = lines[i].replace(quote === '"' ? /\\"/g : /''/g, "");
    const count = text.split(quote).length - 1;
    if (count % 2 === 1) return { line: i + 1, col: text.lastIndexOf(quote) + 1 };
  }
  return undefined;
}

/** The name of the task whose "- name:" line comes last at or before this line (for YAML errors). */
function enclosingTask(source, line) {
  const lines = source.split("\n").slice(0, line);
  for (let i = lines.length - 1; i >= 0; i--) {
    const m = /^\s*-\s+name:\s*(.+?)\s*$/.exec(lines[i]);
    if (m) return m[1].replace(/^(["'])(.*)\1$/, "$2");
  }
  return undefined;
}

function checkTemplates(value, label, where, asExpression = false) {
  const visit = (v) => {
    if (typeof v === "string") {
      if (!asExpression && !isTemplate(v)) return;
      try {
        checkSyntax(v, asExpression && !isTemplate(v));
      } catch (error) {
        throw new PlaybookError(`${label}: ${error.message}`, where);
      }
    } else if (Array.isArray(v)) v.forEach(visit);
    else if (v !== null && typeof v === "object") Object.values(v).forEach(visit);
  };
  visit(value);
}
