// reaper.ts: thread_reap gives back everything a stopped thread had — the step it was in the
// middle of (the ownership layer's pending steps here; the arena's are in arena.spec.ts), the
// waits it was in, every reference in its table — and frees its slot when the last reference
// to it goes; thread_detach is a root thread leaving.
import { HEADER, arenaAlloc, blockAt, blockDrop, block_generation, block_refs, OK, E_STALE, arena_check } from "../../assembly/arena";
import {
  T_ID, T_STATE, T_CODE, T_REFS, T_TABLE, T_TABLE_NEXT, T_WAIT_KIND, T_WAITS, T_REAPER,
  FREE, RESERVED, RUNNING, EXITED, DEAD, TERMINATING, REAPING,
  PEND_GROW, PEND_NEW_SLOT, slotAt, thread_alive, thread_state, thread_exit, thread_terminate, thread_block,
  dropRef, initSlot, refAt, reserveSlot, tableCapacity, waitAlloc,
} from "../../assembly/threads";
import {
  PEND_FINALIZE, block_release, thread_attach, thread_last_index, thread_ref_count, transit_new, transit_add,
  pushFree, dropTableRef, thread_reserve, block_open,
} from "../../assembly/refs";
import { REAP_NOTHING, thread_reap, thread_detach } from "../../assembly/reaper";
import { LOCK_SIZE, WAITERS, OWNER_DIED, ACQUIRED, E_OWNER_DIED, lock_try, lock_acquire, lock_release } from "../../assembly/lock";
import { CONDITION_SIZE, cond_enter, cond_enter_async, cond_notify, cond_waiters } from "../../assembly/condition";
import {
  BARRIER_SIZE, barrier_init, barrier_arrive, barrier_arrive_async, barrier_broken, barrier_finish, barrier_n_waiting,
} from "../../assembly/barrier";
import { SEMAPHORE_SIZE, sem_init, sem_acquire, sem_value } from "../../assembly/semaphore";
import { RING_HEADER, RING_PIPE, ring_init, q_put, q_put_begin, q_count, q_eof, ringClose } from "../../assembly/ring";
import { conn_init } from "../../assembly/connection";
import {
  KIND_VALUE, KIND_LOCK, KIND_CONDITION, KIND_BARRIER, KIND_SEMAPHORE, KIND_QUEUE, KIND_CHANNEL, KIND_CONNECTION,
  KIND_TRANSIT, KIND_REFTABLE, WAIT_BARRIER_ACTION,
} from "../../assembly/kinds";
import { Figures, expectFigures, setup, me, alloc, spawn, kill, forget, indexOf, pendOf, claimerOf } from "./support";

const K: i32 = KIND_VALUE;
const C_WAITERS: usize = 4; // condition.ts
const C_TOKENS: usize = 8;

function gen(p: i32): i32 {
  return block_generation(p);
}
function release(p: i32, id: i32): i32 {
  return block_release(p, gen(p), id, indexOf(id, <usize>p));
}
function state(id: i32): i32 {
  return atomic.load<i32>(slotAt(id) + T_STATE);
}
function slotRefs(id: i32): i32 {
  return atomic.load<i32>(slotAt(id) + T_REFS);
}
function tableOf(id: i32): usize {
  return <usize>atomic.load<i32>(slotAt(id) + T_TABLE);
}
function word(p: i32): i32 {
  return atomic.load<i32>(<usize>p);
}
function newRing(id: i32, kind: i32 = KIND_QUEUE, flags: i32 = 0): i32 {
  const q = alloc(RING_HEADER + 1024, kind, id);
  ring_init(q, 1024, 0, flags);
  return q;
}
/** A transit held by `id` that carries one reference to x (the caller's, which it drops). */
let transitIndex: i32 = -1;
function carrying(id: i32, x: i32, kind: i32): i32 {
  const t = transit_new(id, 1);
  transitIndex = thread_last_index(id);
  assert(transit_add(t, x, kind, gen(x)) == OK, "transit_add failed");
  return t;
}
/** Takes another reference to p for thread `id` (whatever p's kind): its index. */
function block_open_for(id: i32, p: i32): i32 {
  return block_open(p, (load<i32>(<usize>p - HEADER) >> 8) & 0xff, gen(p), id);
}
/** An id that names a thread that has ended and whose slot was freed. */
function deadId(): i32 {
  const d = spawn();
  kill(d);
  forget(d);
  return d;
}

