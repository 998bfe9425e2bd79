// raw.new-worker (bench/figures/process.mjs): the first line of a bare worker records the
// wall-clock time in the shared Float64Array, then says so by message.
import { parentPort, workerData } from "node:worker_threads";

new Float64Array(workerData.stamp)[0] = performance.timeOrigin + performance.now();
parentPort.postMessage("first");
