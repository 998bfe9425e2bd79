// One record per attached thread (a "process"). A thread's id is its record's payload
// address >> 4, so any thread can check whether a lock's owner is still alive, and a
// parent can publish a child's death and recover what the child left behind.
//   +0 state  +4 exit code  +8 parent id  +12 blocked kind  +16 blocked address  +20 blocked extra
import { HEAP_START, HEADER, block_live, block_release, heap_lock, heap_unlock, heap_top } from "./arena";
import { deadlineFrom, futexWait } from "./wait";

export const KIND_LOCK: i32 = 1;
export const KIND_RLOCK: i32 = 2;
export const KIND_CONDITION: i32 = 6;
export const KIND_BARRIER: i32 = 7;
export const KIND_THREAD: i32 = 8;
/** Message rings (host/handles.ts Kind.Queue … Kind.Channel): put lock at +0, get lock at +4. */
const KIND_QUEUE: i32 = 11;
const KIND_CHANNEL: i32 = 14;
export const THREAD_SIZE: i32 = 32;

export const RUNNING: i32 = 1;
/** The thread published its exit code and runs no more user code. */
export const EXITED: i32 = 2;
/** The parent saw the thread stop (or stopped it) and recovered what it held. */
export const DEAD: i32 = 3;

const STATE: usize = 0;
const CODE: usize = 4;
const PARENT: usize = 8;
const BLOCKED_KIND: usize = 12;
const BLOCKED_AT: usize = 16;
const BLOCKED_EXTRA: usize = 20;
const ORPHANED: usize = 24;

export const LOCK_WAITERS: i32 = 0x40000000;
export const LOCK_OWNER_DIED: i32 = 1 << 31;
export const LOCK_ID_MASK: i32 = 0x3fffffff;

export function thread_init(p: i32, parentId: i32): i32 {
  atomic.store<i32>(<usize>p + PARENT, parentId);
  atomic.store<i32>(<usize>p + STATE, RUNNING);
  return p >>> 4;
}

function record(id: i32): usize {
  return <usize>id << 4;
}

/** True while the thread named by id may still run user code. Unknown ids are not alive. */
export function thread_alive(id: i32): i32 {
  if (id <= 0 || id > 0x0fffffff) return 0;
  const p = <i32>record(id);
  if (block_live(p, KIND_THREAD) == 0) return 0;
  return atomic.load<i32>(<usize>p + STATE) == RUNNING ? 1 : 0;
}

export function thread_state(id: i32): i32 {
  return atomic.load<i32>(record(id) + STATE);
}

export function thread_exit_code(id: i32): i32 {
  return atomic.load<i32>(record(id) + CODE);
}

export function thread_parent(id: i32): i32 {
  return atomic.load<i32>(record(id) + PARENT);
}

/** Publishes an exit (the child for itself, or the parent for a child it stopped). First one wins. */
export function thread_exit(id: i32, code: i32): i32 {
  const at = record(id) + STATE;
  if (atomic.cmpxchg<i32>(at, RUNNING, EXITED) != RUNNING) return 0;
  atomic.store<i32>(record(id) + CODE, code);
  atomic.notify(at, -1);
  return 1;
}

/** Waits until the thread published its exit: 1 exited, 0 timed out. */
export function thread_join(id: i32, timeoutMs: f64): i32 {
  const at = record(id) + STATE;
  const deadline = deadlineFrom(timeoutMs);
  while (true) {
    const state = atomic.load<i32>(at);
    if (state != RUNNING) return 1;
    if (!futexWait(at, state, deadline)) return 0;
  }
}

/** Notes what the thread is about to sleep in, so its death can be repaired. */
export function thread_block(id: i32, kind: i32, at: i32, extra: i32): void {
  if (id <= 0) return;
  const r = record(id);
  atomic.store<i32>(r + BLOCKED_AT, at);
  atomic.store<i32>(r + BLOCKED_EXTRA, extra);
  atomic.store<i32>(r + BLOCKED_KIND, kind);
}

export function thread_unblock(id: i32): void {
  if (id <= 0) return;
  atomic.store<i32>(record(id) + BLOCKED_KIND, 0);
}

/**
 * Marks a stopped thread (and every thread it started, which stop with it) DEAD and
 * repairs shared state: its locks become owner-died (waiters woken), a condition it slept
 * in forgets it, a barrier it was in breaks. Returns the number of locks recovered.
 */
