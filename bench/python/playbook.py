"""The playbook runner of bin/forkless-playbook.mjs, in Python, on real multiprocessing.

Baselines python.mp-fork and python.mp-spawn of the playbook.run figure
(bench/figures/playbook.mjs). The same program in Ansible's shape: a WorkerProcess
(multiprocessing.Process subclass overriding run()) per (task, host), at most --forks alive,
each putting its result on a FinalQueue (a multiprocessing.queues.SimpleQueue subclass)
that the manager reads without ever hanging. Same inventory, same playbook file (PyYAML),
same templating semantics (Jinja2 with StrictUndefined, lazily templated variables, native
values for a lone "{{ expr }}"), same modules doing the same work (sha256 with hashlib, sleeps
with time.sleep).

    python3 bench/python/playbook.py [playbook.yml] [--hosts 50] [--forks 8]
                                     [--start-method fork|spawn|forkserver] [--json]

Prints the recap, then (with --json: only) one JSON line: {"elapsed_s": …, "totals": {…}, …}.
Exit status 2 when a host failed or was unreachable, as the JavaScript runner.
"""
import argparse
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import multiprocessing.queues
import os
import re
import sys
import time

import jinja2
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_PLAYBOOK = os.path.join(HERE, "..", "..", "examples", "playbook", "site.yml")
STAT_KEYS = ["ok", "changed", "unreachable", "failed", "skipped", "ignored"]
POLL_S = 0.1
JOIN_GRACE_S = 0.005

# ---------------------------------------------------------------- inventory (as examples/playbook/inventory.mjs)

GROUPS = ["web", "db", "cache"]
GROUP_VARS = {
    "web": {"http_port": 8080, "workers": 4},
    "db": {"db_port": 5432, "workers": 2},
    "cache": {"cache_mb": 512, "workers": 1},
}


def make_inventory(count):
    width = max(2, len(str(count)))
    hosts = []
    groups = {"all": [], **{g: [] for g in GROUPS}}
    for i in range(1, count + 1):
        name = "host-%s" % str(i).zfill(width)
        group = GROUPS[(i - 1) % len(GROUPS)]
        hosts.append({
            "name": name,
            "vars": {
                **GROUP_VARS[group],
                "inventory_hostname": name,
                "host_index": i,
                "group_names": [group],
                "datacenter": "east" if i % 2 == 1 else "west",
            },
        })
        groups["all"].append(name)
        groups[group].append(name)
    return {"hosts": hosts, "groups": groups}


def select_hosts(inventory, pattern):
    parts = pattern if isinstance(pattern, list) else re.split(r"[,:]", str(pattern))
    wanted = set()
    for part in (str(p).strip() for p in parts):
        if part in inventory["groups"]:
            wanted.update(inventory["groups"][part])
        elif any(h["name"] == part for h in inventory["hosts"]):
            wanted.add(part)
    return [h for h in inventory["hosts"] if h["name"] in wanted]


# ---------------------------------------------------------------- templating (as examples/playbook/templar.mjs)

SINGLE_EXPRESSION = re.compile(r"^\s*\{\{((?:(?!\{\{|\}\})[\s\S])*)\}\}\s*$")
ENV = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
_templates = {}
_expressions = {}


def is_template(value):
    return isinstance(value, str) and ("{{" in value or "{%" in value)


class LazyVars(dict):
    """The variables as Jinja sees them: a templated value is templated when first looked up."""

    def __init__(self, templar):
        super().__init__(templar.vars)
        self.templar = templar

    def __getitem__(self, key):
        return self.templar.resolve(key)


class Templar:
    def __init__(self, variables):
        self.vars = variables
        self.resolved = {}
        self.resolving = set()

    def child(self, extra):
        return Templar({**self.vars, **extra})

    def resolve(self, name):
        if name in self.resolved:
            return self.resolved[name]
        if name in self.resolving:
            raise jinja2.TemplateError("recursive loop detected in template: variable '%s' refers to itself" % name)
        self.resolving.add(name)
        try:
            value = self.template(self.vars[name])
            self.resolved[name] = value
            return value
        finally:
            self.resolving.discard(name)

    def template(self, value):
        if isinstance(value, str):
            return self.template_string(value)
        if isinstance(value, list):
            return [self.template(v) for v in value]
        if isinstance(value, dict):
            return {k: self.template(v) for k, v in value.items()}
        return value

    def template_string(self, text):
        if not is_template(text):
            return text
        single = SINGLE_EXPRESSION.match(text)
        if single:
            return self.evaluate(single.group(1))
        template = _templates.get(text)
        if template is None:
            template = _templates[text] = ENV.from_string(text)
        context = template.new_context(LazyVars(self), shared=True)
        return "".join(template.root_render_func(context))

    def evaluate(self, expression):
        compiled = _expressions.get(expression)
        if compiled is None:
            compiled = _expressions[expression] = ENV.compile_expression(expression, undefined_to_none=False)
        # TemplateExpression.__call__ copies its variables into a dict; this keeps them lazy.
        context = compiled._template.new_context(LazyVars(self), shared=True)
        for _ in compiled._template.root_render_func(context):
            pass
        return context.vars["result"]

    def condition(self, when):
        if isinstance(when, bool):
            return when
        if isinstance(when, list):
            return all(self.condition(w) for w in when)
        if not isinstance(when, str):
            return bool(when)
        text = when
        if is_template(when):
            templated = self.template_string(when)
            if not isinstance(templated, str):
                return bool(templated)
            text = templated
        return bool(self.evaluate(text))


