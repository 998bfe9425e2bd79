// refs.ts: who holds each reference. Blocks held by thread tables (alloc, open, release with an
// index), transit blocks carrying a message's or a process's references (add, adopt, forged
// adopts, freeing with entries left), the boot hand-over, references to thread slots, and the
// finalizers that let go of what a freed block held (transit entries, a ring's messages, chains).
import { HEADER, OK, E_RANGE, E_KIND, E_STALE, E_NOT_BLOCK, blockAt, block_generation, block_refs, arena_check } from "../../assembly/arena";
import {
  E_NOT_HELD, E_NO_THREAD, E_NO_MEMORY, E_NOT_IN_TRANSIT,
  block_alloc, block_open, block_check, block_release, thread_last_index, thread_last_block, thread_ref_count,
  transit_new, transit_add, transit_adopt, transit_pending, thread_hold, thread_release, thread_boot_give, thread_boot_take,
} from "../../assembly/refs";
import { T_BOOT, T_REFS, T_STATE, FREE, DEAD, RUNNING, refAt, slotAt, thread_state } from "../../assembly/threads";
import { thread_reap } from "../../assembly/reaper";
import { RING_HEADER, ring_init, q_put, q_count } from "../../assembly/ring";
import { KIND_VALUE, KIND_EVENT, KIND_QUEUE, KIND_TRANSIT } from "../../assembly/kinds";
import { Figures, expectFigures, setup, me, alloc, spawn, kill, forget, indexOf, pendOf } from "./support";

const K: i32 = KIND_VALUE;

function release(p: i32, id: i32): i32 {
  return block_release(p, block_generation(p), id, indexOf(id, <usize>p));
}
function gen(p: i32): i32 {
  return block_generation(p);
}
function slotRefs(id: i32): i32 {
  return atomic.load<i32>(slotAt(id) + T_REFS);
}
/** A transit block for n references held by `id`, with its table index in transitIndex. */
let transitIndex: i32 = -1;
function newTransit(id: i32, n: i32): i32 {
  const t = transit_new(id, n);
  assert(t != 0, "transit_new failed");
  transitIndex = thread_last_index(id);
  return t;
}

describe("block_alloc / block_open / block_release", () => {
  beforeAll(() => { setup(); });

  test("block_alloc: one reference, recorded in the thread's table at thread_last_index", () => {
    const before = new Figures();
    const v = spawn();
    const p = block_alloc(40, K, v);
    expect(p).not.toBe(0);
    expect(block_refs(p)).toBe(1);
    expect(refAt(slotAt(v), thread_last_index(v))).toBe(<usize>p);
    expect(thread_ref_count(v)).toBe(1);
    expect(block_check(p, K, gen(p))).toBe(OK);
    expect(atomic.load<i32>(pendOf(v))).toBe(0);
    expect(block_alloc(40, K, v + (1 << 10))).toBe(0); // not a thread: nothing allocated
    expect(block_alloc(40, K, 0)).toBe(0);
    expect(release(p, v)).toBe(1);
    kill(v);
    forget(v);
    expectFigures(before);
  });

  test("block_open: another reference in the opener's table; failures take none", () => {
    const before = new Figures();
    const a = spawn();
    const b = spawn();
    const p = alloc(16, K, a);
    const g = gen(p);
    const i = block_open(p, K, g, b);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(i).toBe(thread_last_index(b));
    expect(refAt(slotAt(b), i)).toBe(<usize>p);
    expect(block_refs(p)).toBe(2);
    expect(block_open(p, K + 1, g, b)).toBe(E_KIND);
    expect(block_open(p, K, g + 1, b)).toBe(E_STALE);
    expect(block_open(p + 16, K, g, b)).toBe(E_NOT_BLOCK);
    expect(block_open(p + 4, K, g, b)).toBe(E_RANGE);
    expect(block_open(p, K, g, b + (1 << 10))).toBe(E_NO_THREAD);
    expect(block_refs(p)).toBe(2);
    expect(thread_ref_count(b)).toBe(1);
    expect(block_release(p, g, a, indexOf(a, <usize>p))).toBe(0); // b still holds it
    expect(blockAt(p)).toBe(OK);
    expect(block_release(p, g, b, i)).toBe(1);
    expect(block_open(p, K, g, b)).toBe(E_STALE); // freed
    kill(a);
    kill(b);
    forget(a);
    forget(b);
    expectFigures(before);
  });

  test("block_release with an index that does not hold the block: E_NOT_HELD, and nothing changes", () => {
    const before = new Figures();
    const a = spawn();
    const b = spawn();
    const p = alloc(16, K, a);
    const q = alloc(16, K, a);
    const ip = indexOf(a, <usize>p);
    const iq = indexOf(a, <usize>q);
    const ib = block_open(p, K, gen(p), b);
    const counts = thread_ref_count(a);
    expect(block_release(p, gen(p), a, iq)).toBe(E_NOT_HELD); // q's index
    expect(block_release(p, gen(p), a, 31)).toBe(E_NOT_HELD); // a free entry
    expect(block_release(p, gen(p), a, -1)).toBe(E_NOT_HELD);
    expect(block_release(p, gen(p), a, 1 << 20)).toBe(E_NOT_HELD);
    expect(block_release(p, gen(p) + 1, a, ip)).toBe(E_STALE); // the right index, a wrong generation
    expect(block_release(p, gen(p), a + (1 << 10), ip)).toBe(E_NO_THREAD);
    expect(block_refs(p)).toBe(2);
    expect(block_refs(q)).toBe(1);
    expect(thread_ref_count(a)).toBe(counts);
    expect(refAt(slotAt(a), ip)).toBe(<usize>p);
    expect(refAt(slotAt(a), iq)).toBe(<usize>q);
    expect(block_release(p, gen(p), b, ib)).toBe(0);
    expect(block_release(p, gen(p), a, ip)).toBe(1);
    expect(block_release(p, gen(p), a, ip)).toBe(E_NOT_HELD); // released already
    expect(release(q, a)).toBe(1);
    kill(a);
    kill(b);
    forget(a);
    forget(b);
    expectFigures(before);
  });
});

