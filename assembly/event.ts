// Event.
//
// Block payload (16 bytes):
//   +0 i32 word      (number of set() transitions << 1) | isSet: a waiter that sleeps through
//                    a set() followed quickly by clear() still sees that the event fired
//   +4 i32 waiters   sleepers (set skips the notify system call when 0)
import { deadlineFrom, futexWait, spinWhileEquals } from "./wait";
import { blockIn, unblock } from "./threads";
import { KIND_EVENT } from "./kinds";

export const EVENT_SIZE: i32 = 16;
const WAITERS: usize = 4;

export function event_set(p: i32): void {
  while (true) {
    const word = atomic.load<i32>(<usize>p);
    if ((word & 1) != 0) return;
    if (atomic.cmpxchg<i32>(<usize>p, word, ((word + 2) & ~1) | 1) == word) break;
  }
  if (atomic.load<i32>(<usize>p + WAITERS) > 0) atomic.notify(<usize>p, -1);
}

export function event_clear(p: i32): void {
  atomic.and<i32>(<usize>p, ~1);
}

export function event_is_set(p: i32): i32 {
  return atomic.load<i32>(<usize>p) & 1;
}

export function event_word(p: i32): i32 {
  return atomic.load<i32>(<usize>p);
}

/** True if the event was set at any moment after `word` was read. */
export function event_fired_since(p: i32, word: i32): i32 {
  const now = atomic.load<i32>(<usize>p);
  return (now & 1) != 0 || (now >>> 1) != (word >>> 1) ? 1 : 0;
}

export function event_wait(p: i32, timeoutMs: f64, id: i32): i32 {
  const word = atomic.load<i32>(<usize>p);
  if ((word & 1) != 0) return 1;
  if (timeoutMs == 0) return 0;
  blockIn(id, KIND_EVENT, p, 0);
  const result = eventSlow(<usize>p, word, timeoutMs);
  unblock(id);
  return result;
}

@inline(never)
function eventSlow(p: usize, word: i32, timeoutMs: f64): i32 {
  if (spinWhileEquals(p, word) && event_fired_since(<i32>p, word) == 1) return 1;
  const deadline = deadlineFrom(timeoutMs);
  atomic.add<i32>(p + WAITERS, 1);
  let fired = 0;
  while (true) {
    const inTime = futexWait(p, word, deadline);
    if (event_fired_since(<i32>p, word) == 1) { fired = 1; break; }
    if (!inTime) break;
  }
  atomic.sub<i32>(p + WAITERS, 1);
  return fired;
}

export function event_park(p: i32): void {
  atomic.add<i32>(<usize>p + WAITERS, 1);
}

export function event_unpark(p: i32): void {
  atomic.sub<i32>(<usize>p + WAITERS, 1);
}
