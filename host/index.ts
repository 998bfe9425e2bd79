// forkless: Python multiprocessing semantics over one shared WebAssembly.Memory.
export { Lock, RLock, Semaphore, BoundedSemaphore, Event, Condition, Barrier, Acquirable } from "./synchronize";
export type { Held, BarrierOptions } from "./synchronize";
export type { AcquireOptions } from "./options";
export { SharedObject, fromHandle, isHandle } from "./handles";
export type { Handle } from "./handles";
export { configure, attach, runtime, memoryStats } from "./runtime";
export type { RuntimeOptions, RuntimeShare, Runtime } from "./runtime";
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
