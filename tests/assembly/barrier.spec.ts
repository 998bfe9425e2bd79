// barrier.ts: Python's Barrier — indices, generations, the action and its pending state, the
// broken state, resets, timeouts, asynchronous arrivals, and parties that died.
import {
  BARRIER_SIZE, E_BROKEN, E_BUSY,
  barrier_init, barrier_arrive, barrier_arrive_async, barrier_finish, barrier_status, barrier_timeout, barrier_gen,
  barrier_wait, barrier_break_if_gen, barrier_reset, barrier_abort, barrier_parties, barrier_n_waiting, barrier_broken,
} from "../../assembly/barrier";
import { T_WAIT_KIND, T_WAIT_AT, T_WAIT_EXTRA, T_WAITS, T_LAST_BLOCK, slotAt, wait_unregister, waitKindOf, waitExtraOf } from "../../assembly/threads";
import { blockAt, OK, E_STALE } from "../../assembly/arena";
import { KIND_BARRIER, WAIT_BARRIER_ACTION } from "../../assembly/kinds";
import { now } from "../../assembly/wait";
import { Figures, expectFigures, alloc, setup, spawn, kill, forget, since } from "./support";

const BLOCKED_KIND: usize = T_WAIT_KIND;
const BLOCKED_AT: usize = T_WAIT_AT;
const BLOCKED_EXTRA: usize = T_WAIT_EXTRA;
const GEN_OFFSET: usize = 12; // barrier offset of the generation word

function newBarrier(parties: i32): i32 {
  const p = alloc(BARRIER_SIZE, KIND_BARRIER);
  barrier_init(p, parties);
  return p;
}
function pack(gen: i32, index: i32): i32 {
  return ((gen & 0x7fff) << 16) | index;
}
function blocked(id: i32, offset: usize): i32 {
  return atomic.load<i32>(slotAt(id) + offset);
}

let T0: i32 = 0;
let T1: i32 = 0;
let T2: i32 = 0;
function threads(): void {
  if (T0 == 0) {
    setup();
    T0 = spawn();
    T1 = spawn();
    T2 = spawn();
  }
}

describe("Barrier", () => {
  beforeAll(threads);

  test("a new barrier: parties, generation 0, nobody waiting, not broken", () => {
    const p = newBarrier(3);
    expect(barrier_parties(p)).toBe(3);
    expect(barrier_gen(p)).toBe(0);
    expect(barrier_n_waiting(p)).toBe(0);
    expect(barrier_broken(p)).toBe(0);
    expect(barrier_status(p, 0)).toBe(0);
    expect(E_BROKEN).toBe(-41);
    expect(E_BUSY).toBe(-42);
  });

  test("parties = 1: every wait returns index 0 at once and advances the generation", () => {
    const p = newBarrier(1);
    for (let g = 0; g < 5; g++) {
      const t0 = now();
      const r = barrier_wait(p, 0, -1, T0);
      expect(r).toBe(pack(g, 0));
      expect(r & 0xffff).toBe(0);
      expect(barrier_gen(p)).toBe(g + 1);
      expect(since(t0)).toBeLessThan(100.0);
    }
    expect(barrier_status(p, 0)).toBe(1);
    expect(barrier_broken(p)).toBe(0);
  });

  test("parties = 3: arrivals get distinct indices 0, 1, 2; the third releases the generation", () => {
    const p = newBarrier(3);
    const a = barrier_arrive(p, 0, T0);
    expect(a).toBe(pack(0, 0));
    expect(barrier_n_waiting(p)).toBe(1);
    expect(barrier_status(p, 0)).toBe(0);
    const b = barrier_arrive(p, 0, T1);
    expect(b).toBe(pack(0, 1));
    expect(barrier_n_waiting(p)).toBe(2);
    expect(barrier_gen(p)).toBe(0);
    const c = barrier_arrive(p, 0, T2);
    expect(c).toBe(pack(0, 2));
    expect(barrier_gen(p)).toBe(1);
    expect(barrier_n_waiting(p)).toBe(0);
    expect(barrier_status(p, 0)).toBe(1);
    expect(barrier_status(p, 1)).toBe(0);
    // next generation
    expect(barrier_arrive(p, 0, T0)).toBe(pack(1, 0));
    expect(barrier_arrive(p, 0, T1)).toBe(pack(1, 1));
    expect(barrier_arrive(p, 0, T2)).toBe(pack(1, 2));
    expect(barrier_gen(p)).toBe(2);
    expect(barrier_status(p, 1)).toBe(1);
  });

  test("a non-last arrival records in its thread record that it waits in this barrier", () => {
    const p = newBarrier(2);
    const T = spawn();
    barrier_arrive(p, 0, T);
    expect(blocked(T, BLOCKED_KIND)).toBe(KIND_BARRIER);
    expect(blocked(T, BLOCKED_AT)).toBe(p);
    expect(blocked(T, BLOCKED_EXTRA)).toBe(0); // its generation
    const U = spawn();
    barrier_arrive(p, 0, U); // the last arrival does not block
    expect(blocked(U, BLOCKED_KIND)).toBe(0);
  });

  test("the packed generation keeps 15 bits and wraps to 0", () => {
    const p = newBarrier(1);
    atomic.store<i32>(<usize>p + GEN_OFFSET, 0x7fff);
    expect(barrier_wait(p, 0, -1, T0)).toBe(pack(0x7fff, 0));
    expect(barrier_wait(p, 0, -1, T0)).toBe(pack(0, 0));
    expect(barrier_gen(p)).toBe(0x8001);
    expect(barrier_wait(p, 0, -1, T0)).toBeGreaterThanOrEqual(0);
  });
});

