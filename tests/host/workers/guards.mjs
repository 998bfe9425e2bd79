// Worker tasks for withLock / hold tests.
import { Lock, Semaphore } from "../../../dist/forkless.mjs";

/** Each time main asks, tries once to take the lock (releasing it again) and answers. */
export async function probe({ kind, handle }, ctx) {
  const object = kind === "Semaphore" ? Semaphore.fromHandle(handle) : Lock.fromHandle(handle);
  ctx.post("ready");
  while (true) {
    const order = await ctx.message();
    if (order === "stop") return "stopped";
    const got = object.acquire({ block: false });
    if (got) object.release();
    ctx.post(got);
  }
}