describe("transit blocks", () => {
  beforeAll(() => { setup(); });

  test("transit_new: a KIND_TRANSIT block of n entries held by the thread; absurd sizes are refused", () => {
    const t = newTransit(me(), 3);
    expect(block_check(t, KIND_TRANSIT, gen(t))).toBe(OK);
    expect(refAt(slotAt(me()), transitIndex)).toBe(<usize>t);
    expect(load<i32>(<usize>t)).toBe(3);
    expect(transit_pending(t)).toBe(0);
    expect(transit_new(me(), -1)).toBe(0);
    expect(transit_new(me(), (1 << 24) + 1)).toBe(0);
    expect(transit_new(me() + (1 << 10), 1)).toBe(0);
    expect(release(t, me())).toBe(1);
    expect(arena_check()).toBe(0);
  });

  test("transit_add takes a reference of its own; a full transit or a bad handle takes none", () => {
    const before = new Figures();
    const p = alloc(16, K);
    const e = alloc(16, KIND_EVENT);
    const t = newTransit(me(), 2);
    expect(transit_add(t, p, K, gen(p))).toBe(OK);
    expect(block_refs(p)).toBe(2);
    expect(transit_add(t, e, K, gen(e))).toBe(E_KIND);
    expect(transit_add(t, e, KIND_EVENT, gen(e) + 1)).toBe(E_STALE);
    expect(transit_add(t, p + 16, K, gen(p))).toBe(E_NOT_BLOCK);
    expect(block_refs(e)).toBe(1);
    expect(transit_add(t, e, KIND_EVENT, gen(e))).toBe(OK);
    expect(transit_add(t, p, K, gen(p))).toBe(E_NO_MEMORY); // full
    expect(block_refs(p)).toBe(2);
    expect(transit_pending(t)).toBe(2);
    expect(release(t, me())).toBe(1); // entries not adopted: their references go with it
    expect(block_refs(p)).toBe(1);
    expect(block_refs(e)).toBe(1);
    expect(release(p, me())).toBe(1);
    expect(release(e, me())).toBe(1);
    expectFigures(before);
  });

  test("transit_adopt moves a reference into the adopter's table once; forged or repeated adopts get nothing", () => {
    const before = new Figures();
    const r = spawn(); // the receiver
    const p = alloc(16, K);
    const q = alloc(16, K);
    const t = newTransit(me(), 2);
    expect(transit_add(t, p, K, gen(p))).toBe(OK);
    expect(release(p, me())).toBe(0); // the sender lets go: the transit holds p now
    expect(block_refs(p)).toBe(1);
    expect(transit_adopt(t, q, gen(q), r)).toBe(E_NOT_IN_TRANSIT); // q is live, but t does not carry it
    expect(block_refs(q)).toBe(1);
    expect(transit_adopt(t, p, gen(p) + 1, r)).toBe(E_STALE);
    expect(transit_pending(t)).toBe(1);
    expect(transit_adopt(t, p, gen(p), r + (1 << 10))).toBe(E_NO_THREAD);
    const i = transit_adopt(t, p, gen(p), r);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(i).toBe(thread_last_index(r));
    expect(refAt(slotAt(r), i)).toBe(<usize>p);
    expect(block_refs(p)).toBe(1); // moved, not copied
    expect(transit_pending(t)).toBe(0);
    expect(transit_adopt(t, p, gen(p), r)).toBe(E_NOT_IN_TRANSIT); // taken already
    expect(thread_ref_count(r)).toBe(1);
    expect(release(t, me())).toBe(1); // nothing left in it: p stays
    expect(blockAt(p)).toBe(OK);
    expect(release(p, r)).toBe(1);
    expect(release(q, me())).toBe(1);
    kill(r);
    forget(r);
    expectFigures(before);
  });

  test("a transit freed with entries nobody adopted frees what only it held, and only that", () => {
    const before = new Figures();
    const only = alloc(100, K);
    const shared = alloc(100, K);
    const t = newTransit(me(), 2);
    expect(transit_add(t, only, K, gen(only))).toBe(OK);
    expect(transit_add(t, shared, K, gen(shared))).toBe(OK);
    release(only, me());
    expect(release(t, me())).toBe(1);
    expect(blockAt(only)).toBe(E_STALE);
    expect(block_refs(shared)).toBe(1);
    expect(release(shared, me())).toBe(1);
    expectFigures(before);
  });

  test("a chain of transits carrying transits is freed by one release, without recursion", () => {
    const before = new Figures();
    let inner = alloc(16, K);
    let kind = K;
    for (let i = 0; i < 200; i++) {
      const t = newTransit(me(), 1);
      expect(transit_add(t, inner, kind, gen(inner))).toBe(OK);
      expect(release(inner, me())).toBe(0);
      inner = t;
      kind = KIND_TRANSIT;
    }
    expect(release(inner, me())).toBe(1);
    expect(atomic.load<i32>(pendOf(me()))).toBe(0);
    expectFigures(before);
  });
});

