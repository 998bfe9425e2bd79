// Futex helpers shared by every primitive. Timeouts cross the JS boundary as f64
// milliseconds (negative = forever) so callers never pay for BigInt conversion.

/** Monotonic clock in milliseconds, supplied by the host (performance.now). */
@external("env", "now")
export declare function now(): f64;

/**
 * How long a waiter polls before parking. A park/wake costs tens of µs and a spinning
 * round trip under 1 µs, so a few µs of polling catches a partner that answers quickly;
 * the bound matters because on 2 vCPUs an unbounded spin can cost a whole scheduler tick.
 */
export const SPIN_MS: f64 = 0.02;
/** Polls between clock reads while spinning (reading the host clock costs a call). */
export const SPIN_CHUNK: i32 = 128;
/** Attempts an acquirer makes when the word keeps changing under it (others win the race). */
export const SPIN_ROUNDS: i32 = 32;

export const FOREVER: f64 = -1;

/**
 * How often a parked waiter re-checks what no wake-up may announce: that a lock's holder
 * is gone, that a message's writer still runs, that a release did not go to a thread
 * being terminated (whose wake is lost with it). The reaper wakes the waiters it knows of at
 * once; this bounds what an unannounced death can cost the rest.
 */
export const LIVENESS_CHECK_MS: f64 = 100;

export function deadlineFrom(timeoutMs: f64): f64 {
  return timeoutMs < 0 ? FOREVER : now() + timeoutMs;
}

/** True once the deadline has passed (never for FOREVER). */
export function expired(deadline: f64): bool {
  return deadline >= 0 && now() >= deadline;
}

/**
 * Sleeps while the i32 at ptr equals expected. Returns false only when the deadline has
 * truly passed, so callers never report a timeout early. Kept out of line on purpose:
 * Node 20's baseline compiler mis-handled loops with an inlined wait (see host/platform).
 */
@inline(never)
export function futexWait(ptr: usize, expected: i32, deadline: f64): bool {
  if (deadline < 0) {
    atomic.wait<i32>(ptr, expected, -1);
    return true;
  }
  const remaining = deadline - now();
  if (remaining <= 0) return false;
  // Round up so the kernel never wakes us before the deadline.
  atomic.wait<i32>(ptr, expected, <i64>Math.ceil(remaining * 1e6));
  return true;
}

/** Polls until the i32 at ptr differs from value (true) or SPIN_MS has passed (false). */
export function spinWhileEquals(ptr: usize, value: i32): bool {
  let start: f64 = -1;
  while (true) {
    for (let i = 0; i < SPIN_CHUNK; i++) {
      if (atomic.load<i32>(ptr) != value) return true;
    }
    const t = now();
    if (start < 0) start = t;
    else if (t - start >= SPIN_MS) return false;
  }
}

export function wakeAll(ptr: usize): void {
  atomic.notify(ptr, -1);
}
