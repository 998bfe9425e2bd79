// Runs the host suites on every Node the README promises: the system node (20) and the
// Node 22 and 24 binaries installed from the npm registry as devDependencies.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";

const files = readdirSync("tests/host")
  .filter((f) => f.endsWith(".test.mjs"))
  .map((f) => `tests/host/${f}`);
const only = process.env.FORKLESS_NODES?.split(",");
const engines = [
  ["node20", process.execPath],
  ["node22", "node_modules/node22/bin/node"],
  ["node24", "node_modules/node24/bin/node"],
].filter(([name]) => !only || only.includes(name));

let failed = false;
for (const [name, bin] of engines) {
  if (!existsSync(bin)) {
    console.error(`test-host: ${name} is missing at ${bin}; run npm ci`);
    failed = true;
    continue;
  }
  const version = spawnSync(bin, ["--version"], { encoding: "utf8" }).stdout.trim();
  console.log(`\n=== host tests on ${name} (${version}) ===`);
  const run = spawnSync(bin, ["--expose-gc", "--test", "--test-concurrency=1", ...files], { stdio: "inherit" });
  if (run.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