describe("Barrier action (hasAction)", () => {
  beforeAll(threads);

  test("the last arrival with an action leaves the barrier pending until barrier_finish(ok)", () => {
    const p = newBarrier(3);
    expect(barrier_arrive(p, 1, T0)).toBe(pack(0, 0)); // only the last arrival's flag matters
    expect(barrier_arrive(p, 0, T1)).toBe(pack(0, 1));
    expect(barrier_arrive(p, 1, T2)).toBe(pack(0, 2));
    expect(barrier_gen(p)).toBe(0); // not released yet
    expect(barrier_status(p, 0)).toBe(0);
    expect(barrier_n_waiting(p)).toBe(0);
    expect(barrier_arrive(p, 0, T0)).toBe(E_BUSY); // a 4th arrival must wait for the action
    expect(barrier_arrive(p, 1, T0)).toBe(E_BUSY);
    barrier_finish(p, 1, T2);
    expect(barrier_gen(p)).toBe(1);
    expect(barrier_status(p, 0)).toBe(1);
    expect(barrier_broken(p)).toBe(0);
    expect(barrier_arrive(p, 0, T0)).toBe(pack(1, 0));
  });

  test("barrier_finish(failed) breaks the generation", () => {
    const p = newBarrier(2);
    barrier_arrive(p, 0, T0);
    barrier_arrive(p, 1, T1);
    barrier_finish(p, 0, T1);
    expect(barrier_broken(p)).toBe(1);
    expect(barrier_status(p, 0)).toBe(E_BROKEN);
    expect(barrier_arrive(p, 0, T0)).toBe(E_BROKEN);
  });

  test("barrier_wait on a pending barrier with a timeout gives up with E_BROKEN after the timeout", () => {
    const p = newBarrier(2);
    barrier_arrive(p, 0, T0);
    barrier_arrive(p, 1, T1);
    const t0 = now();
    expect(barrier_wait(p, 0, 3, T2)).toBe(E_BROKEN);
    expect(since(t0)).toBeGreaterThanOrEqual(3.0);
    barrier_finish(p, 1, T2);
    expect(barrier_status(p, 0)).toBe(1);
  });

  // barrier_finish checks that the generation it finishes is still pending: after a reset
  // during the action, a late finish(ok) must not release the next generation short of parties.
  test("barrier_finish after a reset during the action does not release the next generation", () => {
    const p = newBarrier(3);
    barrier_arrive(p, 0, T0);
    barrier_arrive(p, 0, T1);
    barrier_arrive(p, 1, T2); // pending: T2 runs the action
    barrier_reset(p); // breaks generation 0, clears broken
    const a = barrier_arrive(p, 0, T0); // generation 1, 1 of 3 parties
    expect(a).toBe(pack(1, 0));
    barrier_finish(p, 1, T2); // the action of generation 0 completes
    expect(barrier_status(p, 1)).toBe(0);
    expect(barrier_n_waiting(p)).toBe(1);
  });
});

