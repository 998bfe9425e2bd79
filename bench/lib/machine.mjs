// What the figures were measured on.
import os from "node:os";
import { readFileSync } from "node:fs";

function distro() {
  try {
    const text = readFileSync("/etc/os-release", "utf8");
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1];
  } catch {
    return undefined;
  }
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model?.trim() ?? "unknown",
    cores: typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    os: [distro(), `${os.type()} ${os.release()}`, os.arch()].filter(Boolean).join(", "),
    date: new Date().toISOString(),
    /** 1-minute load average when the run started (other work on the machine skews figures). */
    loadAverage: Math.round(os.loadavg()[0] * 100) / 100,
  };
}

/** The 1-minute load average now, rounded. */
export function loadAverage() {
  return Math.round(os.loadavg()[0] * 100) / 100;
}
