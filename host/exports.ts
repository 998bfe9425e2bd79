// The Wasm module's export surface, as the host sees it.
export interface WasmExports extends RingExports {
  arena_init(maxPages: number): number;
  arena_ready(): number;
  arena_blocks(): number;
  arena_bytes(): number;
  arena_top(): number;
  arena_max_pages(): number;
  block_alloc(payload: number, kind: number): number;
  block_check(p: number, kind: number, generation: number): number;
  block_live(p: number, kind: number): number;
  block_open(p: number, kind: number, generation: number): number;
  block_release(p: number, generation: number): number;
  block_generation(p: number): number;
  block_refs(p: number): number;
  block_capacity(p: number): number;

  lock_try(p: number, id: number): number;
  lock_acquire(p: number, id: number, timeoutMs: number): number;
  lock_release(p: number): number;
  lock_owner(p: number): number;
  lock_park_word(p: number): number;
  lock_try_contended(p: number, id: number): number;
  rlock_acquire(p: number, id: number, timeoutMs: number): number;
  rlock_try(p: number, id: number): number;
  rlock_try_contended(p: number, id: number): number;
  rlock_release(p: number, id: number): number;
  rlock_release_all(p: number, id: number): number;
  rlock_set_depth(p: number, depth: number): void;
  rlock_depth(p: number): number;

  sem_init(p: number, value: number, max: number): void;
  sem_try(p: number): number;
  sem_acquire(p: number, timeoutMs: number): number;
  sem_release(p: number, n: number): number;
  sem_value(p: number): number;
  sem_max(p: number): number;
  sem_park(p: number): void;
  sem_unpark(p: number): void;

  event_set(p: number): void;
  event_clear(p: number): void;
  event_is_set(p: number): number;
  event_word(p: number): number;
  event_fired_since(p: number, word: number): number;
  event_wait(p: number, timeoutMs: number): number;
  event_park(p: number): void;
  event_unpark(p: number): void;

  cond_owns(lockP: number, id: number): number;
  cond_enter(c: number, id: number): number;
  cond_seq(c: number): number;
  cond_leave(c: number, timedOut: number, id: number, enterSeq: number): number;
  cond_wait(c: number, lockP: number, isRLock: number, id: number, timeoutMs: number): number;
  cond_notify(c: number, n: number): number;
  cond_waiters(c: number): number;

  barrier_init(p: number, parties: number): void;
  barrier_arrive(p: number, hasAction: number, id: number): number;
  barrier_finish(p: number, ok: number): void;
  barrier_status(p: number, gen16: number): number;
  barrier_timeout(p: number, gen16: number): number;
  barrier_gen(p: number): number;
  barrier_wait(p: number, hasAction: number, timeoutMs: number, id: number): number;
  barrier_reset(p: number): void;
  barrier_abort(p: number): void;
  barrier_parties(p: number): number;
  barrier_n_waiting(p: number): number;
  barrier_broken(p: number): number;
  barrier_break_if_gen(p: number, gen16: number): void;

  lock_try_recover(p: number, id: number): number;
  thread_init(p: number, parentId: number): number;
  thread_alive(id: number): number;
  thread_state(id: number): number;
  thread_exit_code(id: number): number;
  thread_parent(id: number): number;
  thread_exit(id: number, code: number): number;
  thread_join(id: number, timeoutMs: number): number;
  thread_block(id: number, kind: number, at: number, extra: number): void;
  thread_unblock(id: number): void;
  thread_reap(id: number): number;
}

/** Thread record states (assembly/thread.ts). */
export const THREAD_RUNNING = 1;
export const THREAD_EXITED = 2;
export const THREAD_DEAD = 3;
/** lock_acquire: the owner died holding it; the caller freed it and must report it. */
export const E_OWNER_DIED = -4;

/** Status codes shared with assembly/arena.ts. */
export const E_RANGE = -1;
export const E_NOT_BLOCK = -2;
export const E_KIND = -3;
export const E_STALE = -4;
export const E_UNINITIALIZED = -5;

/** assembly/ring.ts */
export interface RingExports {
  ring_init(q: number, capacity: number, maxsize: number, flags: number): void;
  ring_chunk_max(q: number): number;
  q_put_begin(q: number, id: number, timeoutMs: number): number;
  q_put_chunk(q: number, src: number, len: number, flags: number, timeoutMs: number): number;
  q_put_end(q: number): void;
  q_put(q: number, id: number, src: number, len: number, timeoutMs: number): number;
  q_get(q: number, id: number, dst: number, timeoutMs: number): number;
  q_get_next(q: number, dst: number): number;
  q_get_end(q: number): void;
  q_get_next_try(q: number, dst: number): number;
  q_poll(q: number, timeoutMs: number): number;
  q_count(q: number): number;
  q_maxsize(q: number): number;
  q_capacity(q: number): number;
  q_used(q: number): number;
  q_tail(q: number): number;
  q_head(q: number): number;
  q_get_waiters_add(q: number, delta: number): void;
  q_put_waiters_add(q: number, delta: number): void;
  q_task_done(q: number): number;
  q_unfinished(q: number): number;
  q_join(q: number, timeoutMs: number): number;
  q_writers_add(q: number, delta: number): number;
  q_eof(q: number): number;
}
