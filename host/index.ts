// forkless: Python multiprocessing semantics over one shared WebAssembly.Memory.
export { Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier, Acquirable } from "./synchronize";
export type { Held, BarrierOptions } from "./synchronize";
export type { AcquireOptions } from "./options";
export { SharedObject, fromHandle, isHandle, registerClass, detach } from "./handles";
export type { Handle } from "./handles";
export { configure, attach, runtime, memoryStats } from "./runtime";
export type { RuntimeOptions, RuntimeShare, Runtime, MemoryStats } from "./runtime";
export { mayBlock } from "./platform";
export {
  ProcessError,
  ValueError,
  ClosedError,
  NotOwnerError,
  OwnerDiedError,
  BrokenBarrierError,
  HandleError,
  StaleHandleError,
  OutOfSharedMemoryError,
  BlockingNotAllowedError,
  UnsupportedEnvironmentError,
  EmptyError,
  FullError,
  EOFError,
  BufferTooShortError,
  MessageTooLongError,
} from "./errors";
export {
  Process,
  ParentProcess,
  currentProcess,
  parentProcess,
  activeChildren,
  isMainProcess,
  cpuCount,
  exit,
  wait,
  waitAsync,
} from "./process";
export type { ProcessOptions, ProcessFailure, Sentinel } from "./process";
export { getContext, getStartMethod, setStartMethod, getAllStartMethods, setWarmPoolSize, Context } from "./context";
export type { StartMethod } from "./context";
export { Value, RawValue, SharedArray, SharedArray as Array, RawArray } from "./sharedctypes";
export type { TypeCode, ElementOf, InputOf, TypedArrayOf, SynchronizedOptions, Synchronized, Initializer } from "./sharedctypes";
export { Queue, SimpleQueue, JoinableQueue } from "./queues";
export type { QueueOptions } from "./queues";
export { Pipe, Connection } from "./connection";
export type { PipeOptions } from "./connection";
export { support } from "./support";
export { dumpState, formatState } from "./diagnostics";
export type { StateDump, ThreadDescription, ObjectDescription, WaitDescription } from "./diagnostics";
export type { SupportReport } from "./support";
