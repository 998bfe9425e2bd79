#!/usr/bin/env node
// forkless benchmarks: `npm run bench` (builds first), or `node bench/run.mjs [options]`.
//
//   --only <prefix>   run the figures whose id starts with prefix (repeatable, or a,b), plus the
//                     baselines they are compared against (and baselines whose id matches);
//                     results are merged into the existing bench/results.json
//   --reps <n>        repetitions per figure and baseline (default 5, the least allowed: a full
//                     run takes ~8.5 min on 2 cores, 7 of them the playbook runs)
//   --target-ms <ms>  duration of one repetition (default 300)
//   --list            list figures and baselines, run nothing
//   --no-report       do not update README.md (bench/report.mjs)
//
// Figures and baselines are defined in bench/figures/*.mjs; each module exports arrays
// `figures` and `baselines` of plain objects:
//   { id, unit: "ns/op" | "ops/s" | "µs/round trip", better: "lower" | "higher", description,
//     start(ctx) → session { rep() → one repetition in unit, close() },   (see lib/session.mjs)
//     figures only:   against: [baseline ids], goals: { <baseline id>: ratio },
//     baselines only: skip() → reason or null (optional), info() → machine extras (optional),
//     maxReps: n (optional) — at most n repetitions, for runs that take a minute each
//     (a figure never goes below 5),
//     settleMs: ms (optional) — idle time after each of its repetitions, so work it leaves in
//     the background (a warm pool refilling, workers tearing down) does not land on the next
//     measurement }
// A baseline used by several figures is measured once per run. Every selected measurement
// is started (calibrated, warmed up) first; then the repetitions run round-robin.
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DEFAULTS, summarize } from "./lib/timing.mjs";
import { loadAverage, machine } from "./lib/machine.mjs";
import { columns, formatGoal, formatRatio, formatValue } from "./lib/format.mjs";
import { writeReport } from "./report.mjs";

const here = new URL("./", import.meta.url);
const resultsPath = fileURLToPath(new URL("results.json", here));
const MIN_REPS = 5;

// ---------------------------------------------------------------- command line

function parseArgs(argv) {
  const args = { only: [], reps: DEFAULTS.reps, targetMs: DEFAULTS.targetMs, list: false, report: true };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].startsWith("--") && argv[i].includes("=") ? argv[i].split(/=(.*)/s) : [argv[i]];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) usage(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--only":
        args.only.push(...value().split(",").map((s) => s.trim()).filter(Boolean));
        break;
      case "--reps":
        args.reps = Number(value());
        if (!Number.isInteger(args.reps) || args.reps < MIN_REPS) usage(`--reps must be an integer ≥ ${MIN_REPS}`);
        break;
      case "--target-ms":
        args.targetMs = Number(value());
        if (!(args.targetMs > 0)) usage("--target-ms must be a positive number");
        break;
      case "--list":
        args.list = true;
        break;
      case "--no-report":
        args.report = false;
        break;
      case "-h":
      case "--help":
        usage();
        break;
      default:
        usage(`unknown argument ${JSON.stringify(argv[i])}`);
    }
  }
  return args;
}

function usage(error) {
  const text = readFileSync(fileURLToPath(import.meta.url), "utf8")
    .split("\n")
    .slice(1)
    .filter((line) => line.startsWith("//"))
    .map((line) => line.slice(3))
    .join("\n");
  if (error) {
    console.error(`bench: ${error}\n\n${text}`);
    process.exit(2);
  }
  console.log(text);
  process.exit(0);
}

// ---------------------------------------------------------------- definitions

/** Figure modules listed here come first, in this order; the others follow alphabetically. */
const FILE_ORDER = ["lock.mjs", "event.mjs"];
const UNITS = new Set(["ns/op", "ops/s", "µs/round trip", "s", "msg/s", "MB/s", "ms"]);

async function loadDefinitions() {
  const dir = new URL("figures/", here);
  const rank = (f) => (FILE_ORDER.includes(f) ? FILE_ORDER.indexOf(f) : FILE_ORDER.length);
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".mjs"))
    .sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  const figures = [];
  const baselines = new Map();
  for (const file of files) {
    const mod = await import(new URL(file, dir));
    for (const b of mod.baselines ?? []) {
      check(b, file, "baseline");
      if (baselines.has(b.id)) throw new Error(`bench: baseline ${b.id} is defined twice (${file})`);
      baselines.set(b.id, b);
    }
    for (const f of mod.figures ?? []) {
      check(f, file, "figure");
      if (figures.some((g) => g.id === f.id)) throw new Error(`bench: figure ${f.id} is defined twice (${file})`);
      figures.push(f);
    }
  }
  for (const f of figures) {
    if (baselines.has(f.id)) throw new Error(`bench: ${f.id} is both a figure and a baseline`);
    for (const id of f.against ?? []) {
      const b = baselines.get(id);
      if (!b) throw new Error(`bench: figure ${f.id} is compared against unknown baseline ${id}`);
      if (b.unit !== f.unit) throw new Error(`bench: figure ${f.id} (${f.unit}) against ${id} (${b.unit}): units differ`);
    }
    for (const id of Object.keys(f.goals ?? {})) {
      if (!(f.against ?? []).includes(id)) throw new Error(`bench: figure ${f.id} has a goal against ${id}, which is not in its against list`);
    }
  }
  return { figures, baselines };
}

