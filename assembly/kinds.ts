// Numbers that name things, shared by every file of the module and by the host.
//
// Block kinds (the kind byte of a block's tag, arena.ts). 1-15 are the host's objects
// (host/handles.ts names them); 16 and up are the module's own bookkeeping.
export const KIND_LOCK: i32 = 1;
export const KIND_RLOCK: i32 = 2;
export const KIND_SEMAPHORE: i32 = 3;
export const KIND_BOUNDED_SEMAPHORE: i32 = 4;
export const KIND_EVENT: i32 = 5;
export const KIND_CONDITION: i32 = 6;
export const KIND_BARRIER: i32 = 7;
export const KIND_VALUE: i32 = 9;
export const KIND_SHARED_ARRAY: i32 = 10;
/** Rings: Queue, SimpleQueue, JoinableQueue and a pipe's Channel (ring.ts). */
export const KIND_QUEUE: i32 = 11;
export const KIND_SIMPLE_QUEUE: i32 = 12;
export const KIND_JOINABLE_QUEUE: i32 = 13;
export const KIND_CHANNEL: i32 = 14;
/** A pipe end (connection.ts): owns its channels; freeing the writing end closes its channel. */
export const KIND_CONNECTION: i32 = 15;
/** The references a message or a process's arguments carry (refs.ts). */
export const KIND_TRANSIT: i32 = 16;
/** A thread's table of references (threads.ts). */
export const KIND_REFTABLE: i32 = 17;
/** An asynchronous wait's registration (threads.ts). */
export const KIND_WAIT: i32 = 18;
/** A thread's staging buffer for queue and pipe messages (host/queues.ts). */
export const KIND_SCRATCH: i32 = 19;

export function isRingKind(kind: i32): bool {
  return kind >= KIND_QUEUE && kind <= KIND_CHANNEL;
}

// What a thread is blocked in (a slot's waitKind, threads.ts): the kind of the object for
// the primitives, plus these.
/** Waiting for another thread to end (join); waitAt is its id. */
export const WAIT_JOIN: i32 = 20;
/** Running a barrier's action as its last arrival; waitAt is the barrier, waitExtra its generation. */
export const WAIT_BARRIER_ACTION: i32 = 21;
