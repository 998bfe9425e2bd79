// Shared helpers for the assembly specs (not a spec itself: the entries glob is *.spec.ts).
import { arena_init, block_alloc } from "../../assembly/arena";
import { THREAD_SIZE, thread_init } from "../../assembly/thread";
import { now } from "../../assembly/wait";

/** Must equal options.memoryBase in tests/assembly/as-pect.asconfig.json. */
export const MEMORY_BASE: usize = 1 << 20;

/** Block kinds, as the host numbers them (host/handles.ts Kind, host/runtime.ts KIND_THREAD). */
export const KIND_LOCK: i32 = 1;
export const KIND_RLOCK: i32 = 2;
export const KIND_SEMAPHORE: i32 = 3;
export const KIND_BOUNDED_SEMAPHORE: i32 = 4;
export const KIND_EVENT: i32 = 5;
export const KIND_CONDITION: i32 = 6;
export const KIND_BARRIER: i32 = 7;
export const KIND_THREAD: i32 = 8;
/** A kind no primitive uses, for scratch words. */
export const KIND_SCRATCH: i32 = 99;

/** Initializes the arena (idempotent) and returns a fresh zeroed block's payload address. */
export function alloc(payload: i32, kind: i32): i32 {
  arena_init(65536);
  const p = block_alloc(payload, kind);
  assert(p != 0, "block_alloc failed");
  // Every spec keeps the arena far below as-pect's own static data and heap.
  assert(<usize>p + <usize>payload < MEMORY_BASE, "arena grew into as-pect's memory");
  return p;
}

/** Registers a live thread (a RUNNING thread record) and returns its id. */
export function newThread(parentId: i32 = 0): i32 {
  return thread_init(alloc(THREAD_SIZE, KIND_THREAD), parentId);
}

/** Milliseconds elapsed since t0 (both from the module's env.now). */
export function since(t0: f64): f64 {
  return now() - t0;
}