# ---------------------------------------------------------------- modules (as examples/playbook/modules.mjs)


class ModuleError(Exception):
    pass


def to_int(value, module, arg, minimum=0):
    if isinstance(value, str) and value.strip():
        try:
            value = int(value)
        except ValueError:
            pass
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ModuleError("%s: argument '%s' must be an integer >= %d; got %r" % (module, arg, minimum, value))
    return value


def stringify(value):
    return value if isinstance(value, str) else json.dumps(value)


def m_ping(args, ctx):
    return {"changed": False, "ping": args.get("data", "pong")}


def m_debug(args, ctx):
    if "var" in args:
        value = ctx["templar"].evaluate(str(args["var"]))
        return {"changed": False, "msg": "%s: %s" % (args["var"], stringify(value)), args["var"]: value}
    return {"changed": False, "msg": "Hello world!" if "msg" not in args else stringify(args["msg"])}


def m_set_fact(args, ctx):
    return {"changed": False, "ansible_facts": args}


def m_assert(args, ctx):
    that = args["that"] if isinstance(args["that"], list) else [args["that"]]
    for expression in that:
        if not ctx["templar"].condition(expression):
            return {
                "changed": False,
                "failed": True,
                "assertion": stringify(expression),
                "msg": args.get("fail_msg", args.get("msg", "Assertion failed: %s" % stringify(expression))),
            }
    return {"changed": False, "msg": args.get("success_msg", "All assertions passed")}


