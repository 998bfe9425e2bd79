// Targets of the process figures (bench/figures/process.mjs), imported by every child. No
// top-level side effects.

/** First line of run(): record the wall-clock time in stamp (a Float64Array), then raise flag[0]. */
export function stampFirstLine(stamp, flag) {
  stamp[0] = performance.timeOrigin + performance.now();
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
}

/** Does nothing: a start/join cycle with exit code 0. */
export function nothing() {}
