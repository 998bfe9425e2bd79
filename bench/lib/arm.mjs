// Between repetitions a bench worker idles in its event loop, never in Atomics.wait: threads
// blocked in Atomics.wait (or a Wasm wait) anywhere in the process slow down every wait and
// notify in it — 20 of them cost the queue figure ~30% here, and a full run keeps ~30 workers
// of other measurements alive. So the main thread "arms" a measurement's workers by message
// right before its repetition; only they wait on shared memory while it runs.
import { parentPort } from "node:worker_threads";

/**
 * Worker side: resolves with the message that armed this worker ("arm", or an object such
 * as { echo: n }) after counting itself in ctl[armedSlot]; resolves null on "stop".
 */
export function armedMessages(ctl, armedSlot) {
  const pending = [];
  let wake;
  parentPort.on("message", (message) => {
    if (message === "stop" || message === "arm" || (message && typeof message === "object" && "echo" in message)) {
      pending.push(message);
      wake?.();
    }
  });
  return async function nextArm() {
    while (pending.length === 0) await new Promise((resolve) => (wake = resolve));
    wake = undefined;
    const message = pending.shift();
    if (message === "stop") return null;
    Atomics.add(ctl, armedSlot, 1);
    Atomics.notify(ctl, armedSlot);
    return message;
  };
}

/** Main side: posts `message` to every worker and waits until all of them counted themselves in ctl[armedSlot] (then resets it). */
export function arm(workers, ctl, armedSlot, message = "arm", stallMs = 60_000) {
  Atomics.store(ctl, armedSlot, 0);
  for (const w of workers) w.post(message);
  for (let armed; (armed = Atomics.load(ctl, armedSlot)) < workers.length; ) {
    if (Atomics.wait(ctl, armedSlot, armed, stallMs) === "timed-out") {
      throw new Error(`bench: only ${armed} of ${workers.length} workers answered "${JSON.stringify(message)}" within ${stallMs / 1000} s`);
    }
  }
  Atomics.store(ctl, armedSlot, 0);
}
