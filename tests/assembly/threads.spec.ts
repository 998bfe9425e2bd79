// threads.ts: the thread table (ids, generations, states, exits, joins, wait notes), the
// per-thread reference tables (growth, stable indices, the free list) and the asynchronous
// wait registrations.
import {
  SLOTS, SLOT_BYTES, T_ID, T_STATE, T_CODE, T_PARENT, T_REFS, T_TABLE, T_TABLE_NEXT, T_WAIT_KIND, T_WAIT_AT, T_WAIT_EXTRA,
  T_WAITS, T_FLAGS,
  FREE, RESERVED, RUNNING, EXITED, DEAD, TERMINATING, REAPING, FLAG_ROOT, FLAG_DAEMON,
  slotAt, slotOf, thread_alive, thread_state, thread_exit_code, thread_parent, thread_flags, thread_exit,
  thread_terminate, thread_join, thread_block, thread_unblock, wait_register, wait_unregister,
  refAt, reserveRefs, tableCapacity, tableEntry, reserveSlot, waitKindOf, waitAtOf, waitExtraOf, waitNextOf,
} from "../../assembly/threads";
import { THREADS, HEADER, arena_check, arena_internal_blocks, block_capacity, block_generation, blockAt, OK, E_STALE } from "../../assembly/arena";
import {
  E_NO_THREAD, block_alloc, block_release, thread_attach, thread_new, thread_last_index,
  thread_ref_count, thread_reserve,
} from "../../assembly/refs";
import { thread_reap, thread_detach } from "../../assembly/reaper";
import { ID_MASK } from "../../assembly/lock";
import { KIND_VALUE, KIND_WAIT, KIND_REFTABLE, KIND_CONDITION, KIND_BARRIER } from "../../assembly/kinds";
import { now } from "../../assembly/wait";
import { Figures, expectFigures, setup, me, alloc, spawn, kill, forget, indexOf, pendOf, since } from "./support";

const K: i32 = KIND_VALUE;

