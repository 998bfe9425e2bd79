// Timing helpers, usable on the main thread and inside workers.
//
// A loop is a function run(n) that performs n operations and returns the elapsed
// milliseconds (or a promise of them). Each measurement writes its own tight loop, so V8 sees
// one monomorphic loop per measurement; this module only picks n, warms up and times
// repetitions.

export const DEFAULTS = Object.freeze({
  /** Repetitions kept (the figure is their median); the contract asks for at least 5. */
  reps: 5,
  /** Target duration of one repetition. */
  targetMs: 300,
  /** Time spent running the loop after calibration, before any kept repetition (JIT tier-up). */
  warmupMs: 300,
  /** Before each kept repetition, a run of n × rewarm (other measurements ran in between). */
  rewarm: 0.1,
  /** First n tried while calibrating. */
  startN: 1000,
});

/**
 * Finds n so that run(n) takes about targetMs, then keeps running until warmupMs have been
 * spent in the loop. Returns n.
 */
export async function calibrate(run, options = {}) {
  const { targetMs, warmupMs, startN, maxN = 2 ** 31 } = { ...DEFAULTS, ...options };
  let n = startN;
  let spent = 0;
  // Grow until one run takes at least an eighth of the target, then scale to the target.
  while (true) {
    const ms = await run(n);
    spent += ms;
    if (ms >= targetMs / 8 || n >= maxN) {
      n = clampN((n * targetMs) / Math.max(ms, 1e-3), maxN);
      break;
    }
    n = clampN(ms <= 0 ? n * 16 : n * Math.min(16, Math.max(2, Math.ceil(targetMs / 8 / ms))), maxN);
  }
  while (spent < warmupMs) spent += await run(n);
  return n;
}

/** One kept repetition: a short re-warm, then run(n) timed. Returns { n, ms }. */
export async function repetition(run, n, options = {}) {
  const { rewarm } = { ...DEFAULTS, ...options };
  if (rewarm > 0) await run(Math.max(1, Math.round(n * rewarm)));
  return { n, ms: await run(n) };
}

function clampN(n, maxN) {
  return Math.max(1, Math.min(maxN, Math.floor(n)));
}

// ---- converting { n, ms } to the figure's unit

export const units = {
  "ns/op": ({ n, ms }) => (ms * 1e6) / n,
  "µs/round trip": ({ n, ms }) => (ms * 1e3) / n,
  "ops/s": ({ n, ms }) => n / (ms / 1e3),
  "msg/s": ({ n, ms }) => n / (ms / 1e3),
  /** n counts bytes. */
  "MB/s": ({ n, ms }) => n / 1e6 / (ms / 1e3),
  /** ms per operation (process starts). */
  ms: ({ n, ms }) => ms / n,
};

export function converter(unit) {
  const convert = units[unit];
  if (!convert) throw new Error(`bench: unknown unit ${JSON.stringify(unit)} (known: ${Object.keys(units).join(", ")})`);
  return convert;
}

// ---- statistics

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export function summarize(values) {
  if (values.length === 0) throw new Error("bench: no samples");
  return { value: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length };
}