describe("Barrier broken state", () => {
  beforeAll(threads);

  test("barrier_abort breaks it: arrivals and waits return E_BROKEN; waiters of that generation see it", () => {
    const p = newBarrier(3);
    barrier_arrive(p, 0, T0);
    barrier_abort(p);
    expect(barrier_broken(p)).toBe(1);
    expect(barrier_status(p, 0)).toBe(E_BROKEN);
    expect(barrier_n_waiting(p)).toBe(0);
    expect(barrier_arrive(p, 0, T1)).toBe(E_BROKEN);
    expect(barrier_wait(p, 0, -1, T1)).toBe(E_BROKEN); // does not block
    expect(barrier_wait(p, 0, 5, T1)).toBe(E_BROKEN);
  });

  test("barrier_reset clears the broken state; the next generation works", () => {
    const p = newBarrier(2);
    barrier_abort(p);
    const gen = barrier_gen(p);
    barrier_reset(p);
    expect(barrier_broken(p)).toBe(0);
    expect(barrier_gen(p)).toBe(gen); // nobody waiting: no extra generation
    expect(barrier_arrive(p, 0, T0)).toBe(pack(gen, 0));
    expect(barrier_arrive(p, 0, T1)).toBe(pack(gen, 1));
    expect(barrier_status(p, gen)).toBe(1);
  });

  test("barrier_reset with waiters breaks their generation, then accepts a fresh one", () => {
    const p = newBarrier(3);
    barrier_arrive(p, 0, T0);
    barrier_arrive(p, 0, T1);
    barrier_reset(p);
    expect(barrier_status(p, 0)).toBe(E_BROKEN);
    expect(barrier_broken(p)).toBe(0);
    expect(barrier_n_waiting(p)).toBe(0);
    expect(barrier_arrive(p, 0, T0)).toBe(pack(1, 0));
  });

  test("barrier_timeout on the current generation breaks it", () => {
    const p = newBarrier(3);
    const a = barrier_arrive(p, 0, T0);
    expect(barrier_timeout(p, a >>> 16)).toBe(E_BROKEN);
    expect(barrier_broken(p)).toBe(1);
    expect(barrier_status(p, 0)).toBe(E_BROKEN);
    expect(barrier_arrive(p, 0, T1)).toBe(E_BROKEN);
  });

  test("barrier_timeout for a generation already released changes nothing and reports released", () => {
    const p = newBarrier(2);
    barrier_arrive(p, 0, T0);
    barrier_arrive(p, 0, T1);
    expect(barrier_timeout(p, 0)).toBe(1);
    expect(barrier_broken(p)).toBe(0);
    expect(barrier_gen(p)).toBe(1);
  });

  test("barrier_wait alone on a 2-party barrier with a 5 ms timeout: E_BROKEN after >= 5 ms, barrier broken", () => {
    const p = newBarrier(2);
    const T = spawn();
    const t0 = now();
    expect(barrier_wait(p, 0, 5, T)).toBe(E_BROKEN);
    const elapsed = since(t0);
    expect(elapsed).toBeGreaterThanOrEqual(5.0);
    expect(elapsed).toBeLessThan(1000.0);
    expect(barrier_broken(p)).toBe(1);
    expect(barrier_status(p, 0)).toBe(E_BROKEN);
    expect(barrier_n_waiting(p)).toBe(0);
    expect(blocked(T, BLOCKED_KIND)).toBe(0); // barrier_wait unblocks the thread record
    expect(barrier_arrive(p, 0, T0)).toBe(E_BROKEN);
  });

  test("barrier_break_if_gen breaks only the generation still filling", () => {
    const p = newBarrier(2);
    barrier_break_if_gen(p, 0); // nobody arrived: nothing to break
    expect(barrier_broken(p)).toBe(0);
    barrier_arrive(p, 0, T0);
    barrier_break_if_gen(p, 5); // another generation
    expect(barrier_broken(p)).toBe(0);
    barrier_break_if_gen(p, 0);
    expect(barrier_broken(p)).toBe(1);
    expect(barrier_status(p, 0)).toBe(E_BROKEN);
  });

  test("a later broken generation does not make an earlier released one look broken", () => {
    const p = newBarrier(1);
    expect(barrier_wait(p, 0, -1, T0)).toBe(pack(0, 0)); // generation 0 released
    barrier_abort(p); // generation 1 broken
    expect(barrier_status(p, 0)).toBe(1);
    expect(barrier_status(p, 1)).toBe(E_BROKEN);
  });
});