def m_hash(args, ctx):
    kb = to_int(args["kb"], "hash", "kb", 1)
    rounds = to_int(args.get("rounds", 1), "hash", "rounds", 1)
    seed = str(args.get("seed", ctx["host"])).encode("utf-8")
    if not seed:
        raise ModuleError("hash: argument 'seed' must not be empty")
    size = kb * 1024
    data = (seed * (size // len(seed) + 1))[:size]
    digest = b""
    for _ in range(rounds):
        h = hashlib.sha256(digest)
        h.update(data)
        digest = h.digest()
    return {"changed": True, "digest": digest.hex(), "bytes": size * rounds}


def m_sleep(args, ctx):
    ms = to_int(args["ms"], "sleep", "ms")
    time.sleep(ms / 1000)
    return {"changed": False, "slept_ms": ms}


def m_fail(args, ctx):
    return {"changed": False, "failed": True, "msg": stringify(args.get("msg", "Failed as requested from task"))}


def m_crash(args, ctx):
    os._exit(to_int(args.get("code", 3), "crash", "code", 1))


MODULES = {
    "ping": (m_ping, ()),
    "debug": (m_debug, ("var",)),
    "set_fact": (m_set_fact, ()),
    "assert": (m_assert, ("that",)),
    "hash": (m_hash, ()),
    "sleep": (m_sleep, ()),
    "fail": (m_fail, ()),
    "crash": (m_crash, ()),
}
TASK_KEYWORDS = {"name", "loop", "when", "register", "ignore_errors", "timeout", "vars"}


def load_playbook(path):
    with open(path, encoding="utf-8") as f:
        plays = yaml.safe_load(f)
    out = []
    for play in plays:
        tasks = []
        for raw in play["tasks"]:
            modules = [k for k in raw if k not in TASK_KEYWORDS]
            if len(modules) != 1 or modules[0] not in MODULES:
                raise SystemExit("ERROR! task %r: unknown or missing module %s" % (raw.get("name"), modules))
            module = modules[0]
            tasks.append({
                "name": raw.get("name", module),
                "module": module,
                "args": raw[module] or {},
                "loop": raw.get("loop"),
                "when": raw.get("when"),
                "register": raw.get("register"),
                "ignore_errors": bool(raw.get("ignore_errors", False)),
                "timeout": raw.get("timeout"),
                "vars": raw.get("vars"),
            })
        out.append({"name": play.get("name", "play"), "hosts": play["hosts"], "vars": play.get("vars") or {}, "tasks": tasks})
    return out


# ---------------------------------------------------------------- the task executor (as examples/playbook/executor.mjs)


def _message(error, phase):
    if isinstance(error, jinja2.UndefinedError):
        return "%s uses an undefined variable: %s" % (phase, error)
    return "%s failed: %s" % (phase, error)


def run_once(task, templar, host):
    if task["when"] is not None:
        try:
            passed = templar.condition(task["when"])
        except Exception as error:
            return {"failed": True, "msg": _message(error, "the conditional check %s" % json.dumps(task["when"]))}
        if not passed:
            return {"changed": False, "skipped": True, "skip_reason": "Conditional result was False", "false_condition": task["when"]}
    run, raw = MODULES[task["module"]]
    try:
        args = {k: (v if k in raw else templar.template(v)) for k, v in task["args"].items()}
    except Exception as error:
        return {"failed": True, "msg": _message(error, "templating the task's arguments")}
    try:
        return {"changed": False, **run(args, {"host": host, "templar": templar})}
    except Exception as error:
        return {"failed": True, "msg": _message(error, "module %s" % task["module"])}


def execute_task(task, host, host_vars):
    try:
        templar = Templar(host_vars)
        if task["vars"]:
            templar = templar.child(task["vars"])
        if task["loop"] is None:
            return run_once(task, templar, host)
        try:
            items = templar.template(task["loop"])
        except Exception as error:
            return {"failed": True, "msg": _message(error, "templating the loop")}
        if not isinstance(items, list):
            return {"failed": True, "msg": "loop must be a list; it gave %r" % (items,)}
        results = [{**run_once(task, templar.child({"item": item}), host), "item": item} for item in items]
        result = {"changed": any(r.get("changed") for r in results), "results": results}
        failed = [r for r in results if r.get("failed")]
        if failed:
            result.update(failed=True, msg=failed[0]["msg"])
        if results and all(r.get("skipped") for r in results):
            result.update(skipped=True, msg="All items skipped")
        return result
    except Exception as error:  # never let a worker die without a result
        return {"failed": True, "msg": "unexpected error: %r" % (error,)}


# ---------------------------------------------------------------- the processes (Ansible's shape)


class FinalQueue(multiprocessing.queues.SimpleQueue):
    def __init__(self):
        super().__init__(ctx=multiprocessing.get_context())

    def send_task_start(self, id_, host):
        self.put({"id": id_, "host": host, "started": True})

    def send_task_result(self, id_, host, result):
        self.put({"id": id_, "host": host, "result": result})


class WorkerProcess(multiprocessing.Process):
    def __init__(self, final_q, id_, task, host, host_vars):
        super().__init__(name="Worker-%d" % id_)
        self._final_q = final_q
        self._id = id_
        self._task = task
        self._host = host
        self._host_vars = host_vars

    def run(self):
        if self._task["timeout"]:
            self._final_q.send_task_start(self._id, self._host)
        result = execute_task(self._task, self._host, self._host_vars)
        self._final_q.send_task_result(self._id, self._host, result)


# ---------------------------------------------------------------- the manager (as examples/playbook/strategy.mjs)


def status_of(result, task):
    if result.get("unreachable"):
        return "unreachable"
    if result.get("failed"):
        return "ignored" if task["ignore_errors"] else "failed"
    if result.get("skipped"):
        return "skipped"
    return "changed" if result.get("changed") else "ok"


class TaskQueueManager:
    def __init__(self, inventory, forks):
        self.inventory = inventory
        self.forks = forks
        self.final_q = FinalQueue()
        self.stats = {h["name"]: dict.fromkeys(STAT_KEYS, 0) for h in inventory["hosts"]}
        self.facts = {h["name"]: {} for h in inventory["hosts"]}
        self.removed = set()
        self.played = set()
        self.processes = 0
        self.tasks = 0

    def run_playbook(self, plays, quiet):
        for play in plays:
            hosts = select_hosts(self.inventory, play["hosts"])
            self.played.update(h["name"] for h in hosts)
            for task in play["tasks"]:
                active = [h for h in hosts if h["name"] not in self.removed]
                if not active:
                    break
                self.tasks += 1
                counts = self.run_task(play, task, active)
                if not quiet:
                    print("TASK [%s] %d/%d  %s" % (task["name"], len(active), len(active), " ".join("%s=%d" % (k, counts[k]) for k in STAT_KEYS if counts[k] or k == "ok")))

    def process_result(self, task, host, result):
        status = status_of(result, task)
        s = self.stats[host]
        if status in ("unreachable", "failed"):
            s[status] += 1
            self.removed.add(host)
        elif status == "ignored":
            s["ok"] += 1
            s["ignored"] += 1
            if result.get("changed"):
                s["changed"] += 1
        elif status == "skipped":
            s["skipped"] += 1
        else:
            s["ok"] += 1
            if result.get("changed"):
                s["changed"] += 1
        facts = self.facts[host]
        if not result.get("failed") and not result.get("unreachable"):
            for r in result.get("results", [result]):
                if r.get("ansible_facts") and not r.get("skipped"):
                    facts.update(r["ansible_facts"])
        if task["register"]:
            facts[task["register"]] = result
        return status

    def run_task(self, play, task, hosts):
        counts = dict.fromkeys(STAT_KEYS, 0)
        pending = list(hosts)
        running = {}  # id -> {"p", "host", "result", "deadline"}
        done = 0

        def record(entry, result):
            nonlocal done
            entry["result"] = result
            status = self.process_result(task, entry["host"], result)
            counts["ok" if status == "changed" else status] += 1
            if status == "changed":
                counts["changed"] += 1
            if status == "ignored":
                counts["ok"] += 1
            done += 1

        def drain():
            while not self.final_q.empty():
                message = self.final_q.get()
                entry = running.get(message["id"])
                if entry is not None and message.get("started"):
                    entry["deadline"] = time.monotonic() + task["timeout"]
                elif entry is not None and entry["result"] is None:
                    record(entry, message["result"])
                    entry["p"].join(JOIN_GRACE_S)

        while done < len(hosts):
            while len(running) < self.forks and pending:
                host = pending.pop(0)
                self.processes += 1
                id_ = self.processes
                host_vars = {**host["vars"], **play["vars"], **self.facts[host["name"]]}
                p = WorkerProcess(self.final_q, id_, task, host["name"], host_vars)
                p.start()
                running[id_] = {"p": p, "host": host["name"], "result": None, "deadline": None}  # set when the task starts

            drain()
            timeout = POLL_S
            for entry in running.values():
                if entry["deadline"] is not None and entry["result"] is None:
                    timeout = min(timeout, max(0.0, entry["deadline"] - time.monotonic()))
            if done < len(hosts):
                # Wakes on a result or on a worker's end (its sentinel), whichever comes first.
                multiprocessing.connection.wait([self.final_q._reader] + [e["p"].sentinel for e in running.values()], timeout)
                drain()

            for id_, entry in list(running.items()):
                p = entry["p"]
                if p.exitcode is None:
                    if entry["result"] is None and entry["deadline"] is not None and time.monotonic() >= entry["deadline"]:
                        p.terminate()
                        record(entry, {"failed": True, "msg": "the task timed out after %s s; its worker process was terminated" % task["timeout"]})
                    continue
                if entry["result"] is None:
                    drain()
                if entry["result"] is None:
                    record(entry, {"unreachable": True, "msg": "worker process %s ended with exit code %s without sending a result" % (p.name, p.exitcode)})
                del running[id_]
        for entry in running.values():
            entry["p"].join(1)
        return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("playbook", nargs="?", default=DEFAULT_PLAYBOOK)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--forks", type=int, default=8)
    parser.add_argument("--start-method", default="fork", choices=["fork", "spawn", "forkserver"])
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    args = parser.parse_args()
    multiprocessing.set_start_method(args.start_method)

    plays = load_playbook(args.playbook)
    inventory = make_inventory(args.hosts)
    started = time.perf_counter()
    tqm = TaskQueueManager(inventory, args.forks)
    tqm.run_playbook(plays, quiet=args.json)
    elapsed = time.perf_counter() - started
    totals = dict.fromkeys(STAT_KEYS, 0)
    stats = {h: s for h, s in tqm.stats.items() if h in tqm.played}
    for s in stats.values():
        for k in STAT_KEYS:
            totals[k] += s[k]
    failed = [h for h, s in stats.items() if s["failed"] or s["unreachable"]]
    code = 2 if failed else 0
    if not args.json:
        print("\nPLAY RECAP " + "*" * 68)
        for host, s in stats.items():
            print(("%-26s : %s" % (host, " ".join("%s=%-4d" % (k, s[k]) for k in STAT_KEYS))).rstrip())
        print("\n%d hosts, %d tasks, %d worker processes (forks %d, start method %s) in %.2f s"
              % (len(stats), tqm.tasks, tqm.processes, args.forks, args.start_method, elapsed))
    print(json.dumps({
        "elapsed_s": elapsed,
        "hosts": len(stats),
        "tasks": tqm.tasks,
        "processes": tqm.processes,
        "forks": args.forks,
        "start_method": args.start_method,
        "exit_code": code,
        "totals": totals,
    }))
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(main())
