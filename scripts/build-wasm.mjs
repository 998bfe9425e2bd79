// asc → wasm-opt → structural check. Output: build/forkless.wasm (optimized).
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync } from "node:fs";
import { checkModule } from "./check-wasm.mjs";
import { readFileSync, writeFileSync } from "node:fs";

/**
 * The numbers the module exports (kinds, status codes, offsets: assembly/index.ts) as JSON,
 * which rollup inlines as "forkless:abi" (host/abi.ts): the host never retypes them.
 */
function writeAbi(wasm, out) {
  const module = new WebAssembly.Module(readFileSync(wasm));
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const instance = new WebAssembly.Instance(module, { env: { memory, now: () => performance.now() } });
  const numbers = {};
  for (const [name, value] of Object.entries(instance.exports)) {
    if (value instanceof WebAssembly.Global) numbers[name] = value.value;
  }
  writeFileSync(out, JSON.stringify(numbers, null, 1) + "\n");
}

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
writeAbi("build/forkless.wasm", "build/abi.json");

// The engine probe used by tests/host/engine.test.mjs (not shipped).
execFileSync(
  bin("asc"),
  ["tests/engine/liftoff-probe.ts", "--config", "tests/engine/asconfig.json", "--target", "release", "--outFile", "build/liftoff-probe.wasm", "--textFile", "build/liftoff-probe.wat"],
  { stdio: "inherit" },
);
