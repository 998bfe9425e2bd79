// asc → wasm-opt → structural check. Output: build/forkless.wasm (optimized).
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync } from "node:fs";
import { checkModule } from "./check-wasm.mjs";

const bin = (name) => new URL(`../node_modules/.bin/${name}`, import.meta.url).pathname;
mkdirSync("build", { recursive: true });
execFileSync(bin("asc"), ["assembly/index.ts", "--target", "release", "--outFile", "build/forkless.asc.wasm"], {
  stdio: "inherit",
});
execFileSync(
  bin("wasm-opt"),
  ["build/forkless.asc.wasm", "--enable-threads", "--enable-bulk-memory", "--enable-nontrapping-float-to-int", "--enable-sign-ext", "--enable-mutable-globals", "-O3", "-o", "build/forkless.opt.wasm"],
  { stdio: "inherit" },
);
renameSync("build/forkless.opt.wasm", "build/forkless.wasm");
checkModule("build/forkless.wasm");

// The engine probe used by tests/host/engine.test.mjs (not shipped).
execFileSync(
  bin("asc"),
  ["tests/engine/liftoff-probe.ts", "--config", "tests/engine/asconfig.json", "--target", "release", "--outFile", "build/liftoff-probe.wasm", "--textFile", "build/liftoff-probe.wat"],
  { stdio: "inherit" },
);
