// A session is one measurement kept alive for the whole run, so that bench/run.mjs can
// interleave the repetitions of a figure and its baselines (round-robin): a burst of load
// from elsewhere on the machine then hits all of them alike instead of one.
//
//   const s = await start(ctx);   // set up, calibrate n, warm up
//   await s.rep();                // one timed repetition, in the measurement's unit
//   await s.close();              // terminate workers, free shared objects (always called)
import { calibrate, converter, repetition } from "./timing.mjs";
import { startWorker } from "./workers.mjs";

/** A loop run on this thread: run(n) → elapsed ms (sync or async). */
export async function loopSession(ctx, unit, run, { close = async () => {}, ...options } = {}) {
  const convert = converter(unit);
  const timing = { ...ctx.timing, ...options };
  let n;
  try {
    n = await calibrate(run, timing);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    rep: async () => convert(await repetition(run, n, timing)),
    close,
  };
}

/**
 * A loop run in a fresh worker (bench/workers/<name>, which calls serveLoop from
 * ./serve.mjs): the worker calibrates and warms up on start, then times one repetition per
 * "rep" message. A fresh worker per measurement means no loop sees another's JIT feedback.
 */
export async function workerLoopSession(ctx, unit, name, data, { close = async () => {}, ...options } = {}) {
  const convert = converter(unit);
  const w = startWorker(name, { ...data, timing: { ...ctx.timing, ...options } });
  const closeAll = async () => {
    await w.terminate();
    await close();
  };
  try {
    const ready = await w.next();
    if (!ready || typeof ready.ready !== "number") throw new Error(`bench worker ${name}: expected {ready: n}, got ${JSON.stringify(ready)}`);
  } catch (error) {
    await closeAll();
    throw error;
  }
  return {
    rep: async () => {
      w.post("rep");
      return convert(await w.next());
    },
    close: closeAll,
  };
}