function slotIndex(id: i32): i32 {
  return id & (SLOTS - 1);
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
function release(p: i32, id: i32): i32 {
  return block_release(p, block_generation(p), id, indexOf(id, <usize>p));
}

describe("ids and slots", () => {
  beforeAll(() => { setup(); });

  test("the table's geometry: 1024 slots of 128 bytes right after the arena header", () => {
    expect(SLOTS).toBe(1024);
    expect(SLOT_BYTES).toBe(128);
    expect(<i32>THREADS).toBe(2048);
    expect(ID_MASK).toBe(0x3fffffff); // ids fit the lock word's id field
  });

  test("thread_attach: a root thread, RUNNING and alive, holding its own slot once", () => {
    const id = me();
    expect(slotIndex(id)).toBeGreaterThanOrEqual(1); // slot 0 is never a thread
    expect(id >> 10).toBeGreaterThanOrEqual(1);
    expect(slotOf(id)).toBe(slotAt(id));
    expect(thread_state(id)).toBe(RUNNING);
    expect(thread_alive(id)).toBe(1);
    expect(thread_parent(id)).toBe(0);
    expect(thread_flags(id)).toBe(FLAG_ROOT);
    expect(slotRefs(id)).toBe(1);
  });

  test("thread_new: a child RUNNING with its parent recorded; the parent's table holds its slot", () => {
    const before = thread_ref_count(me());
    const id = thread_new(me(), FLAG_DAEMON | FLAG_ROOT);
    expect(id).toBeGreaterThan(0);
    expect(id & ~ID_MASK).toBe(0);
    expect(thread_state(id)).toBe(RUNNING);
    expect(thread_alive(id)).toBe(1);
    expect(thread_parent(id)).toBe(me());
    expect(thread_flags(id)).toBe(FLAG_DAEMON); // only attach() makes a root
    expect(slotRefs(id)).toBe(2); // itself and its parent
    expect(thread_ref_count(me())).toBe(before + 1);
    expect(refAt(slotAt(me()), thread_last_index(me()))).toBe(slotAt(id));
    expect(atomic.load<i32>(pendOf(me()))).toBe(0);
    kill(id);
    forget(id);
    expect(thread_ref_count(me())).toBe(before);
  });

  test("thread_new for a parent that is not a thread: E_NO_THREAD, no slot taken", () => {
    const free = reserveSlot(slotAt(me()) + 124); // the first free slot now (then given back)
    atomic.store<i32>(free + T_STATE, FREE);
    expect(thread_new(0, 0)).toBe(E_NO_THREAD);
    expect(thread_new(-1, 0)).toBe(E_NO_THREAD);
    expect(thread_new(me() + (1 << 10), 0)).toBe(E_NO_THREAD); // right slot, another generation
    expect(atomic.load<i32>(free + T_STATE)).toBe(FREE);
  });

  test("a reused slot gets a new id every time: 1000 reuses, then the generation wraps after 2^20", () => {
    const first = spawn();
    const slot = slotAt(first);
    kill(first);
    forget(first);
    expect(atomic.load<i32>(slot + T_STATE)).toBe(FREE);
    let last = first;
    for (let i = 1; i <= 1000; i++) {
      const id = spawn();
      if (slotAt(id) != slot || id != last + (1 << 10)) {
        expect(slotAt(id)).toBe(slot, "the lowest free slot is taken again");
        expect(id).toBe(last + (1 << 10), "the next generation, reuse " + i.toString());
        break;
      }
      expect(thread_alive(last)).toBe(0); // the old id names nobody
      expect(thread_state(last)).toBe(DEAD);
      last = id;
      kill(id);
      forget(id);
    }
    // The generation has 20 bits: after 0xfffff comes 0, and only then does an id repeat.
    atomic.store<i32>(slot + T_ID, slotIndex(first) | (0xfffff << 10));
    const wrapped = spawn();
    expect(wrapped).toBe(slotIndex(first));
    expect(thread_alive(wrapped)).toBe(1);
    kill(wrapped);
    forget(wrapped);
    const after = spawn();
    expect(after).toBe(slotIndex(first) | (1 << 10)); // the id slot 'first' had 2^20 reuses ago
    kill(after);
    forget(after);
    expect(arena_check()).toBe(0);
  });

  test("thread_alive: 0 for ids that name nobody, EXITED, REAPING, DEAD, freed or reused slots; 1 while TERMINATING", () => {
    expect(thread_alive(0)).toBe(0);
    expect(thread_alive(-1)).toBe(0);
    expect(thread_alive(1024)).toBe(0); // slot 0
    expect(thread_alive(i32.MIN_VALUE)).toBe(0);
    expect(thread_alive(me() + (1 << 10))).toBe(0); // another generation of a live slot
    expect(thread_alive(slotIndex(me()) | (0xfffff << 10))).toBe(0);
    const a = spawn();
    expect(thread_terminate(a, -15)).toBe(1);
    expect(thread_state(a)).toBe(TERMINATING);
    expect(thread_alive(a)).toBe(1); // it may still be running
    atomic.store<i32>(slotAt(a) + T_STATE, REAPING); // as thread_reap leaves it while it works
    expect(thread_alive(a)).toBe(0);
    atomic.store<i32>(slotAt(a) + T_STATE, TERMINATING);
    thread_reap(a, -15, me());
    expect(thread_state(a)).toBe(DEAD);
    expect(thread_alive(a)).toBe(0);
    forget(a);
    expect(thread_alive(a)).toBe(0); // freed
    expect(thread_state(a)).toBe(DEAD);
    const b = spawn();
    expect(thread_exit(b, 3)).toBe(1);
    expect(thread_alive(b)).toBe(0);
    expect(thread_state(b)).toBe(EXITED);
    thread_reap(b, 0, me());
    forget(b);
    const c = spawn(); // reuses a's or b's slot
    expect(thread_alive(c)).toBe(1);
    expect(thread_alive(a)).toBe(0);
    expect(thread_alive(b)).toBe(0);
    kill(c);
    forget(c);
    const r = reserveSlot(slotAt(me()) + 124); // a slot being set up is not a thread either
    const gen = atomic.load<i32>(r + T_ID) >>> 10;
    const rid = <i32>((r - THREADS) / <usize>SLOT_BYTES) | ((gen + 1) << 10);
    expect(atomic.load<i32>(r + T_STATE)).toBe(RESERVED);
    atomic.store<i32>(r + T_ID, rid);
    expect(thread_alive(rid)).toBe(0);
    atomic.store<i32>(r + T_STATE, FREE);
  });

  test("thread_state, thread_exit_code, thread_parent, thread_flags of an id that names nobody", () => {
    expect(thread_state(0)).toBe(-1);
    expect(thread_state(-5)).toBe(-1);
    expect(thread_state(0x40000000)).toBe(-1);
    expect(thread_state(me() + (1 << 10))).toBe(DEAD);
    expect(thread_exit_code(me() + (1 << 10))).toBe(0);
    expect(thread_parent(me() + (1 << 10))).toBe(0);
    expect(thread_flags(me() + (1 << 10))).toBe(0);
    expect(thread_exit_code(0)).toBe(0);
  });
});

describe("exits, termination, join", () => {
  beforeAll(() => { setup(); });

  test("thread_exit publishes the exit code once; a second exit changes nothing", () => {
    const id = spawn();
    expect(thread_exit(id, 42)).toBe(1);
    expect(thread_state(id)).toBe(EXITED);
    expect(thread_exit_code(id)).toBe(42);
    expect(thread_exit(id, 7)).toBe(0);
    expect(thread_exit_code(id)).toBe(42);
    expect(thread_terminate(id, -9)).toBe(0); // too late
    expect(thread_exit_code(id)).toBe(42);
    expect(thread_state(id)).toBe(EXITED);
    thread_reap(id, 1, me());
    expect(thread_exit_code(id)).toBe(42); // the reaper's code is for threads that never published one
    forget(id);
    expect(thread_exit(id, 1)).toBe(0);
    expect(thread_exit(0, 1)).toBe(0);
  });

  test("thread_terminate: TERMINATING with its code; an exit the thread publishes afterwards does not change it", () => {
    const id = spawn();
    expect(thread_terminate(id, -15)).toBe(1);
    expect(thread_state(id)).toBe(TERMINATING);
    expect(thread_exit_code(id)).toBe(-15);
    expect(thread_terminate(id, -9)).toBe(0);
    expect(thread_exit_code(id)).toBe(-15);
    // The worker reaches its own exit before the engine stops it: the call publishes nothing.
    expect(thread_exit(id, 0)).toBe(0);
    expect(thread_state(id)).toBe(TERMINATING);
    expect(thread_exit_code(id)).toBe(-15);
    thread_reap(id, 1, me());
    expect(thread_exit_code(id)).toBe(-15);
    forget(id);
  });

  test("a thread reaped while RUNNING (its worker crashed) takes the reaper's code", () => {
    const id = spawn();
    thread_reap(id, 7, me());
    expect(thread_state(id)).toBe(DEAD);
    expect(thread_exit_code(id)).toBe(7);
    forget(id);
  });

  test("thread_join: 1 at once once ended; 0 after the timeout while RUNNING or TERMINATING", () => {
    const done = spawn();
    thread_exit(done, 0);
    let t0 = now();
    expect(thread_join(done, -1, 0)).toBe(1);
    expect(thread_join(done, 0, 0)).toBe(1);
    expect(thread_join(0, -1, 0)).toBe(1); // no such thread: nothing to wait for
    expect(since(t0)).toBeLessThan(100.0);
    const running = spawn();
    t0 = now();
    expect(thread_join(running, 0, 0)).toBe(0);
    expect(since(t0)).toBeLessThan(100.0);
    t0 = now();
    expect(thread_join(running, 5, 0)).toBe(0);
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    thread_terminate(running, -15);
    t0 = now();
    expect(thread_join(running, 5, 0)).toBe(0); // it may still run until reaped
    expect(since(t0)).toBeGreaterThanOrEqual(5.0);
    thread_reap(running, -15, me());
    expect(thread_join(running, -1, 0)).toBe(1);
    thread_reap(done, 0, me());
    forget(done);
    expect(thread_join(done, -1, 0)).toBe(1); // its slot is free now
    forget(running);
    expect(thread_join(running, -1, 0)).toBe(1);
  });

  test("every slot taken: thread_new and thread_attach say E_NO_THREAD and leave nothing behind", () => {
    const ids = new Array<i32>(0);
    while (true) {
      const id = thread_new(me(), 0);
      if (id < 0) {
        expect(id).toBe(E_NO_THREAD);
        break;
      }
      ids.push(id);
    }
    expect(ids.length).toBeGreaterThan(1000);
    const count = thread_ref_count(me());
    expect(thread_new(me(), 0)).toBe(E_NO_THREAD);
    expect(thread_attach()).toBe(E_NO_THREAD);
    expect(thread_ref_count(me())).toBe(count);
    expect(atomic.load<i32>(pendOf(me()))).toBe(0);
    for (let i = 0; i < ids.length; i++) {
      kill(ids[i]);
      forget(ids[i]);
    }
    const again = spawn();
    expect(again).toBeGreaterThan(0);
    kill(again);
    forget(again);
    expect(arena_check()).toBe(0);
  });
});

describe("what a thread is blocked in", () => {
  beforeAll(() => { setup(); });

  test("thread_block / thread_unblock note the wait in the slot; ids <= 0 write nothing", () => {
    const id = spawn();
    thread_block(id, KIND_BARRIER, 4096, 17);
    expect(atomic.load<i32>(slotAt(id) + T_WAIT_KIND)).toBe(KIND_BARRIER);
    expect(atomic.load<i32>(slotAt(id) + T_WAIT_AT)).toBe(4096);
    expect(atomic.load<i32>(slotAt(id) + T_WAIT_EXTRA)).toBe(17);
    thread_unblock(id);
    expect(atomic.load<i32>(slotAt(id) + T_WAIT_KIND)).toBe(0);
    thread_block(0, KIND_BARRIER, 4096, 17);
    thread_block(-5, KIND_BARRIER, 4096, 17);
    thread_unblock(0);
    expect(atomic.load<i32>(slotAt(0) + T_WAIT_KIND)).toBe(0);
    expect(atomic.load<i32>(THREADS + T_WAIT_AT)).toBe(0);
    kill(id);
    forget(id);
  });
});

describe("reference tables", () => {
  beforeAll(() => { setup(); });

  test("the first reference makes a 32-entry table; it doubles as needed and every index stays put", () => {
    const before = new Figures();
    const v = spawn();
    expect(tableOf(v)).toBe(0);
    const ps = new Array<i32>(0);
    const at = new Array<i32>(0);
    for (let i = 0; i < 300; i++) {
      const p = alloc(16, K, v);
      ps.push(p);
      at.push(thread_last_index(v));
      if (i == 0) {
        expect(tableCapacity(tableOf(v))).toBe(32);
        expect(blockAt(<i32>tableOf(v))).toBe(OK);
      }
    }
    expect(tableCapacity(tableOf(v))).toBe(512);
    expect(thread_ref_count(v)).toBe(300);
    expect(atomic.load<i32>(slotAt(v) + T_TABLE_NEXT)).toBe(0);
    for (let i = 0; i < ps.length; i++) {
      expect(at[i]).toBe(i); // handed out in order
      expect(refAt(slotAt(v), at[i])).toBe(<usize>ps[i], "index " + i.toString() + " after growing");
    }
    // One table at any time: the old ones were freed as it grew.
    expect(arena_internal_blocks()).toBe(before.internalBlocks + 1);
    expect(arena_check()).toBe(0);
    // Released entries are reused, last released first; the others keep their indices.
    expect(release(ps[10], v)).toBe(1);
    expect(release(ps[200], v)).toBe(1);
    expect(refAt(slotAt(v), 10)).toBe(0);
    const x = alloc(16, K, v);
    expect(thread_last_index(v)).toBe(200);
    const y = alloc(16, K, v);
    expect(thread_last_index(v)).toBe(10);
    const z = alloc(16, K, v);
    expect(thread_last_index(v)).toBe(300);
    expect(refAt(slotAt(v), 11)).toBe(<usize>ps[11]);
    expect(thread_ref_count(v)).toBe(301);
    kill(v);
    forget(v);
    expectFigures(before);
    expect(blockAt(x)).toBe(E_STALE);
    expect(blockAt(y)).toBe(E_STALE);
    expect(blockAt(z)).toBe(E_STALE);
  });

  test("refAt is 0 for a free entry, a negative index or one past the capacity", () => {
    const v = spawn();
    const p = alloc(16, K, v);
    const slot = slotAt(v);
    expect(refAt(slot, 0)).toBe(<usize>p);
    expect(refAt(slot, 1)).toBe(0);
    expect(tableEntry(tableOf(v), 1) & 1).toBe(1); // a free entry is odd: (next + 1) << 1 | 1
    expect(refAt(slot, -1)).toBe(0);
    expect(refAt(slot, 32)).toBe(0);
    expect(refAt(slot, 1 << 30)).toBe(0);
    kill(v);
    forget(v);
  });

  test("thread_reserve makes room for n more at once; an absurd n is refused", () => {
    const before = new Figures();
    const v = spawn();
    expect(thread_reserve(v, 1)).toBe(1);
    expect(tableCapacity(tableOf(v))).toBe(32);
    expect(thread_reserve(v, 100)).toBe(1);
    expect(tableCapacity(tableOf(v))).toBe(128);
    expect(thread_reserve(v, 100)).toBe(1); // room already
    expect(tableCapacity(tableOf(v))).toBe(128);
    expect(reserveRefs(slotAt(v), (1 << 26) + 1)).toBe(false);
    expect(thread_reserve(v, 1 << 27)).toBe(0);
    expect(tableCapacity(tableOf(v))).toBe(128);
    expect(thread_reserve(v + (1 << 10), 1)).toBe(0); // not a thread
    expect(atomic.load<i32>(pendOf(v))).toBe(0);
    kill(v);
    forget(v);
    expectFigures(before);
  });

  test("a table's bytes are the module's own (internal figures), not the program's", () => {
    const before = new Figures();
    const v = spawn();
    thread_reserve(v, 32);
    const table = <i32>tableOf(v);
    expect((load<i32>(<usize>table - HEADER) >> 8) & 0xff).toBe(KIND_REFTABLE);
    expect(block_capacity(table)).toBeGreaterThanOrEqual(16 + 32 * 4);
    const now = new Figures();
    expect(now.blocks).toBe(before.blocks);
    expect(now.internalBlocks).toBe(before.internalBlocks + 1);
    kill(v);
    forget(v);
    expectFigures(before);
  });
});

describe("asynchronous wait registrations", () => {
  beforeAll(() => { setup(); });

  test("wait_register lists a KIND_WAIT block in the slot; wait_unregister unlinks and frees it", () => {
    const before = new Figures();
    const v = spawn();
    const a = wait_register(v, KIND_CONDITION, 1000, 1);
    const b = wait_register(v, KIND_BARRIER, 2000, 2);
    const c = wait_register(v, KIND_CONDITION, 3000, 3);
    expect(a).not.toBe(0);
    expect((load<i32>(<usize>a - HEADER) >> 8) & 0xff).toBe(KIND_WAIT);
    expect(atomic.load<i32>(pendOf(v))).toBe(0);
    // newest first
    expect(atomic.load<i32>(slotAt(v) + T_WAITS)).toBe(c);
    expect(waitNextOf(<usize>c)).toBe(<usize>b);
    expect(waitNextOf(<usize>b)).toBe(<usize>a);
    expect(waitNextOf(<usize>a)).toBe(0);
    expect(waitKindOf(<usize>b)).toBe(KIND_BARRIER);
    expect(waitAtOf(<usize>b)).toBe(2000);
    expect(waitExtraOf(<usize>b)).toBe(2);
    expect(wait_unregister(v, b)).toBe(1); // from the middle
    expect(waitNextOf(<usize>c)).toBe(<usize>a);
    expect(blockAt(b)).toBe(E_STALE);
    expect(wait_unregister(v, b)).toBe(0); // not registered any more
    expect(wait_unregister(v, 0)).toBe(0);
    expect(wait_unregister(me(), a)).toBe(0); // another thread's registration
    expect(wait_unregister(v + (1 << 10), a)).toBe(0);
    expect(wait_register(v + (1 << 10), KIND_CONDITION, 1, 1)).toBe(0);
    expect(wait_unregister(v, c)).toBe(1); // the head
    expect(wait_unregister(v, a)).toBe(1); // the last
    expect(atomic.load<i32>(slotAt(v) + T_WAITS)).toBe(0);
    expect(atomic.load<i32>(pendOf(v))).toBe(0);
    kill(v);
    forget(v);
    expectFigures(before);
  });
});