describe("thread_reap: which threads, and once", () => {
  beforeAll(() => { setup(); });

  test("ids that name no thread, and threads already reaped or never published: REAP_NOTHING", () => {
    expect(thread_reap(0, 1, me())).toBe(REAP_NOTHING);
    expect(thread_reap(-3, 1, me())).toBe(REAP_NOTHING);
    expect(thread_reap(me() + (1 << 10), 1, me())).toBe(REAP_NOTHING);
    const v = spawn();
    expect(thread_reap(v, 1, me())).toBe(0);
    expect(state(v)).toBe(DEAD);
    expect(thread_reap(v, 2, me())).toBe(REAP_NOTHING);
    forget(v);
    expect(state(v)).toBe(FREE);
    expect(thread_reap(v, 1, me())).toBe(REAP_NOTHING);
    const slot = reserveSlot(slotAt(me()) + 124);
    const id = initSlot(slot, me(), 1, 0);
    expect(state(id)).toBe(RESERVED);
    expect(thread_reap(id, 1, me())).toBe(REAP_NOTHING); // being set up: its creator owns it
    expect(state(id)).toBe(RESERVED);
    atomic.store<i32>(slot + T_STATE, FREE);
  });

  test("a reap another live thread is doing is left to it; one a dead reaper began is taken over", () => {
    const before = new Figures();
    const v = spawn();
    const p = alloc(16, K, v);
    const busy = spawn();
    thread_terminate(v, -15);
    atomic.store<i32>(slotAt(v) + T_STATE, REAPING);
    atomic.store<i32>(slotAt(v) + T_REAPER, busy);
    expect(thread_reap(v, 1, me())).toBe(REAP_NOTHING);
    expect(blockAt(p)).toBe(OK);
    kill(busy);
    expect(thread_reap(v, 1, me())).toBe(0); // busy is dead now: finish its work
    expect(state(v)).toBe(DEAD);
    expect(blockAt(p)).toBe(E_STALE);
    forget(v);
    forget(busy);
    expectFigures(before);
  });

  test("a reap stopped halfway (REAPING, part of the table dropped) is finished by the next reaper", () => {
    const before = new Figures();
    const v = spawn();
    const ps = new Array<i32>(0);
    for (let i = 0; i < 40; i++) ps.push(alloc(100, K, v));
    const shared = alloc(100, K);
    thread_reserve(v, 1);
    const i = block_open_for(v, shared);
    thread_terminate(v, -15);
    atomic.store<i32>(slotAt(v) + T_STATE, REAPING);
    atomic.store<i32>(slotAt(v) + T_REAPER, deadId());
    for (let k = 0; k < 20; k++) dropTableRef(slotAt(v), k);
    expect(thread_ref_count(v)).toBe(21);
    expect(thread_reap(v, 1, me())).toBe(0);
    for (let k = 0; k < ps.length; k++) expect(blockAt(ps[k])).toBe(E_STALE);
    expect(block_refs(shared)).toBe(1);
    expect(i).toBeGreaterThanOrEqual(0);
    release(shared, me());
    forget(v);
    expectFigures(before);
  });
});

