// Jinja templating for the playbook runner, as Ansible's Templar does it, on @huggingface/jinja
// (a Jinja interpreter in plain JavaScript: it walks the parsed template, no eval or
// new Function). Three things are added here, each the way Ansible behaves:
//   - undefined variables are errors ("'foo' is undefined"), except under `is defined`,
//     `is undefined` and the `default`/`d` filter (Jinja2's StrictUndefined);
//   - a string that is exactly one "{{ expression }}" gives the expression's native value (a
//     list stays a list, a number a number), any other string renders to a string;
//   - variables whose values are templates themselves are templated when first used (lazily).
// bench/python/playbook.py does the same with Jinja2, so one playbook runs in both.
import { Environment, Interpreter, parse, tokenize } from "@huggingface/jinja";

export class TemplateError extends Error {
  name = "TemplateError";
}

export class UndefinedVariableError extends TemplateError {
  name = "UndefinedVariableError";
}

/** The whole string is one {{ … }} with no other {{ or }} inside it. */
const SINGLE_EXPRESSION = /^\s*\{\{((?:(?!\{\{|\}\})[\s\S])*)\}\}\s*$/;
const LENIENT_TESTS = new Set(["defined", "undefined"]);
const LENIENT_FILTERS = new Set(["default", "d"]);
const GLOBALS = { true: true, false: false, none: null, True: true, False: false, None: null };

export function isTemplate(value) {
  return typeof value === "string" && (value.includes("{{") || value.includes("{%"));
}

const programs = new Map();

function compile(source, asExpression) {
  const key = (asExpression ? "e:" : "t:") + source;
  let program = programs.get(key);
  if (!program) {
    try {
      const text = asExpression ? `{{ ${source} }}` : source;
      program = parse(tokenize(text, { lstrip_blocks: true, trim_blocks: true }));
    } catch (error) {
      throw new TemplateError(`template error in ${JSON.stringify(source)}: ${error.message}`);
    }
    if (asExpression && program.body.length !== 1) {
      throw new TemplateError(`not a single expression: ${JSON.stringify(source)}`);
    }
    programs.set(key, program);
  }
  return program;
}

/** Checks that a template or expression parses (used when the playbook is loaded). */
export function checkSyntax(value, asExpression = false) {
  try {
    if (asExpression) return void compile(value, true);
    const single = SINGLE_EXPRESSION.exec(value);
    compile(single ? single[1] : value, Boolean(single));
  } catch (error) {
    throw new TemplateError(`template error in ${JSON.stringify(value)}: ${error.message.replace(/^template error in .*?: /, "")}`);
  }
}

function describe(node) {
  if (node.type === "Identifier") return node.value;
  if (node.type === "MemberExpression") {
    const object = describe(node.object);
    if (!node.computed && node.property.type === "Identifier") return `${object}.${node.property.value}`;
    if (node.property.type === "StringLiteral" || node.property.type === "IntegerLiteral") return `${object}[${JSON.stringify(node.property.value)}]`;
    return `${object}[…]`;
  }
  return "expression";
}

function isLenient(node) {
  if (node.type === "TestExpression") return LENIENT_TESTS.has(node.test.value);
  if (node.type === "FilterExpression") {
    const filter = node.filter.type === "CallExpression" ? node.filter.callee : node.filter;
    return filter.type === "Identifier" && LENIENT_FILTERS.has(filter.value);
  }
  return false;
}

/** Python's truthiness, which Jinja (and so `when`) uses. */
function truthy(value) {
  if (Array.isArray(value)) return value.length > 0;
  if (value !== null && typeof value === "object") return Object.keys(value).length > 0;
  return Boolean(value);
}

