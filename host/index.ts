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
