// dumpState(): what every thread attached to a shared memory is doing — its state, what it
// is blocked in and on which object, who holds the locks, what the queues hold. Porting code
// built on processes is mostly a hunt for hangs; this is the tool for it.
//
// It only reads: given a share (runtime().share() from any thread), it instantiates the module
// over that memory without attaching a thread and without allocating, so it works from a
// watchdog thread while every other thread is stuck.
import { currentRuntime, type RuntimeShare } from "./runtime";
import type { WasmExports } from "./exports";
import { abi } from "./abi";
import { decodeBase64, now } from "./platform";
import wasmBase64 from "forkless:wasm";

export interface WaitDescription {
  /** What the thread waits in: "Lock", "RLock", "Semaphore", "Event", "Condition", "Barrier", "barrier action", "queue get", "queue put", "join". */
  kind: string;
  /** The object's address (its handle's p), or the thread id for a join. */
  object: number;
  /** For a lock or a queue's lock: the holder's thread id (0: free). */
  holder?: number;
  detail?: string;
}

export interface ThreadDescription {
  id: number;
  state: string;
  parent: number;
  exitCode: number | null;
  /** forkless did not start it: a thread that attached itself (the main thread, your own workers, a supervisor). */
  root: boolean;
  daemon: boolean;
  references: number;
  blockedIn?: WaitDescription;
  asyncWaits: WaitDescription[];
}

export interface ObjectDescription {
  address: number;
  kind: string;
  generation: number;
  references: number;
  /** Lock/RLock: holder id; Semaphore: value; Event: set; Queue: items; … */
  detail: string;
}

export interface StateDump {
  at: number;
  memoryBytes: number;
  blocks: number;
  bytes: number;
  internalBlocks: number;
  internalBytes: number;
  threads: ThreadDescription[];
  objects: ObjectDescription[];
  /** Objects not listed (the listing stops at `limit`). */
  moreObjects: number;
}

const STATES: Record<number, string> = {};
const KINDS: Record<number, string> = {};
const WAIT_NAMES: Record<number, string> = {};
function names(): void {
  if (STATES[abi.RUNNING]) return;
  Object.assign(STATES, {
    [abi.RUNNING]: "running",
    [abi.TERMINATING]: "terminating",
    [abi.EXITED]: "exited",
    [abi.REAPING]: "being reaped",
    [abi.DEAD]: "dead",
    [abi.RESERVED]: "being created",
  });
  Object.assign(KINDS, {
    [abi.KIND_LOCK]: "Lock",
    [abi.KIND_RLOCK]: "RLock",
    [abi.KIND_SEMAPHORE]: "Semaphore",
    [abi.KIND_BOUNDED_SEMAPHORE]: "BoundedSemaphore",
    [abi.KIND_EVENT]: "Event",
    [abi.KIND_CONDITION]: "Condition",
    [abi.KIND_BARRIER]: "Barrier",
    [abi.KIND_VALUE]: "Value",
    [abi.KIND_SHARED_ARRAY]: "Array",
    [abi.KIND_QUEUE]: "Queue",
    [abi.KIND_SIMPLE_QUEUE]: "SimpleQueue",
    [abi.KIND_JOINABLE_QUEUE]: "JoinableQueue",
    [abi.KIND_CHANNEL]: "Pipe channel",
    [abi.KIND_CONNECTION]: "Connection",
  });
  Object.assign(WAIT_NAMES, { ...KINDS, [abi.WAIT_JOIN]: "join", [abi.WAIT_BARRIER_ACTION]: "barrier action" });
}

let readers = new WeakMap<WebAssembly.Memory, WasmExports>();

/** An instance over the memory that only reads (never arena_init, never a thread of its own). */
function readerFor(share: RuntimeShare): WasmExports {
  const rt = currentRuntime();
  if (rt && rt.memory === share.memory) return rt.exports;
  let ex = readers.get(share.memory);
  if (!ex) {
    const module = share.module ?? new WebAssembly.Module(decodeBase64(wasmBase64) as BufferSource);
    ex = new WebAssembly.Instance(module, { env: { memory: share.memory, now } }).exports as unknown as WasmExports;
    readers.set(share.memory, ex);
  }
  return ex;
}

