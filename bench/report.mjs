#!/usr/bin/env node
// Puts bench/results.json into README.md: replaces what lies between the markers
// <!-- bench:start --> and <!-- bench:end --> with a Markdown table and a line naming the
// machine. Without README.md or its markers it says so and changes nothing.
// `node bench/report.mjs [--readme <file>]` (bench/run.mjs calls it after writing results.json).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { formatGoal, formatRatio, formatValue } from "./lib/format.mjs";

const START = "<!-- bench:start -->";
const END = "<!-- bench:end -->";

const resultsPath = fileURLToPath(new URL("results.json", import.meta.url));
const defaultReadme = fileURLToPath(new URL("../README.md", import.meta.url));

function cell(text) {
  return String(text).replaceAll("|", "\\|");
}

export function renderMarkdown(results) {
  const lines = [
    "| figure | unit | median (min–max) | compared with | baseline | ratio | goal |",
    "|---|---|---:|---|---:|---:|---|",
  ];
  for (const f of results.figures ?? []) {
    const value = `${formatValue(f.value, f.unit)} (${formatValue(f.min, f.unit)}–${formatValue(f.max, f.unit)})`;
    const head = [`\`${f.id}\``, f.unit, value];
    const against = Object.entries(f.against ?? {});
    if (against.length === 0) lines.push(`| ${[...head, "–", "", "", ""].map(cell).join(" | ")} |`);
    against.forEach(([id, a], i) => {
      const goal = a.goal ? `${formatGoal(a.goal)} ${a.met ? "✅" : "❌"}` : "";
      const row = [...(i === 0 ? head : ["", "", ""]), `\`${id}\``, formatValue(a.value, f.unit), formatRatio(a.ratio), goal];
      lines.push(`| ${row.map(cell).join(" | ")} |`);
    });
  }
  const m = results.machine ?? {};
  const dates = [...new Set([...(results.figures ?? []), ...(results.baselines ?? [])].map((e) => e.date?.slice(0, 10)).filter(Boolean))].sort();
  const when = dates.length > 1 ? `${dates[0]} to ${dates[dates.length - 1]}` : (dates[0] ?? m.date?.slice(0, 10) ?? "unknown date");
  const python = m.python ? `, Python ${m.python}` : "";
  const nodes = [...new Set([...(results.figures ?? []), ...(results.baselines ?? [])].map((e) => e.node).filter(Boolean))];
  const node = nodes.length > 1 ? nodes.join(" / ") : (nodes[0] ?? m.node ?? "?");
  const busy =
    m.loadAverage > (m.cores ?? 1) / 2
      ? ` The machine was busy with other work (1-minute load average ${m.loadAverage} on ${m.cores} cores when the run started), so the figures are noisy.`
      : "";
  lines.push(
    "",
    `Measured on ${m.cpu ?? "unknown CPU"}, ${m.cores ?? "?"} cores, Node ${node}${python}, ${m.os ?? ""}; ${when}.${busy} ` +
      "Medians of at least 5 repetitions, every baseline measured in the same run as its figure " +
      "(ratio = figure ÷ baseline; `npm run bench` regenerates this table from `bench/results.json`).",
  );
  return lines.join("\n");
}

/** Returns true when README.md was updated. */
export function writeReport(readmePath = defaultReadme) {
  if (!existsSync(resultsPath)) {
    console.log("bench/report: no bench/results.json yet; run `npm run bench` first");
    return false;
  }
  if (!existsSync(readmePath)) {
    console.log(`bench/report: ${readmePath} not found; nothing changed`);
    return false;
  }
  const readme = readFileSync(readmePath, "utf8");
  const start = readme.indexOf(START);
  const end = readme.indexOf(END, start + START.length);
  if (start < 0 || end < 0) {
    console.log(`bench/report: ${readmePath} lacks the markers ${START} … ${END}; nothing changed`);
    return false;
  }
  const results = JSON.parse(readFileSync(resultsPath, "utf8"));
  const updated = `${readme.slice(0, start + START.length)}\n${renderMarkdown(results)}\n${readme.slice(end)}`;
  if (updated === readme) {
    console.log(`bench/report: ${readmePath} already up to date`);
    return false;
  }
  writeFileSync(readmePath, updated);
  console.log(`bench/report: updated the benchmark table in ${readmePath}`);
  return true;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const i = process.argv.indexOf("--readme");
  writeReport(i > 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : defaultReadme);
}
