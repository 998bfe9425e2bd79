// Typed errors, named after the Python exceptions they stand for (see the README table).

/** Base class of every forkless error (Python: multiprocessing.ProcessError). */
export class ProcessError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A call that is invalid in the object's current state (Python: ValueError). */
export class ValueError extends ProcessError {}

/** The object was closed in this thread; rebuild it from a handle to use it again (Python: ValueError). */
export class ClosedError extends ValueError {}

/** Released or waited on by a thread that does not own it (Python: AssertionError / RuntimeError). */
export class NotOwnerError extends ProcessError {}

/**
 * The lock's owner ended (terminated, killed, crashed, or returned) while holding it. Thrown once,
 * to the acquirer that found it; the lock is free afterwards (pthreads: EOWNERDEAD).
 */
export class OwnerDiedError extends ProcessError {}

/** Python: threading.BrokenBarrierError. */
export class BrokenBarrierError extends ProcessError {}

/** A handle that does not name a live object of the expected kind. */
export class HandleError extends ProcessError {}

/** The object behind the handle was freed: every thread closed it before this one opened it. */
export class StaleHandleError extends HandleError {}

/** The shared memory reached its configured maximum (Python: MemoryError). */
export class OutOfSharedMemoryError extends ProcessError {}

/** A blocking call on a thread that may not block, such as a browser's main thread. */
export class BlockingNotAllowedError extends ProcessError {}

/** The host lacks something forkless needs (shared memory, cross-origin isolation, …). */
export class UnsupportedEnvironmentError extends ProcessError {}

/** Python: queue.Empty — nothing arrived within the timeout (or at once, for getNowait). */
export class EmptyError extends ProcessError {}

/** Python: queue.Full — no room within the timeout (or at once, for putNowait). */
export class FullError extends ProcessError {}

/** Python: EOFError — recv() on an empty pipe whose other end is closed everywhere. */
export class EOFError extends ProcessError {}

/** Python: multiprocessing.BufferTooShort — the message did not fit; it is in `data`. */
export class BufferTooShortError extends ProcessError {
  constructor(
    message: string,
    readonly data: Uint8Array,
  ) {
    super(message);
  }
}

/** Python: OSError from recv_bytes(maxlength) — the message was longer than allowed (and is dropped). */
export class MessageTooLongError extends ProcessError {}
