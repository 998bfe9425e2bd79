// The worker side of pipe.pingpong (bench/figures/queue.mjs): armed with { echo: n }, receive
// n numbers on a forkless Connection and send each straight back, then idle in the event loop
// (bench/lib/arm.mjs says why) until the next repetition or "stop".
import { parentPort, workerData } from "node:worker_threads";
import { attach, Connection } from "../../dist/forkless.mjs";
import { armedMessages } from "../lib/arm.mjs";

attach(workerData.share);
const conn = Connection.fromHandle(workerData.conn);
const nextArm = armedMessages(new Int32Array(workerData.armed), 0);
parentPort.postMessage("ready");
for (let message; (message = await nextArm()) !== null; ) {
  for (let i = 0; i < message.echo; i++) conn.send(conn.recv());
}
conn.close();
parentPort.close();
