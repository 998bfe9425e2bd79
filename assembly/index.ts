// The module's ABI: every function and number the host may use, and nothing else. Pointers
// in, numbers out; snake_case names are this ABI, camelCase ones stay inside the module.
// The host reads the numbers below from the instance (host/abi.ts) instead of copying them,
// and tests/host/abi.test.mjs checks that what it expects is all here.

// ---- arena: memory figures, validation, the consistency check
export {
  ARENA, THREADS, PAGE_TABLE, HEADER, MAX_PAGES, MAX_BLOCK_BYTES,
  OK, E_RANGE, E_NOT_BLOCK, E_KIND, E_STALE, E_UNINITIALIZED,
  arena_init, arena_ready, arena_blocks, arena_bytes, arena_internal_blocks, arena_internal_bytes, arena_top, arena_max_pages, arena_heap_start,
  arena_capacity_for, arena_check, arena_next_block,
  block_capacity, block_generation, block_refs,
} from "./arena";

// ---- kinds of blocks, and what a thread can be blocked in
export {
  KIND_LOCK, KIND_RLOCK, KIND_SEMAPHORE, KIND_BOUNDED_SEMAPHORE, KIND_EVENT, KIND_CONDITION, KIND_BARRIER,
  KIND_VALUE, KIND_SHARED_ARRAY, KIND_QUEUE, KIND_SIMPLE_QUEUE, KIND_JOINABLE_QUEUE, KIND_CHANNEL, KIND_CONNECTION,
  KIND_TRANSIT, KIND_REFTABLE, KIND_WAIT, KIND_SCRATCH, WAIT_JOIN, WAIT_BARRIER_ACTION,
} from "./kinds";

// ---- ownership: references held by threads, blocks and messages
export {
  E_NOT_HELD, E_NO_MEMORY, E_NO_THREAD, E_NOT_IN_TRANSIT,
  block_alloc, block_open, block_check, block_release,
  thread_last_index, thread_last_block, thread_reserve, thread_ref_count,
  transit_new, transit_add, transit_adopt, transit_pending,
  thread_attach, thread_new, thread_hold, thread_release, thread_boot_give, thread_boot_take,
} from "./refs";

// ---- threads: ids, states, exits, waits
export {
  SLOTS, SLOT_BYTES, T_ID, T_STATE, T_CODE, T_PARENT, T_REFS, T_WAIT_KIND, T_WAIT_AT, T_WAIT_EXTRA, T_WAITS, T_FLAGS,
  RUNNING, EXITED, DEAD, TERMINATING, REAPING, FREE, RESERVED, FLAG_ROOT, FLAG_DAEMON,
  thread_alive, thread_state, thread_exit_code, thread_parent, thread_flags,
  thread_exit, thread_terminate, thread_join, thread_block, thread_unblock,
  wait_register, wait_unregister,
} from "./threads";
export { thread_reap, thread_detach } from "./reaper";
export { LIVENESS_CHECK_MS, SPIN_MS } from "./wait";

// ---- primitives
export {
  WAITERS, OWNER_DIED, ID_MASK, ACQUIRED, TIMED_OUT, E_NOT_LOCKED, E_NOT_OWNER, E_OWNER_DIED,
  lock_try, lock_acquire_noted, lock_release, lock_owner, lock_locked, lock_park_word, lock_try_contended,
  rlock_acquire, rlock_try, rlock_try_contended, rlock_release, rlock_release_all, rlock_set_depth, rlock_depth,
} from "./lock";
export {
  SEM_VALUE_MAX, E_OVER_RELEASE, E_SEM_OVERFLOW,
  sem_init, sem_try, sem_acquire, sem_release, sem_value, sem_max, sem_park, sem_unpark,
} from "./semaphore";
export {
  event_set, event_clear, event_is_set, event_word, event_fired_since, event_wait, event_park, event_unpark,
} from "./event";
export {
  RETRY, E_COND_NO_MEMORY,
  cond_owns, cond_enter, cond_seq, cond_leave, cond_enter_async, cond_leave_async, cond_wait, cond_notify, cond_waiters,
} from "./condition";
export {
  E_BROKEN, E_BUSY, E_BARRIER_NO_MEMORY, BARRIER_GEN_OFFSET, BARRIER_PARTIES_MAX,
  barrier_init, barrier_arrive, barrier_arrive_async, barrier_finish, barrier_status, barrier_timeout, barrier_gen,
  barrier_wait, barrier_reset, barrier_abort, barrier_parties, barrier_n_waiting, barrier_broken, barrier_break_if_gen,
} from "./barrier";

// ---- rings (queues, pipes) and pipe ends
export {
  RING_HEADER, RING_MIN_CAPACITY, RING_JOINABLE, RING_PIPE, FIRST, LAST, MORE,
  RING_GET_LOCK_OFFSET, RING_HEAD_OFFSET, RING_TAIL_OFFSET, RING_UNFINISHED_OFFSET,
  R_TIMEOUT, R_ABANDONED, R_EOF, R_BUSY, R_WOULD_BLOCK, R_INVALID, R_NO_MEMORY,
  ring_init, ring_chunk_max,
  q_put_begin, q_put_chunk, q_put_end, q_put, q_get, q_get_next, q_get_next_try, q_get_end, q_reading, q_poll,
  q_count, q_maxsize, q_capacity, q_used, q_tail, q_head, q_get_waiters_add, q_put_waiters_add,
  q_task_done, q_unfinished, q_join, q_eof,
} from "./ring";
export { E_CONN_CHANNEL, conn_init, conn_input, conn_output } from "./connection";
