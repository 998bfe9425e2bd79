// The numbers the Wasm module defines — kinds, status codes, offsets, states — read from
// the built module (assembly/index.ts is their one definition; scripts/build-wasm.mjs
// extracts them, rollup inlines them). The host never retypes one; tests/host/abi.test.mjs
// checks that every name below exists in the module.
import numbers from "forkless:abi";

const NAMES = [
  // arena
  "HEADER", "MAX_BLOCK_BYTES", "OK", "E_RANGE", "E_NOT_BLOCK", "E_KIND", "E_STALE", "E_UNINITIALIZED",
  // kinds
  "KIND_LOCK", "KIND_RLOCK", "KIND_SEMAPHORE", "KIND_BOUNDED_SEMAPHORE", "KIND_EVENT", "KIND_CONDITION", "KIND_BARRIER",
  "KIND_VALUE", "KIND_SHARED_ARRAY", "KIND_QUEUE", "KIND_SIMPLE_QUEUE", "KIND_JOINABLE_QUEUE", "KIND_CHANNEL",
  "KIND_CONNECTION", "KIND_TRANSIT", "KIND_REFTABLE", "KIND_WAIT", "KIND_SCRATCH", "WAIT_JOIN", "WAIT_BARRIER_ACTION",
  // ownership
  "E_NOT_HELD", "E_NO_MEMORY", "E_NO_THREAD", "E_NOT_IN_TRANSIT",
  // threads
  "THREADS", "SLOTS", "SLOT_BYTES", "T_ID", "T_STATE", "T_CODE", "T_PARENT", "T_REFS", "T_WAIT_KIND", "T_WAIT_AT",
  "T_WAIT_EXTRA", "T_WAITS", "T_FLAGS", "RUNNING", "EXITED", "DEAD", "TERMINATING", "REAPING", "FREE", "RESERVED",
  "FLAG_ROOT", "FLAG_DAEMON",
  // primitives
  "LIVENESS_CHECK_MS", "ID_MASK", "OWNER_DIED", "ACQUIRED", "TIMED_OUT", "E_NOT_LOCKED", "E_NOT_OWNER", "E_OWNER_DIED",
  "SEM_VALUE_MAX", "E_OVER_RELEASE", "E_SEM_OVERFLOW", "RETRY", "E_COND_NO_MEMORY",
  "E_BROKEN", "E_BUSY", "E_BARRIER_NO_MEMORY", "BARRIER_GEN_OFFSET", "BARRIER_PARTIES_MAX",
  // rings
  "RING_HEADER", "RING_MIN_CAPACITY", "RING_JOINABLE", "RING_PIPE", "FIRST", "LAST", "MORE",
  "RING_GET_LOCK_OFFSET", "RING_HEAD_OFFSET", "RING_TAIL_OFFSET", "RING_UNFINISHED_OFFSET",
  "R_TIMEOUT", "R_ABANDONED", "R_EOF", "R_BUSY", "R_WOULD_BLOCK", "R_INVALID", "R_NO_MEMORY", "E_CONN_CHANNEL",
] as const;

export type AbiName = (typeof NAMES)[number];
export type Abi = { readonly [K in AbiName]: number };

/** The names the host relies on (the ABI test checks each against the module). */
export const ABI_NAMES: readonly string[] = NAMES;

export const abi = numbers as unknown as Abi;