describe("what a reap gives back", () => {
  beforeAll(() => { setup(); });

  test("every reference in the table: what only the dead thread held is freed, the rest loses one reference", () => {
    const before = new Figures();
    const v = spawn();
    const only = alloc(100, K, v);
    const big = alloc(200000, K, v);
    const shared = alloc(100, K);
    expect(block_open_for(v, shared)).toBeGreaterThanOrEqual(0);
    const x = alloc(16, K);
    const t = carrying(v, x, K);
    release(x, me()); // only the transit holds x
    const child = spawn(v); // v holds its child's slot
    expect(slotRefs(child)).toBe(2);
    const tableBlocks = new Figures().internalBlocks;
    expect(kill(v)).toBe(0);
    expect(blockAt(only)).toBe(E_STALE);
    expect(blockAt(big)).toBe(E_STALE);
    expect(blockAt(t)).toBe(E_STALE);
    expect(blockAt(x)).toBe(E_STALE);
    expect(block_refs(shared)).toBe(1);
    expect(tableOf(v)).toBe(0); // its table went too
    expect(new Figures().internalBlocks).toBe(tableBlocks - 2); // v's table and t
    expect(slotRefs(child)).toBe(1); // the child runs on, holding only itself
    expect(thread_alive(child)).toBe(1);
    expect(state(v)).toBe(DEAD);
    expect(slotRefs(v)).toBe(1); // its parent's reference
    forget(v);
    expect(state(v)).toBe(FREE);
    kill(child); // nobody else holds it: freed at once
    expect(state(child)).toBe(FREE);
    release(shared, me());
    expectFigures(before);
  });

  test("the slot stays DEAD while its parent holds it, and is freed when the parent lets go", () => {
    const v = spawn();
    expect(thread_exit(v, 5)).toBe(1);
    expect(state(v)).toBe(EXITED);
    thread_reap(v, 0, me());
    expect(state(v)).toBe(DEAD);
    expect(atomic.load<i32>(slotAt(v) + T_ID)).toBe(v); // the id still names it: its exit code is readable
    expect(thread_state(v)).toBe(DEAD);
    expect(forget(v)).toBe(1);
    expect(state(v)).toBe(FREE);
  });

  test("a TERMINATING thread keeps the code it was asked to stop with", () => {
    const v = spawn();
    thread_terminate(v, -9);
    thread_reap(v, 1, me());
    expect(atomic.load<i32>(slotAt(v) + T_CODE)).toBe(-9);
    forget(v);
  });

  test("its asynchronous wait registrations are freed", () => {
    const before = new Figures();
    const v = spawn();
    const c = alloc(CONDITION_SIZE, KIND_CONDITION);
    expect(cond_enter_async(c, v)).toBeGreaterThan(0);
    expect(cond_enter_async(c, v)).toBeGreaterThan(0);
    expect(cond_waiters(c)).toBe(2);
    kill(v);
    expect(atomic.load<i32>(slotAt(v) + T_WAITS)).toBe(0);
    expect(cond_waiters(c)).toBe(0); // each registration forgotten by the condition
    forget(v);
    release(c, me());
    expectFigures(before);
  });
});