function check(def, file, what) {
  if (typeof def.id !== "string" || !def.id) throw new Error(`bench: a ${what} in ${file} has no id`);
  if (!UNITS.has(def.unit)) throw new Error(`bench: ${what} ${def.id} has unit ${def.unit}; known: ${[...UNITS].join(", ")}`);
  if (def.better !== "lower" && def.better !== "higher") throw new Error(`bench: ${what} ${def.id}: better must be "lower" or "higher"`);
  if (typeof def.start !== "function") throw new Error(`bench: ${what} ${def.id} has no start(ctx)`);
}

function select({ figures, baselines }, only) {
  if (only.length === 0) return { figures, baselines: [...baselines.values()] };
  const matches = (id) => only.some((prefix) => id.startsWith(prefix));
  const chosen = figures.filter((f) => matches(f.id));
  const ids = new Set(chosen.flatMap((f) => f.against ?? []));
  for (const id of baselines.keys()) if (matches(id)) ids.add(id);
  if (chosen.length === 0 && ids.size === 0) {
    usage(`--only ${only.join(",")} matches no figure or baseline (figures: ${figures.map((f) => f.id).join(", ")})`);
  }
  return { figures: chosen, baselines: [...baselines.values()].filter((b) => ids.has(b.id)) };
}

// ---------------------------------------------------------------- measuring

/**
 * Starts every selected measurement (set-up, calibration, warm-up), then runs the kept
 * repetitions round-robin, rotating the order each round, so that load from elsewhere on
 * the machine lands on a figure and its baselines alike. Closes every session, even on error.
 */
