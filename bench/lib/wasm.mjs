// Assembles the hand-written WAT baselines with binaryen's wasm-as (a devDependency) at
// bench time, into the gitignored bench/.work/.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const root = new URL("../../", import.meta.url);
const cache = new Map();

/** Compiles bench/wasm/<name>.wat and returns the WebAssembly.Module (cached per run). */
export function watModule(name) {
  if (cache.has(name)) return cache.get(name);
  const source = fileURLToPath(new URL(`bench/wasm/${name}.wat`, root));
  const workDir = fileURLToPath(new URL("bench/.work/", root));
  mkdirSync(workDir, { recursive: true });
  const output = `${workDir}${name}.wasm`;
  const wasmAs = fileURLToPath(new URL("node_modules/.bin/wasm-as", root));
  try {
    execFileSync(wasmAs, ["--enable-threads", source, "-o", output], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    throw new Error(`bench: wasm-as failed on bench/wasm/${name}.wat (is binaryen installed? npm ci): ${error.stderr ?? error.message}`);
  }
  const module = new WebAssembly.Module(readFileSync(output));
  cache.set(name, module);
  return module;
}