describe("the waits a dead thread was in", () => {
  beforeAll(() => { setup(); });

  test("a Condition forgets a dead waiter, and takes back a token it was granted", () => {
    const c = alloc(CONDITION_SIZE, KIND_CONDITION);
    const v = spawn();
    const w = spawn();
    cond_enter(c, v);
    cond_enter(c, w);
    expect(cond_notify(c, 2)).toBe(2);
    expect(atomic.load<i32>(<usize>c + C_TOKENS)).toBe(2);
    kill(v);
    expect(atomic.load<i32>(<usize>c + C_WAITERS)).toBe(1);
    expect(atomic.load<i32>(<usize>c + C_TOKENS)).toBe(1); // w's token stays
    expect(atomic.load<i32>(slotAt(v) + T_WAIT_KIND)).toBe(0);
    kill(w);
    expect(atomic.load<i32>(<usize>c + C_WAITERS)).toBe(0);
    expect(atomic.load<i32>(<usize>c + C_TOKENS)).toBe(0);
    forget(v);
    forget(w);
  });

  test("a Condition whose dead waiter had no token keeps the others' count", () => {
    const c = alloc(CONDITION_SIZE, KIND_CONDITION);
    const v = spawn();
    const w = spawn();
    cond_enter(c, v);
    cond_enter(c, w);
    kill(v);
    expect(cond_waiters(c)).toBe(1);
    expect(cond_notify(c, -1)).toBe(1); // only w is signalled
    kill(w);
    forget(v);
    forget(w);
  });

  test("a Barrier breaks when a party waiting in it dies (blocking and asynchronous waits)", () => {
    const b = alloc(BARRIER_SIZE, KIND_BARRIER);
    barrier_init(b, 3);
    const v = spawn();
    const w = spawn();
    expect(barrier_arrive(b, 0, v)).toBe(0);
    expect(barrier_arrive(b, 0, w)).toBe(1);
    kill(v);
    expect(barrier_broken(b)).toBe(1);
    kill(w);
    forget(v);
    forget(w);
    const b2 = alloc(BARRIER_SIZE, KIND_BARRIER);
    barrier_init(b2, 2);
    const a = spawn();
    expect(barrier_arrive_async(b2, 0, a)).toBe(0);
    expect(atomic.load<i32>(slotAt(a) + T_WAITS)).not.toBe(0);
    kill(a);
    expect(barrier_broken(b2)).toBe(1);
    forget(a);
  });

  test("a party that already left its generation is not held against the barrier", () => {
    const b = alloc(BARRIER_SIZE, KIND_BARRIER);
    barrier_init(b, 2);
    const v = spawn();
    const w = spawn();
    barrier_arrive(b, 0, v); // v's note names generation 0
    barrier_arrive(b, 0, w); // generation 0 released
    barrier_arrive(b, 0, w); // w waits in generation 1
    kill(v);
    expect(barrier_broken(b)).toBe(0);
    expect(barrier_n_waiting(b)).toBe(1);
    kill(w); // and w's death does break generation 1
    expect(barrier_broken(b)).toBe(1);
    forget(v);
    forget(w);
  });

  test("the party running the action dies (WAIT_BARRIER_ACTION): the pending generation breaks", () => {
    const b = alloc(BARRIER_SIZE, KIND_BARRIER);
    barrier_init(b, 2);
    const v = spawn();
    const w = spawn();
    barrier_arrive(b, 0, w);
    expect(barrier_arrive(b, 1, v)).toBe(1); // the last arrival: v runs the action
    expect(atomic.load<i32>(slotAt(v) + T_WAIT_KIND)).toBe(WAIT_BARRIER_ACTION);
    kill(v);
    expect(barrier_broken(b)).toBe(1);
    kill(w);
    forget(v);
    forget(w);
    // asynchronous: the registration says WAIT_BARRIER_ACTION
    const b2 = alloc(BARRIER_SIZE, KIND_BARRIER);
    barrier_init(b2, 1);
    const a = spawn();
    expect(barrier_arrive_async(b2, 1, a)).toBe(0);
    kill(a);
    expect(barrier_broken(b2)).toBe(1);
    forget(a);
    // an action that finished before its runner died breaks nothing
    const b3 = alloc(BARRIER_SIZE, KIND_BARRIER);
    barrier_init(b3, 1);
    const f = spawn();
    barrier_arrive(b3, 1, f);
    barrier_finish(b3, 1, f);
    atomic.store<i32>(slotAt(f) + T_WAIT_KIND, WAIT_BARRIER_ACTION); // a stale note, as after a stop right there
    kill(f);
    expect(barrier_broken(b3)).toBe(0);
    forget(f);
  });

  test("a Semaphore waiter's death changes neither its value nor anything else", () => {
    const s = alloc(SEMAPHORE_SIZE, KIND_SEMAPHORE);
    sem_init(s, 2, -1);
    const v = spawn();
    thread_block(v, KIND_SEMAPHORE, s, 0);
    kill(v);
    expect(sem_value(s)).toBe(2);
    expect(sem_acquire(s, 0, me())).toBe(1);
    forget(v);
  });

  test("locks the dead thread held: marked OWNER_DIED where someone is parked on them, and returned in the count", () => {
    const v = spawn();
    const w = spawn();
    const parked = alloc(LOCK_SIZE, KIND_LOCK);
    const quiet = alloc(LOCK_SIZE, KIND_LOCK);
    const others = alloc(LOCK_SIZE, KIND_LOCK);
    const notALock = alloc(LOCK_SIZE, K);
    expect(lock_try(parked, v)).toBe(ACQUIRED);
    expect(lock_try(quiet, v)).toBe(ACQUIRED);
    expect(lock_try(others, me())).toBe(ACQUIRED);
    atomic.store<i32>(<usize>notALock, v | WAITERS);
    atomic.or<i32>(<usize>parked, WAITERS);
    thread_block(w, KIND_LOCK, parked, 0); // w sleeps in parked
    const x = spawn();
    thread_block(x, KIND_LOCK, notALock, 0); // a note on a block that is no lock
    const y = spawn();
    thread_block(y, KIND_LOCK, others, 0);
    expect(kill(v)).toBe(1);
    expect(word(parked)).toBe(v | WAITERS | OWNER_DIED);
    expect(word(quiet)).toBe(v); // nobody waits: the next acquirer finds v dead by itself
    expect(word(others)).toBe(me());
    expect(word(notALock)).toBe(v | WAITERS);
    expect(lock_acquire(parked, w, 0)).toBe(E_OWNER_DIED);
    expect(lock_acquire(quiet, w, 0)).toBe(E_OWNER_DIED);
    expect(word(parked)).toBe(0);
    expect(word(quiet)).toBe(0);
    lock_release(others);
    kill(w);
    kill(x);
    kill(y);
    forget(v);
    forget(w);
    forget(x);
    forget(y);
  });

  test("a lock whose holder is only TERMINATING is not marked: it may still be running", () => {
    const v = spawn();
    const w = spawn();
    const l = alloc(LOCK_SIZE, KIND_LOCK);
    expect(lock_try(l, v)).toBe(ACQUIRED);
    atomic.or<i32>(<usize>l, WAITERS);
    thread_block(w, KIND_LOCK, l, 0);
    thread_terminate(v, -15);
    const u = spawn();
    expect(kill(u)).toBe(0); // another thread's reap wakes nobody on l
    expect(word(l)).toBe(v | WAITERS);
    expect(lock_acquire(l, w, 0)).toBe(0);
    expect(thread_reap(v, -15, me())).toBe(1);
    expect(word(l) & OWNER_DIED).toBe(OWNER_DIED);
    kill(w);
    forget(u);
    forget(v);
    forget(w);
  });

  test("a ring whose put lock the dead thread held is marked for the consumers parked on it", () => {
    const q = newRing(me());
    const v = spawn();
    const w = spawn();
    expect(q_put_begin(q, v, 0)).toBe(1); // v holds the put lock, mid-message
    thread_block(w, KIND_QUEUE, q, 3);
    expect(kill(v)).toBe(1);
    expect(word(q) & OWNER_DIED).toBe(OWNER_DIED);
    kill(w);
    forget(v);
    forget(w);
  });
});

