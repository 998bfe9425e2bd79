// The messages between processes and their supervisor (host/supervisor.ts), in one place.
//
// Every process (and the root thread that starts the first ones) talks to one supervisor:
// a thread that never blocks and never runs user code, which owns every worker. A parent
// asks it to start or stop a child; it boots the child's worker, hands the boot message on,
// watches the worker's exit, reaps the child's thread in shared memory once the worker has
// really stopped, and tells the parent. A parent blocked in join() or in a lock its child
// held is therefore woken by the reap, without its own event loop.
//
//   parent → supervisor   start, terminate, pool
//   supervisor → child    boot (the worker's first message), then the replies a parent gets
//   child → supervisor    started, failure, recycled (start method "reuse"), exit (Web Workers)
//   supervisor → parent   started, failure, exited
import type { StartMethod } from "./context";
import type { BootMessage, ProcessFailure } from "./process";
import type { ResourceLimits } from "./platform";

export interface StartRequest {
  type: "start";
  /** The child's thread id (its slot was made by the parent). */
  id: number;
  parent: number;
  method: StartMethod;
  daemon: boolean;
  boot: BootMessage;
  /** Node: limits for the child's worker (it then gets a fresh worker of its own). */
  resourceLimits?: ResourceLimits;
}

export interface TerminateRequest {
  type: "terminate";
  id: number;
}

/** Warm pool size, and whether pre-booted workers are wanted at all (the spawn method drains them). */
export interface PoolRequest {
  type: "pool";
  size?: number;
  drain?: boolean;
  prewarm?: boolean;
}

export type Request = StartRequest | TerminateRequest | PoolRequest;

/** A child's own reports, tagged with its thread id (a reused worker's late ones are told apart). */
export interface StartedReport {
  type: "started";
  record: number;
}
export interface FailureReport {
  type: "failure";
  record: number;
  failure: ProcessFailure;
}
export interface RecycledReport {
  type: "recycled";
  record: number;
}

/** What a parent hears about a child. */
export interface ChildStarted {
  type: "child-started";
  id: number;
}
export interface ChildFailure {
  type: "child-failure";
  id: number;
  failure: ProcessFailure;
}
export interface ChildExited {
  type: "child-exited";
  id: number;
  code: number;
}
export type ParentNotice = ChildStarted | ChildFailure | ChildExited;

export function isRequest(message: any): message is Request {
  return message?.type === "start" || message?.type === "terminate" || message?.type === "pool";
}

export function isNotice(message: any): message is ParentNotice {
  return message?.type === "child-started" || message?.type === "child-failure" || message?.type === "child-exited";
}