/** Jinja runtime values → plain JavaScript values. */
function toNative(value) {
  switch (value.type) {
    case "ArrayValue":
    case "TupleValue":
      return value.value.map(toNative);
    case "ObjectValue":
    case "KeywordArgumentsValue":
    case "NamespaceValue": {
      const out = {};
      for (const [k, v] of value.value) out[k] = toNative(v);
      return out;
    }
    case "NullValue":
      return null;
    case "UndefinedValue":
      return undefined;
    case "FunctionValue":
      throw new TemplateError("a template produced a function, which is not a value");
    default:
      return value.value;
  }
}

class StrictInterpreter extends Interpreter {
  constructor(env, templar) {
    super(env);
    this.root = env;
    this.templar = templar;
    this.lenient = 0;
  }

  evaluate(node, env) {
    if (node && isLenient(node)) {
      this.lenient++;
      try {
        return super.evaluate(node, env);
      } finally {
        this.lenient--;
      }
    }
    const value = super.evaluate(node, env);
    if (value.type === "UndefinedValue" && this.lenient === 0 && node && (node.type === "Identifier" || node.type === "MemberExpression")) {
      throw new UndefinedVariableError(`'${describe(node)}' is undefined`);
    }
    return value;
  }

  // Variables are looked up lazily: only those a template uses are converted (and templated).
  evaluateIdentifier(node, env) {
    const found = env.lookupVariable(node.value);
    if (found.type !== "UndefinedValue" || !this.templar.has(node.value)) return found;
    this.root.set(node.value, this.templar.resolve(node.value));
    return this.root.lookupVariable(node.value);
  }
}

/** Templates strings, lists and maps against one host's variables. */
export class Templar {
  constructor(vars) {
    this.vars = vars;
    this.resolved = new Map();
    this.resolving = new Set();
  }

  has(name) {
    return Object.hasOwn(this.vars, name);
  }

  /** A variable's value, itself templated (once) if it holds templates. */
  resolve(name) {
    if (this.resolved.has(name)) return this.resolved.get(name);
    if (this.resolving.has(name)) throw new TemplateError(`recursive loop detected in template: variable '${name}' refers to itself`);
    this.resolving.add(name);
    try {
      const value = this.template(this.vars[name]);
      this.resolved.set(name, value);
      return value;
    } finally {
      this.resolving.delete(name);
    }
  }

  /** A copy of these variables with extra ones on top (loop items, task vars). */
  child(extra) {
    return new Templar({ ...this.vars, ...extra });
  }

  _interpreter() {
    const env = new Environment();
    for (const [k, v] of Object.entries(GLOBALS)) env.set(k, v);
    return new StrictInterpreter(env, this);
  }

  /** Templates a value: strings are rendered, lists and maps templated item by item. */
  template(value) {
    if (typeof value === "string") return this.templateString(value);
    if (Array.isArray(value)) return value.map((v) => this.template(v));
    if (value !== null && typeof value === "object") {
      const out = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.template(v);
      return out;
    }
    return value;
  }

  templateString(text) {
    if (!isTemplate(text)) return text;
    const single = SINGLE_EXPRESSION.exec(text);
    if (single) return this.evaluate(single[1]);
    const result = this._interpreter().run(compile(text, false));
    return result.value;
  }

  /** The native value of a Jinja expression (no braces), e.g. "packages | length". */
  evaluate(expression) {
    const program = compile(expression, true);
    const interpreter = this._interpreter();
    return toNative(interpreter.evaluate(program.body[0], interpreter.global));
  }

  /** Ansible's `when`: a bare expression (or a list of them, all true), or a boolean. */
  condition(when) {
    if (typeof when === "boolean") return when;
    if (Array.isArray(when)) return when.every((w) => this.condition(w));
    if (typeof when !== "string") return Boolean(when);
    let text = when;
    if (isTemplate(when)) {
      const templated = this.templateString(when);
      if (typeof templated !== "string") return truthy(templated);
      text = templated;
    }
    const program = compile(text, true);
    const interpreter = this._interpreter();
    return interpreter.evaluate(program.body[0], interpreter.global).__bool__().value;
  }
}
