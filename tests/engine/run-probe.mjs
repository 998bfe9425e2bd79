// Runs the Liftoff probe with 2 workers × N iterations and prints the counter as JSON.
// With --with-forkless, forkless is loaded (and its runtime created) first.
import { Worker, isMainThread, workerData, parentPort } from "node:worker_threads";
import { readFileSync } from "node:fs";

const N = Number(process.env.PROBE_N ?? 500_000);
const wasm = new URL("../../build/liftoff-probe.wasm", import.meta.url);

if (isMainThread) {
  if (process.argv.includes("--with-forkless")) {
    const forkless = await import("../../dist/forkless.mjs");
    forkless.runtime();
  }
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const module = new WebAssembly.Module(readFileSync(wasm));
  const results = await Promise.all(
    [0, 1].map(
      () =>
        new Promise((resolve, reject) => {
          const worker = new Worker(new URL(import.meta.url), { workerData: { memory, module } });
          worker.once("message", resolve);
          worker.once("error", reject);
        }),
    ),
  );
  const counter = new Int32Array(memory.buffer)[8 >> 2];
  console.log(JSON.stringify({ counter, expected: 2 * N, loops: results }));
} else {
  const { memory, module } = workerData;
  const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
  parentPort.postMessage(ex.count_inline(0, 8, N));
}