describe("boot: a process's arguments", () => {
  beforeAll(() => { setup(); });

  test("the parent gives the transit to the child's slot; the child takes it into its table once", () => {
    const before = new Figures();
    const child = spawn();
    const arg = alloc(16, K);
    const t = newTransit(me(), 1);
    expect(transit_add(t, arg, K, gen(arg))).toBe(OK);
    release(arg, me());
    const count = thread_ref_count(me());
    expect(thread_boot_give(child, t, me(), transitIndex)).toBe(OK);
    expect(thread_ref_count(me())).toBe(count - 1);
    expect(atomic.load<i32>(slotAt(child) + T_BOOT)).toBe(t);
    expect(block_refs(t)).toBe(1); // the slot holds it now
    expect(thread_boot_give(child, t, me(), transitIndex)).toBe(E_NOT_HELD); // not ours any more
    expect(thread_boot_take(child)).toBe(t);
    expect(refAt(slotAt(child), thread_last_index(child))).toBe(<usize>t);
    expect(thread_last_block(child)).toBe(t);
    expect(atomic.load<i32>(slotAt(child) + T_BOOT)).toBe(0);
    expect(thread_boot_take(child)).toBe(0);
    expect(transit_adopt(t, arg, gen(arg), child)).toBeGreaterThanOrEqual(0);
    kill(child); // drops t and arg with the rest of its table
    forget(child);
    expectFigures(before);
  });

  test("thread_boot_give refuses a wrong index, a second transit, or a child that is not a thread", () => {
    const before = new Figures();
    const child = spawn();
    const t = newTransit(me(), 0);
    const ti = transitIndex;
    const u = newTransit(me(), 0);
    const ui = transitIndex;
    expect(thread_boot_give(child, t, me(), ui)).toBe(E_NOT_HELD);
    expect(thread_boot_give(child + (1 << 10), t, me(), ti)).toBe(E_NOT_HELD);
    expect(thread_boot_give(child, t, me() + (1 << 10), ti)).toBe(E_NOT_HELD);
    expect(thread_boot_give(child, t, me(), ti)).toBe(OK);
    expect(thread_boot_give(child, u, me(), ui)).toBe(E_NOT_HELD); // one boot transit per child
    expect(refAt(slotAt(me()), ui)).toBe(<usize>u);
    expect(release(u, me())).toBe(1);
    kill(child); // it never took t: the reaper lets go of it
    expect(blockAt(t)).toBe(E_STALE);
    forget(child);
    expectFigures(before);
  });
});

