// Worker tasks for Barrier tests.
import { Barrier, BrokenBarrierError } from "../../../dist/forkless.mjs";

/**
 * gens rounds of wait(). seen[g * parties + index] counts the indices returned in generation g;
 * actions[0] counts action runs (the action is given here, in every thread). Returns how often
 * this thread got the last index and how often its action ran, and any ordering violation.
 */
export function barrierRounds({ barrier, gens, seen, actions }) {
  let myActions = 0;
  const b = Barrier.fromHandle(barrier, {
    action: () => {
      myActions++;
      Atomics.add(actions, 0, 1);
    },
  });
  const parties = b.parties;
  let last = 0;
  let early = -1;
  for (let g = 0; g < gens; g++) {
    const index = b.wait(10_000);
    Atomics.add(seen, g * parties + index, 1);
    if (index === parties - 1) last++;
    // The action of generation g ran before anyone of generation g was released.
    if (early < 0 && Atomics.load(actions, 0) < g + 1) early = g;
  }
  b.close();
  return { last, myActions, early };
}

/** One wait(); reports the index or the error instead of throwing. */
export function waitOnce({ barrier, timeout, action }, ctx) {
  const b = Barrier.fromHandle(barrier, action === "throw" ? { action: () => { throw new Error("action failed"); } } : {});
  ctx.post("waiting");
  const t0 = performance.now();
  try {
    return { index: b.wait(timeout), elapsed: performance.now() - t0 };
  } catch (error) {
    return {
      error: error.name,
      broken: error instanceof BrokenBarrierError,
      message: error.message,
      elapsed: performance.now() - t0,
      nowBroken: b.broken,
    };
  }
}

/** rounds waits, recording indices like barrierRounds, without an action. */
export function plainRounds({ barrier, gens, seen }) {
  const b = Barrier.fromHandle(barrier);
  for (let g = 0; g < gens; g++) Atomics.add(seen, g * b.parties + b.wait(10_000), 1);
  return gens;
}
