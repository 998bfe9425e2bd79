import { readFileSync } from "node:fs";
import esbuild from "rollup-plugin-esbuild";

// Inlines build/forkless.wasm as base64: no fetch, works in Node, browsers and under a CSP.
function inlineWasm() {
  const id = "forkless:wasm";
  return {
    name: "forkless-inline-wasm",
    resolveId: (source) => (source === id ? `\0${id}` : null),
    load: (resolved) =>
      resolved === `\0${id}`
        ? `export default ${JSON.stringify(readFileSync("build/forkless.wasm").toString("base64"))};`
        : null,
  };
}

// The module's exported numbers (scripts/build-wasm.mjs writes them), as a plain object.
function inlineAbi() {
  const id = "forkless:abi";
  return {
    name: "forkless-inline-abi",
    resolveId: (source) => (source === id ? `\0${id}` : null),
    load: (resolved) => (resolved === `\0${id}` ? `export default ${readFileSync("build/abi.json", "utf8")};` : null),
  };
}

export default {
  input: { forkless: "host/index.ts", worker: "host/worker-entry.ts" },
  plugins: [inlineWasm(), inlineAbi(), esbuild({ target: "es2022", tsconfig: "tsconfig.json" })],
  output: [
    { dir: "dist", format: "es", entryFileNames: "[name].mjs", chunkFileNames: "[name]-[hash].mjs" },
    { dir: "dist", format: "cjs", entryFileNames: "[name].cjs", chunkFileNames: "[name]-[hash].cjs" },
  ],
};