describe("Barrier generations", () => {
  beforeAll(threads);

  test("a reset after a break does not break again 32,768 generations later (the full generation is compared)", () => {
    const p = newBarrier(2);
    barrier_arrive(p, 0, T0);
    barrier_abort(p); // generation 0 ends broken
    barrier_reset(p);
    expect(barrier_status(p, 0)).toBe(E_BROKEN);
    while (barrier_gen(p) < 32768) {
      barrier_arrive(p, 0, T0);
      barrier_arrive(p, 0, T1);
    }
    expect(barrier_gen(p)).toBe(32768); // the same 15 bits as the broken generation 0
    const a = barrier_arrive(p, 0, T0);
    expect(a).toBe(pack(0, 0));
    expect(barrier_status(p, 0)).toBe(0); // still filling
    expect(barrier_arrive(p, 0, T1)).toBe(pack(0, 1));
    expect(barrier_status(p, 0)).toBe(1); // released, not the old break
    expect(barrier_broken(p)).toBe(0);
  });
});

describe("asynchronous arrivals", () => {
  beforeAll(threads);

  test("a waiting arrival is registered in the slot with its generation; unregistering frees it", () => {
    const p = newBarrier(2);
    const before = new Figures();
    expect(barrier_arrive_async(p, 0, T0)).toBe(pack(0, 0));
    const reg = atomic.load<i32>(slotAt(T0) + T_LAST_BLOCK);
    expect(reg).not.toBe(0);
    expect(atomic.load<i32>(slotAt(T0) + T_WAITS)).toBe(reg);
    expect(waitKindOf(<usize>reg)).toBe(KIND_BARRIER);
    expect(waitExtraOf(<usize>reg)).toBe(0);
    expect(barrier_arrive_async(p, 0, T1)).toBe(pack(0, 1)); // the last: released at once, nothing kept
    expect(atomic.load<i32>(slotAt(T1) + T_LAST_BLOCK)).toBe(0);
    expect(atomic.load<i32>(slotAt(T1) + T_WAITS)).toBe(0);
    expect(barrier_status(p, 0)).toBe(1);
    expect(wait_unregister(T0, reg)).toBe(1);
    expect(blockAt(reg)).toBe(E_STALE);
    expectFigures(before);
  });

  test("the last arrival with an action is registered as WAIT_BARRIER_ACTION; broken or busy arrivals keep nothing", () => {
    const p = newBarrier(1);
    const before = new Figures();
    expect(barrier_arrive_async(p, 1, T0)).toBe(pack(0, 0));
    const reg = atomic.load<i32>(slotAt(T0) + T_LAST_BLOCK);
    expect(waitKindOf(<usize>reg)).toBe(WAIT_BARRIER_ACTION);
    expect(barrier_arrive_async(p, 0, T1)).toBe(E_BUSY);
    expect(atomic.load<i32>(slotAt(T1) + T_WAITS)).toBe(0);
    barrier_finish(p, 1, T0);
    expect(wait_unregister(T0, reg)).toBe(1);
    barrier_abort(p);
    expect(barrier_arrive_async(p, 0, T1)).toBe(E_BROKEN);
    expect(atomic.load<i32>(slotAt(T1) + T_WAITS)).toBe(0);
    expect(atomic.load<i32>(slotAt(T1) + T_LAST_BLOCK)).toBe(0);
    expectFigures(before);
  });
});

describe("parties that died", () => {
  beforeAll(threads);

  test("a reaped party breaks the barrier; a reaped party running the action breaks it too", () => {
    const p = newBarrier(3);
    const v = spawn();
    barrier_arrive(p, 0, T0);
    barrier_arrive(p, 0, v);
    kill(v);
    expect(barrier_broken(p)).toBe(1);
    expect(barrier_status(p, 0)).toBe(E_BROKEN);
    forget(v);
    const q = newBarrier(2);
    const w = spawn();
    barrier_arrive(q, 0, T0);
    expect(barrier_wait(q, 1, -1, w)).toBe(pack(0, 1)); // w is the last: it runs the action
    expect(blocked(w, BLOCKED_KIND)).toBe(WAIT_BARRIER_ACTION);
    expect(barrier_status(q, 0)).toBe(0); // pending
    kill(w);
    expect(barrier_status(q, 0)).toBe(E_BROKEN);
    forget(w);
  });
});