describe("references to thread slots", () => {
  beforeAll(() => { setup(); });

  test("thread_hold / thread_release count a supervisor's hold on a slot", () => {
    const v = spawn();
    const s = spawn();
    expect(slotRefs(v)).toBe(2);
    const i = thread_hold(v, s);
    expect(i).toBeGreaterThanOrEqual(0);
    expect(refAt(slotAt(s), i)).toBe(slotAt(v));
    expect(slotRefs(v)).toBe(3);
    expect(thread_hold(v + (1 << 10), s)).toBe(E_NO_THREAD);
    expect(thread_hold(v, s + (1 << 10))).toBe(E_NO_THREAD);
    expect(thread_release(v, s, i + 1)).toBe(E_NOT_HELD);
    expect(thread_release(s, s, i)).toBe(E_NOT_HELD); // that index holds v, not s
    expect(slotRefs(v)).toBe(3);
    expect(thread_release(v, s, i)).toBe(1);
    expect(slotRefs(v)).toBe(2);
    expect(thread_release(v, s, i)).toBe(E_NOT_HELD);
    kill(v);
    kill(s);
    forget(v);
    forget(s);
  });

  test("a slot is freed when its thread is DEAD and the last reference goes, in either order", () => {
    const v = spawn();
    const s = spawn();
    const i = thread_hold(v, s);
    kill(v);
    expect(thread_state(v)).toBe(DEAD);
    expect(slotRefs(v)).toBe(2); // its parent and s
    forget(v);
    expect(atomic.load<i32>(slotAt(v) + T_STATE)).toBe(DEAD);
    expect(thread_release(v, s, i)).toBe(1);
    expect(atomic.load<i32>(slotAt(v) + T_STATE)).toBe(FREE);
    // references dropped while it runs: the reap frees it
    const w = spawn();
    forget(w);
    expect(slotRefs(w)).toBe(1);
    expect(atomic.load<i32>(slotAt(w) + T_STATE)).toBe(RUNNING);
    kill(w);
    expect(atomic.load<i32>(slotAt(w) + T_STATE)).toBe(FREE);
    kill(s);
    forget(s);
    expect(arena_check()).toBe(0);
  });
});

describe("finalizers", () => {
  beforeAll(() => { setup(); });

  test("a ring freed with messages still in it releases their transits and what they carry", () => {
    const before = new Figures();
    const q = alloc(RING_HEADER + 1024, KIND_QUEUE);
    expect(ring_init(q, 1024, 0, 0)).toBe(0);
    const buf = alloc(64, K);
    const carried = new Array<i32>(0);
    for (let i = 0; i < 3; i++) {
      const x = alloc(16, K);
      const t = newTransit(me(), 1);
      expect(transit_add(t, x, K, gen(x))).toBe(OK);
      release(x, me());
      expect(q_put(q, me(), buf, 8, 0, t, transitIndex)).toBe(1);
      expect(refAt(slotAt(me()), transitIndex)).toBe(0); // the ring holds it now
      expect(block_refs(t)).toBe(1);
      carried.push(x);
      carried.push(t);
    }
    expect(q_put(q, me(), buf, 8, 0, 0, 0)).toBe(1); // one without objects
    expect(q_count(q)).toBe(4);
    expect(release(q, me())).toBe(1);
    for (let i = 0; i < carried.length; i++) expect(blockAt(carried[i])).toBe(E_STALE);
    release(buf, me());
    expectFigures(before);
  });

  test("a transit only a reaped thread held is finalized by the reaper the same way", () => {
    const before = new Figures();
    const v = spawn();
    const x = alloc(16, K);
    const t = newTransit(v, 1);
    expect(transit_add(t, x, K, gen(x))).toBe(OK);
    release(x, me());
    expect(thread_reap(v, 1, me())).toBeGreaterThanOrEqual(0);
    expect(blockAt(t)).toBe(E_STALE);
    expect(blockAt(x)).toBe(E_STALE);
    forget(v);
    expectFigures(before);
  });
});
