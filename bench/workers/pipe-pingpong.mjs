// The worker side of pipe.pingpong (bench/figures/queue.mjs): receive a number on a forkless
// Connection and send it straight back, until a negative number arrives.
import { parentPort, workerData } from "node:worker_threads";
import { attach, Connection } from "../../dist/forkless.mjs";

attach(workerData.share);
const conn = Connection.fromHandle(workerData.conn);
parentPort.postMessage("ready");
for (;;) {
  const value = conn.recv();
  if (value < 0) break;
  conn.send(value);
}
conn.close();