export function thread_reap(id: i32): i32 {
  if (id <= 0) return 0;
  let recovered = 0;
  heap_lock();
  atomic.store<i32>(record(id) + STATE, DEAD);
  atomic.notify(record(id) + STATE, -1);
  // Children first: a worker's nested workers end with it. Repeat until no new deaths.
  let changed = true;
  while (changed) {
    changed = false;
    const top = <usize>heap_top();
    let header = HEAP_START;
    while (header < top) {
      const tag = atomic.load<i32>(header);
      const size = <usize>1 << (tag & 0xff);
      const refs = <i32>atomic.load<i64>(header + 8);
      if (refs > 0 && ((tag >> 8) & 0xff) == KIND_THREAD) {
        const child = header + HEADER;
        const parent = atomic.load<i32>(child + PARENT);
        if (parent != 0 && atomic.load<i32>(child + STATE) != DEAD && atomic.load<i32>(record(parent) + STATE) == DEAD) {
          atomic.store<i32>(child + STATE, DEAD);
          atomic.store<i32>(child + ORPHANED, 1);
          atomic.notify(child + STATE, -1);
          changed = true;
        }
      }
      header += size;
    }
  }
  const top = <usize>heap_top();
  let header = HEAP_START;
  while (header < top) {
    const tag = atomic.load<i32>(header);
    const size = <usize>1 << (tag & 0xff);
    const kind = (tag >> 8) & 0xff;
    const refs = <i32>atomic.load<i64>(header + 8);
    const p = header + HEADER;
    if (refs > 0) {
      if (kind == KIND_LOCK || kind == KIND_RLOCK) {
        recovered += markOwnerDied(p);
      } else if (kind >= KIND_QUEUE && kind <= KIND_CHANNEL) {
        // A ring's put and get locks: marked now, before the dead thread's id can be reused
        // by a new process (which would make the lock look held by a live owner forever).
        recovered += markOwnerDied(p) + markOwnerDied(p + 4);
      } else if (kind == KIND_THREAD && atomic.load<i32>(p + STATE) == DEAD) {
        repairBlocked(p);
      }
    }
    header += size;
  }
  heap_unlock();
  // The records of descendants were held by their (dead) parents' Process objects: free them.
  while (true) {
    const orphan = takeOrphan();
    if (orphan == 0) break;
    block_release(orphan, <i32>(atomic.load<i64>(<usize>orphan - HEADER + 8) >>> 32));
  }
  return recovered;
}

/** If the lock word at p names a DEAD owner, marks it owner-died and wakes its waiters: 1 if it did. */
function markOwnerDied(p: usize): i32 {
  const word = atomic.load<i32>(p);
  const owner = word & LOCK_ID_MASK;
  if (owner != 0 && (word & LOCK_OWNER_DIED) == 0 && atomic.load<i32>(record(owner) + STATE) == DEAD) {
    if (atomic.cmpxchg<i32>(p, word, LOCK_OWNER_DIED | owner) == word) {
      atomic.notify(p, -1);
      return 1;
    }
  }
  return 0;
}

function takeOrphan(): i32 {
  heap_lock();
  const top = <usize>heap_top();
  let header = HEAP_START;
  let found: i32 = 0;
  while (header < top) {
    const tag = atomic.load<i32>(header);
    if (((tag >> 8) & 0xff) == KIND_THREAD && <i32>atomic.load<i64>(header + 8) > 0 &&
        atomic.cmpxchg<i32>(header + HEADER + ORPHANED, 1, 0) == 1) {
      found = <i32>(header + HEADER);
      break;
    }
    header += <usize>1 << (tag & 0xff);
  }
  heap_unlock();
  return found;
}

function repairBlocked(r: usize): void {
  const kind = atomic.xchg<i32>(r + BLOCKED_KIND, 0);
  const at = <usize>atomic.load<i32>(r + BLOCKED_AT);
  if (kind == KIND_CONDITION) {
    // Forget its registration; a token it was granted goes back.
    atomic.sub<i32>(at + 4, 1);
    while (true) {
      const tokens = atomic.load<i32>(at + 8);
      const waiters = atomic.load<i32>(at + 4);
      if (tokens <= waiters) break;
      if (atomic.cmpxchg<i32>(at + 8, tokens, waiters) == tokens) break;
    }
    // A thread that is being terminated can sit in the futex queue for a while after its
    // interrupt, and a notify(n) that reached it would be lost to the live waiters: wake
    // every sleeper now, so the dying one is no longer counted; live ones find no token
    // (the sequence did not change) and sleep again.
    atomic.notify(at, -1);
  } else if (kind == KIND_BARRIER) {
    barrierBreakIfGen(<i32>at, atomic.load<i32>(r + BLOCKED_EXTRA));
  }
}

// Implemented in barrier.ts; declared here to avoid an import cycle.
import { barrier_break_if_gen as barrierBreakIfGen } from "./barrier";