/** Describes every thread and (up to `limit`) every object in the memory of `share` (default: this thread's). */
export function dumpState(share?: RuntimeShare, options: { limit?: number } = {}): StateDump {
  names();
  const target = share ?? currentRuntime()?.share();
  if (!target) throw new TypeError("dumpState: this thread has no forkless runtime; pass the share of the memory to inspect");
  const ex = readerFor(target);
  const i32 = new Int32Array(target.memory.buffer);
  const dump: StateDump = {
    at: now(),
    memoryBytes: target.memory.buffer.byteLength,
    blocks: ex.arena_blocks(),
    bytes: ex.arena_bytes() >>> 0,
    internalBlocks: ex.arena_internal_blocks(),
    internalBytes: ex.arena_internal_bytes() >>> 0,
    threads: [],
    objects: [],
    moreObjects: 0,
  };
  if (ex.arena_ready() !== 1) return dump;
  const wait = (kind: number, at: number, extra: number): WaitDescription => {
    const name = WAIT_NAMES[kind] ?? `kind ${kind}`;
    const description: WaitDescription = { kind: name, object: at };
    if (kind === abi.KIND_LOCK || kind === abi.KIND_RLOCK) description.holder = ex.lock_owner(at);
    if (kind === abi.KIND_QUEUE) {
      const what = ["get", "put (its lock)", "put (room)", "get (the rest of a message)", "poll", "join"][extra] ?? "use";
      description.kind = `queue ${what}`;
      description.holder = what.startsWith("put") ? ex.lock_owner(at) : ex.lock_owner(at + abi.RING_GET_LOCK_OFFSET);
    }
    if (kind === abi.KIND_BARRIER || kind === abi.WAIT_BARRIER_ACTION) description.detail = `generation ${extra}`;
    return description;
  };
  for (let slot = 1; slot < abi.SLOTS; slot++) {
    const base = (abi.THREADS + slot * abi.SLOT_BYTES) >> 2;
    const state = i32[base + (abi.T_STATE >> 2)];
    if (state === abi.FREE) continue;
    const id = i32[base + (abi.T_ID >> 2)];
    const flags = i32[base + (abi.T_FLAGS >> 2)];
    const thread: ThreadDescription = {
      id,
      state: STATES[state] ?? `state ${state}`,
      parent: i32[base + (abi.T_PARENT >> 2)],
      exitCode: state === abi.RUNNING || state === abi.TERMINATING ? null : i32[base + (abi.T_CODE >> 2)],
      root: (flags & abi.FLAG_ROOT) !== 0,
      daemon: (flags & abi.FLAG_DAEMON) !== 0,
      references: ex.thread_ref_count(id),
      asyncWaits: [],
    };
    const kind = i32[base + (abi.T_WAIT_KIND >> 2)];
    if (kind !== 0) thread.blockedIn = wait(kind, i32[base + (abi.T_WAIT_AT >> 2)], i32[base + (abi.T_WAIT_EXTRA >> 2)]);
    // The registration list is changed by its owner only; read it with a bound, as it may move under us.
    let reg = i32[base + (abi.T_WAITS >> 2)];
    for (let n = 0; reg !== 0 && n < 64; n++) {
      thread.asyncWaits.push(wait(i32[(reg + 4) >> 2], i32[(reg + 8) >> 2], i32[(reg + 12) >> 2]));
      reg = i32[reg >> 2];
    }
    dump.threads.push(thread);
  }
  const limit = options.limit ?? 200;
  let p = 0;
  while ((p = ex.arena_next_block(p)) !== 0) {
    const kind = (i32[(p - abi.HEADER) >> 2] >> 8) & 0xff;
    const name = KINDS[kind];
    if (!name) continue; // forkless's own bookkeeping
    if (dump.objects.length >= limit) {
      dump.moreObjects++;
      continue;
    }
    let detail = "";
    if (kind === abi.KIND_LOCK || kind === abi.KIND_RLOCK) {
      const owner = ex.lock_owner(p);
      detail = owner === 0 ? "free" : `held by ${owner}${ex.thread_alive(owner) ? "" : " (gone: the next acquirer recovers it)"}`;
    } else if (kind === abi.KIND_SEMAPHORE || kind === abi.KIND_BOUNDED_SEMAPHORE) {
      detail = `value ${ex.sem_value(p)}`;
    } else if (kind === abi.KIND_EVENT) {
      detail = ex.event_is_set(p) ? "set" : "unset";
    } else if (kind === abi.KIND_CONDITION) {
      detail = `${ex.cond_waiters(p)} waiting`;
    } else if (kind === abi.KIND_BARRIER) {
      detail = `${ex.barrier_n_waiting(p)} of ${ex.barrier_parties(p)} waiting${ex.barrier_broken(p) ? ", broken" : ""}`;
    } else if (kind >= abi.KIND_QUEUE && kind <= abi.KIND_CHANNEL) {
      const put = ex.lock_owner(p);
      const get = ex.lock_owner(p + abi.RING_GET_LOCK_OFFSET);
      detail = `${ex.q_count(p)} items, ${ex.q_used(p)} of ${ex.q_capacity(p)} bytes` +
        (put ? `, put by ${put}` : "") + (get ? `, read by ${get}` : "") + (ex.q_eof(p) ? ", at end of file" : "");
    }
    dump.objects.push({ address: p, kind: name, generation: ex.block_generation(p), references: ex.block_refs(p), detail });
  }
  return dump;
}

/** A human-readable form of a dump: one line per thread, then the objects. */
export function formatState(dump: StateDump): string {
  const lines: string[] = [];
  lines.push(
    `forkless: ${dump.threads.length} threads; ${dump.blocks} objects (${dump.bytes} bytes), ` +
      `${dump.internalBlocks} bookkeeping blocks (${dump.internalBytes} bytes); memory ${dump.memoryBytes} bytes`,
  );
  const describeWait = (w: WaitDescription) =>
    `${w.kind} @${w.object}${w.holder !== undefined ? ` (holder ${w.holder || "none"})` : ""}${w.detail ? ` ${w.detail}` : ""}`;
  for (const t of dump.threads) {
    const parts = [`  thread ${t.id}: ${t.state}`];
    if (t.root) parts.push("root");
    else parts.push(`parent ${t.parent}`);
    if (t.daemon) parts.push("daemon");
    if (t.exitCode !== null) parts.push(`exit code ${t.exitCode}`);
    parts.push(`${t.references} references`);
    if (t.blockedIn) parts.push(`blocked in ${describeWait(t.blockedIn)}`);
    if (t.asyncWaits.length) parts.push(`awaiting ${t.asyncWaits.map(describeWait).join("; ")}`);
    lines.push(parts.join(", "));
  }
  for (const o of dump.objects) lines.push(`  ${o.kind} @${o.address} (gen ${o.generation}, ${o.references} refs): ${o.detail}`);
  if (dump.moreObjects) lines.push(`  … and ${dump.moreObjects} more objects`);
  return lines.join("\n");
}

/** Forgets cached readers (tests). */
export function _resetReaders(): void {
  readers = new WeakMap();
}
