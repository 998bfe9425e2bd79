// Worker side of workerLoopSession (./session.mjs).
import { parentPort, workerData } from "node:worker_threads";
import { calibrate, repetition } from "./timing.mjs";

/** Calibrates and warms up run(n), then answers every "rep" message with one { n, ms }. */
export async function serveLoop(run) {
  const timing = workerData.timing;
  const n = await calibrate(run, timing);
  parentPort.on("message", async (message) => {
    if (message === "rep") parentPort.postMessage(await repetition(run, n, timing));
  });
  parentPort.postMessage({ ready: n });
}