async function measureAll(defs, ctx) {
  const sessions = [];
  const values = new Map();
  try {
    for (const def of defs) {
      const started = performance.now();
      process.stdout.write(`  start ${def.kind} ${def.id} … `);
      sessions.push({ def, session: await def.start(ctx) });
      values.set(def.id, []);
      process.stdout.write(`ready (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
    }
    for (let round = 0; round < ctx.timing.reps; round++) {
      const started = performance.now();
      for (let i = 0; i < sessions.length; i++) {
        const { def, session } = sessions[(i + round) % sessions.length];
        if (round >= repsFor(def, ctx.timing.reps)) continue;
        const value = await session.rep();
        if (!Number.isFinite(value) || value <= 0) throw new Error(`bench: ${def.id} measured ${value} ${def.unit}`);
        values.get(def.id).push(value);
        if (def.settleMs) await new Promise((resolve) => setTimeout(resolve, def.settleMs));
      }
      console.log(`  round ${round + 1}/${ctx.timing.reps} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
    }
  } finally {
    for (const { def, session } of sessions.reverse()) {
      try {
        await session.close();
      } catch (error) {
        console.error(`bench: closing ${def.id} failed: ${error?.stack ?? error}`);
        process.exitCode = 1;
      }
    }
  }
  return new Map([...values].map(([id, v]) => [id, summarize(v)]));
}

function repsFor(def, reps) {
  if (def.maxReps === undefined) return reps;
  return Math.min(reps, def.kind === "baseline" ? def.maxReps : Math.max(MIN_REPS, def.maxReps));
}

function goalOf(figure, baselineId) {
  const ratio = figure.goals?.[baselineId];
  return ratio === undefined ? undefined : { op: figure.better === "lower" ? "<=" : ">=", ratio };
}

function met(goal, ratio) {
  return goal.op === "<=" ? ratio <= goal.ratio : ratio >= goal.ratio;
}

// ---------------------------------------------------------------- results.json

function readResults() {
  if (!existsSync(resultsPath)) return undefined;
  try {
    return JSON.parse(readFileSync(resultsPath, "utf8"));
  } catch (error) {
    console.warn(`bench: ignoring unreadable ${resultsPath}: ${error.message}`);
    return undefined;
  }
}

/** Replaces re-measured entries, keeps the others, in definition order (unknown ids last). */
function mergeEntries(old = [], fresh, order) {
  const byId = new Map(old.map((e) => [e.id, e]));
  for (const e of fresh) byId.set(e.id, e);
  const rank = (id) => {
    const i = order.indexOf(id);
    return i < 0 ? order.length : i;
  };
  return [...byId.values()].sort((a, b) => rank(a.id) - rank(b.id));
}

// ---------------------------------------------------------------- table

function printTable(figures, baselines) {
  const rows = [["figure", "unit", "median", "min–max", "runs", "vs baseline", "baseline", "ratio", "goal"]];
  for (const f of figures) {
    const head = [f.id, f.unit, formatValue(f.value, f.unit), `${formatValue(f.min, f.unit)}–${formatValue(f.max, f.unit)}`, String(f.runs)];
    const against = Object.entries(f.against);
    if (against.length === 0) rows.push([...head, "(no baseline measured)", "", "", ""]);
    against.forEach(([id, a], i) => {
      const goal = a.goal ? `${formatGoal(a.goal)} ${a.met ? "met" : "MISSED"}` : "";
      rows.push([...(i === 0 ? head : ["", "", "", "", ""]), id, formatValue(a.value, f.unit), formatRatio(a.ratio), goal]);
    });
  }
  rows.push([]);
  rows.push(["baseline", "unit", "median", "min–max", "runs"]);
  for (const b of baselines) {
    rows.push([b.id, b.unit, formatValue(b.value, b.unit), `${formatValue(b.min, b.unit)}–${formatValue(b.max, b.unit)}`, String(b.runs)]);
  }
  console.log(columns(rows, [, , "right", "right", "right", , "right", "right"]));
}

// ---------------------------------------------------------------- main

function warnIfBusy(load, cores, when) {
  if (load > cores / 2) {
    console.warn(
      `bench: load average ${load} on ${cores} cores ${when}: other work is competing for the CPUs, ` +
        "so figures will be noisy (see min–max); thread figures (contended, ping-pong) suffer most",
    );
  }
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const defs = await loadDefinitions();
  if (args.list) {
    for (const f of defs.figures) console.log(`figure    ${f.id.padEnd(28)} ${f.unit.padEnd(14)} vs ${(f.against ?? []).join(", ")}`);
    for (const b of defs.baselines.values()) console.log(`baseline  ${b.id.padEnd(28)} ${b.unit.padEnd(14)} ${b.description ?? ""}`);
    return;
  }
  const chosen = select(defs, args.only);
  const ctx = { timing: { reps: args.reps, targetMs: args.targetMs, warmupMs: DEFAULTS.warmupMs } };
  const info = machine();
  const date = info.date;
  console.log(
    `forkless bench: ${info.cpu}, ${info.cores} cores, Node ${info.node} (V8 ${info.v8}), ${info.os}\n` +
      `${chosen.figures.length} figure(s), ${chosen.baselines.length} baseline(s), median of ${args.reps} repetitions of ~${args.targetMs} ms each`,
  );
  warnIfBusy(info.loadAverage, info.cores, "before the run");
  console.log();

  const started = performance.now();
  const toMeasure = [];
  const extraInfo = {};
  for (const b of chosen.baselines) {
    const skip = b.skip?.();
    if (skip) console.log(`  baseline ${b.id} skipped: ${skip}`);
    else toMeasure.push({ ...b, kind: "baseline" });
  }
  toMeasure.push(...chosen.figures.map((f) => ({ ...f, kind: "figure  " })));
  const stats = await measureAll(toMeasure, ctx);

  const baselineResults = new Map();
  for (const b of chosen.baselines) {
    if (!stats.has(b.id)) continue;
    Object.assign(extraInfo, b.info?.() ?? {});
    baselineResults.set(b.id, { id: b.id, unit: b.unit, better: b.better, ...stats.get(b.id), description: b.description, date, node: info.node });
  }
  const figureResults = [];
  for (const f of chosen.figures) {
    const s = stats.get(f.id);
    const against = {};
    for (const id of f.against ?? []) {
      const b = baselineResults.get(id);
      if (!b) continue; // skipped (e.g. no python3)
      const ratio = s.value / b.value;
      const goal = goalOf(f, id);
      against[id] = { value: b.value, ratio, ...(goal ? { goal, met: met(goal, ratio) } : {}) };
    }
    figureResults.push({ id: f.id, unit: f.unit, better: f.better, ...s, against, description: f.description, date, node: info.node });
  }
  console.log(`\nmeasured in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  info.loadAverageAfter = loadAverage();
  console.log();

  const old = args.only.length ? readResults() : undefined;
  if (old?.machine && (old.machine.node !== info.node || old.machine.cpu !== info.cpu)) {
    console.warn(
      `bench: merging into results measured on ${old.machine.cpu} / Node ${old.machine.node}; ` +
        "figures not re-measured keep their old values (each entry has its date and node)",
    );
  }
  const results = {
    machine: { ...info, ...extraInfo },
    figures: mergeEntries(old?.figures, figureResults, defs.figures.map((f) => f.id)),
    baselines: mergeEntries(old?.baselines, [...baselineResults.values()], [...defs.baselines.keys()]),
  };
  printTable(results.figures, results.baselines);
  writeFileSync(resultsPath, JSON.stringify(results, null, 2) + "\n");
  console.log(`\nwrote ${fileURLToPath(new URL("results.json", here)).replace(process.cwd() + "/", "")}`);
  if (args.report) writeReport();
}

main().catch((error) => {
  console.error(`\nbench FAILED: ${error?.stack ?? error}`);
  process.exit(1);
});