describe("pending steps of the ownership layer", () => {
  beforeAll(() => { setup(); });

  test("PEND_GROW with a half-built table: the new table goes, the old one's references are dropped", () => {
    const before = new Figures();
    const v = spawn();
    for (let i = 0; i < 32; i++) alloc(16, K, v);
    const slot = slotAt(v);
    const old = tableOf(v);
    expect(tableCapacity(old)).toBe(32);
    // reserveRefs up to its copy loop: allocated, recorded as the table being built
    const fresh = arenaAlloc(16 + 64 * 4, KIND_REFTABLE, pendOf(v), claimerOf(v));
    atomic.store<i32>(slot + T_TABLE_NEXT, <i32>fresh);
    atomic.store<i32>(pendOf(v), <i32>fresh | PEND_GROW);
    memory.copy(fresh + 16, old + 16, 64);
    expect(arena_check()).toBe(0);
    kill(v);
    expect(blockAt(<i32>fresh)).toBe(E_STALE);
    expect(atomic.load<i32>(slot + T_TABLE_NEXT)).toBe(0);
    forget(v);
    expectFigures(before);
  });

  test("PEND_GROW finished, the old table's free pending (PEND_FREE): the new table is the one used", () => {
    const before = new Figures();
    const v = spawn();
    const ps = new Array<i32>(0);
    for (let i = 0; i < 32; i++) ps.push(alloc(16, K, v));
    const slot = slotAt(v);
    const old = tableOf(v);
    const fresh = arenaAlloc(16 + 64 * 4, KIND_REFTABLE, pendOf(v), claimerOf(v));
    atomic.store<i32>(slot + T_TABLE_NEXT, <i32>fresh);
    atomic.store<i32>(pendOf(v), <i32>fresh | PEND_GROW);
    memory.copy(fresh + 16, old + 16, 32 * 4);
    for (let i = 32; i < 64; i++) store<i32>(fresh + 16 + (<usize>i << 2), ((i + 1 < 64 ? i + 2 : 0) << 1) | 1);
    store<i32>(fresh, 64);
    store<i32>(fresh + 4, 32);
    store<i32>(fresh + 8, 33);
    atomic.store<i32>(slot + T_TABLE, <i32>fresh);
    atomic.store<i32>(slot + T_TABLE_NEXT, 0);
    atomic.store<i64>(old - HEADER + 8, 0);
    atomic.store<i32>(pendOf(v), <i32>(old - HEADER) | 4 /* PEND_FREE */);
    expect(refAt(slot, 31)).toBe(<usize>ps[31]);
    kill(v);
    expect(blockAt(<i32>old)).toBe(E_STALE);
    for (let i = 0; i < ps.length; i++) expect(blockAt(ps[i])).toBe(E_STALE);
    forget(v);
    expectFigures(before);
  });

  test("PEND_GROW of a thread's first table: the half-built table goes, no table is left", () => {
    const before = new Figures();
    const v = spawn();
    const slot = slotAt(v);
    const fresh = arenaAlloc(16 + 32 * 4, KIND_REFTABLE, pendOf(v), claimerOf(v));
    atomic.store<i32>(slot + T_TABLE_NEXT, <i32>fresh);
    atomic.store<i32>(pendOf(v), <i32>fresh | PEND_GROW);
    kill(v);
    expect(tableOf(v)).toBe(0);
    expect(blockAt(<i32>fresh)).toBe(E_STALE);
    forget(v);
    expectFigures(before);
  });

  test("a wait registration allocated but not linked yet (barrier_arrive_async spinning for the barrier): freed", () => {
    const before = new Figures();
    const v = spawn();
    const b = alloc(BARRIER_SIZE, KIND_BARRIER);
    barrier_init(b, 2);
    const reg = waitAlloc(slotAt(v), KIND_BARRIER, b, 0); // PEND_ALLOCATED until it is linked
    expect(atomic.load<i32>(pendOf(v))).toBe(<i32>(reg - HEADER) | 3);
    kill(v);
    expect(blockAt(<i32>reg)).toBe(E_STALE);
    expect(barrier_broken(b)).toBe(0); // it never arrived
    release(b, me());
    forget(v);
    expectFigures(before);
  });

  test("PEND_NEW_SLOT: the slot a parent was setting up for a child is given back", () => {
    const v = spawn();
    const slot = reserveSlot(pendOf(v));
    expect(atomic.load<i32>(pendOf(v))).toBe(<i32>slot | PEND_NEW_SLOT);
    const child = initSlot(slot, v, 2, 0);
    expect(atomic.load<i32>(slot + T_STATE)).toBe(RESERVED);
    expect(thread_alive(child)).toBe(0);
    kill(v);
    expect(atomic.load<i32>(slot + T_STATE)).toBe(FREE);
    expect(thread_alive(child)).toBe(0);
    forget(v);
    const next = spawn(); // the slot is usable, under a new id
    expect(next).not.toBe(child);
    kill(next);
    forget(next);
  });

  test("PEND_FINALIZE halfway through a transit: the rest of its entries are dropped, the queue drained", () => {
    const before = new Figures();
    const v = spawn();
    const t = transit_new(v, 2);
    const ti = thread_last_index(v);
    const x = alloc(16, K);
    const y = alloc(16, K);
    expect(transit_add(t, x, K, gen(x))).toBe(OK);
    expect(transit_add(t, y, K, gen(y))).toBe(OK);
    release(x, me());
    release(y, me());
    const slot = slotAt(v);
    // dropTableRef: the last reference to t goes, in one step with forgetting it and the record
    expect(blockDrop(<usize>t)).toBe(true);
    dropRef(tableOf(v), ti);
    atomic.store<i32>(pendOf(v), <i32>(<usize>t - HEADER) | PEND_FINALIZE);
    // finalize's first entry: x's last reference dropped, the entry cleared, x queued
    expect(blockDrop(<usize>x)).toBe(true);
    store<i32>(<usize>t + 8, 0);
    pushFree(slot, <usize>x - HEADER);
    kill(v);
    expect(blockAt(t)).toBe(E_STALE);
    expect(blockAt(x)).toBe(E_STALE);
    expect(blockAt(y)).toBe(E_STALE);
    forget(v);
    expectFigures(before);
  });

  test("blocks left on the free queue between two frees (no step pending) are freed", () => {
    const before = new Figures();
    const v = spawn();
    const x = alloc(100, K, v);
    const y = alloc(100, K, v);
    const slot = slotAt(v);
    for (let k = 0; k < 2; k++) {
      const p = k == 0 ? x : y;
      const i = indexOf(v, <usize>p);
      expect(blockDrop(<usize>p)).toBe(true);
      dropRef(tableOf(v), i);
      pushFree(slot, <usize>p - HEADER);
    }
    expect(atomic.load<i32>(pendOf(v))).toBe(0);
    kill(v);
    expect(blockAt(x)).toBe(E_STALE);
    expect(blockAt(y)).toBe(E_STALE);
    forget(v);
    expectFigures(before);
  });

  test("PEND_FINALIZE halfway through a ring: the messages' transits not yet dropped are", () => {
    const before = new Figures();
    const v = spawn();
    const q = newRing(v);
    const buf = alloc(16, K);
    const xs = new Array<i32>(0);
    const ts = new Array<i32>(0);
    for (let i = 0; i < 2; i++) {
      const x = alloc(16, K);
      const t = carrying(v, x, K);
      release(x, me());
      expect(q_put(q, v, buf, 8, 0, t, transitIndex)).toBe(1);
      xs.push(x);
      ts.push(t);
    }
    const slot = slotAt(v);
    expect(blockDrop(<usize>q)).toBe(true);
    dropRef(tableOf(v), indexOf(v, <usize>q));
    atomic.store<i32>(pendOf(v), <i32>(<usize>q - HEADER) | PEND_FINALIZE);
    // the first message's transit: dropped (its last reference), its mark cleared, queued
    const mark = <usize>q + <usize>RING_HEADER + 4;
    expect(load<i32>(mark) & ~15).toBe(ts[0]);
    expect(blockDrop(<usize>ts[0])).toBe(true);
    store<i32>(mark, load<i32>(mark) & 15);
    pushFree(slot, <usize>ts[0] - HEADER);
    kill(v);
    for (let i = 0; i < 2; i++) {
      expect(blockAt(xs[i])).toBe(E_STALE);
      expect(blockAt(ts[i])).toBe(E_STALE);
    }
    expect(blockAt(q)).toBe(E_STALE);
    release(buf, me());
    forget(v);
    expectFigures(before);
  });

  test("PEND_FINALIZE halfway through a Connection: its output closed and dropped, its input not yet", () => {
    const before = new Figures();
    const v = spawn();
    const a = newRing(me(), KIND_CHANNEL, RING_PIPE); // v reads a
    const b = newRing(me(), KIND_CHANNEL, RING_PIPE); // and writes b
    const c = alloc(16, KIND_CONNECTION, v);
    expect(conn_init(c, a, b)).toBe(0);
    expect(block_refs(a)).toBe(2);
    expect(block_refs(b)).toBe(2);
    expect(blockDrop(<usize>c)).toBe(true);
    dropRef(tableOf(v), indexOf(v, <usize>c));
    atomic.store<i32>(pendOf(v), <i32>(<usize>c - HEADER) | PEND_FINALIZE);
    ringClose(<usize>b);
    expect(blockDrop(<usize>b)).toBe(false); // the spec still holds b
    store<i32>(<usize>c + 4, 0);
    kill(v);
    expect(blockAt(c)).toBe(E_STALE);
    expect(block_refs(a)).toBe(1);
    expect(block_refs(b)).toBe(1);
    expect(q_eof(b)).toBe(1);
    expect(q_eof(a)).toBe(0);
    release(a, me());
    release(b, me());
    forget(v);
    expectFigures(before);
  });
});

describe("thread_detach", () => {
  beforeAll(() => { setup(); });

  test("a root thread leaves: everything it held is given back, its slot freed at once", () => {
    const before = new Figures();
    const r = thread_attach();
    const p = alloc(16, K, r);
    const shared = alloc(16, K);
    block_open_for(r, shared);
    const l = alloc(LOCK_SIZE, KIND_LOCK, r);
    expect(lock_try(l, r)).toBe(ACQUIRED);
    expect(thread_detach(r)).toBe(1);
    expect(thread_alive(r)).toBe(0);
    expect(atomic.load<i32>(slotAt(r) + T_STATE)).toBe(FREE);
    expect(blockAt(p)).toBe(E_STALE);
    expect(blockAt(l)).toBe(E_STALE);
    expect(block_refs(shared)).toBe(1);
    expect(thread_detach(r)).toBe(0);
    const v = spawn();
    thread_exit(v, 0);
    expect(thread_detach(v)).toBe(0); // not running
    thread_reap(v, 0, me());
    forget(v);
    release(shared, me());
    expectFigures(before);
  });
});
