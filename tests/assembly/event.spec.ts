// event.ts: set/clear/is_set, the transition count that lets a sleeper see a pulse, waits.
import {
  EVENT_SIZE, event_set, event_clear, event_is_set, event_word, event_fired_since, event_wait, event_park, event_unpark,
} from "../../assembly/event";
import { T_WAIT_KIND, T_WAIT_AT, slotAt } from "../../assembly/threads";
import { KIND_EVENT } from "../../assembly/kinds";
import { now } from "../../assembly/wait";
import { alloc, me, since } from "./support";

const WAITERS: usize = 4; // offset of the sleeping-waiters count

function newEvent(): i32 {
  return alloc(EVENT_SIZE, KIND_EVENT);
}
function waiters(p: i32): i32 {
  return atomic.load<i32>(<usize>p + WAITERS);
}

describe("Event", () => {
  test("a timed wait notes it in the slot and clears the note", () => {
    const p = newEvent();
    expect(event_wait(p, 2, me())).toBe(0);
    expect(atomic.load<i32>(slotAt(me()) + T_WAIT_KIND)).toBe(0);
    expect(atomic.load<i32>(slotAt(me()) + T_WAIT_AT)).toBe(p);
    expect(waiters(p)).toBe(0);
  });

  test("a new event is clear with word 0", () => {
    const p = newEvent();
    expect(event_is_set(p)).toBe(0);
    expect(event_word(p)).toBe(0);
  });

  test("set / clear / is_set", () => {
    const p = newEvent();
    event_set(p);
    expect(event_is_set(p)).toBe(1);
    event_set(p); // idempotent
    expect(event_is_set(p)).toBe(1);
    event_clear(p);
    expect(event_is_set(p)).toBe(0);
    event_clear(p); // idempotent
    expect(event_is_set(p)).toBe(0);
    event_set(p);
    expect(event_is_set(p)).toBe(1);
  });

  test("the word is (number of set transitions << 1) | isSet", () => {
    const p = newEvent();
    event_set(p);
    expect(event_word(p)).toBe(3);
    event_set(p); // already set: no transition
    expect(event_word(p)).toBe(3);
    event_clear(p);
    expect(event_word(p)).toBe(2);
    event_set(p);
    expect(event_word(p)).toBe(5);
    event_clear(p);
    event_clear(p);
    expect(event_word(p)).toBe(4);
  });

  test("event_word changes on every set transition, even across a set+clear pulse", () => {
    const p = newEvent();
    const w0 = event_word(p);
    event_set(p);
    event_clear(p);
    const w1 = event_word(p);
    expect(w1).not.toBe(w0);
    expect(w1 & 1).toBe(0);
  });

  test("event_fired_since: 0 while nothing happened, 1 when set, 1 after a set+clear pulse", () => {
    const p = newEvent();
    const w = event_word(p);
    expect(event_fired_since(p, w)).toBe(0);
    event_clear(p);
    expect(event_fired_since(p, w)).toBe(0); // clearing a clear event is not a firing
    event_set(p);
    expect(event_fired_since(p, w)).toBe(1);
    event_clear(p);
    expect(event_fired_since(p, w)).toBe(1); // the pulse is remembered via the count bits
    const w2 = event_word(p);
    expect(event_fired_since(p, w2)).toBe(0);
    event_set(p);
    expect(event_fired_since(p, event_word(p))).toBe(1); // set now counts as fired
  });

  test("the transition count wraps around without losing the set bit", () => {
    const p = newEvent();
    atomic.store<i32>(<usize>p, -2); // 0xfffffffe: largest count, clear
    const w = event_word(p);
    event_set(p);
    expect(event_is_set(p)).toBe(1);
    expect(event_word(p)).toBe(1); // count wrapped to 0, set
    event_clear(p);
    expect(event_fired_since(p, w)).toBe(1);
  });

  test("event_wait returns 1 at once when set, whatever the timeout", () => {
    const p = newEvent();
    event_set(p);
    const t0 = now();
    expect(event_wait(p, 0, me())).toBe(1);
    expect(event_wait(p, 5, me())).toBe(1);
    expect(event_wait(p, -1, me())).toBe(1);
    expect(since(t0)).toBeLessThan(100.0);
    expect(waiters(p)).toBe(0);
  });

  test("event_wait with timeout 0 when clear returns 0 at once", () => {
    const p = newEvent();
    const t0 = now();
    expect(event_wait(p, 0, me())).toBe(0);
    expect(since(t0)).toBeLessThan(100.0);
  });

  test("event_wait with a 5 ms timeout when clear returns 0 after at least 5 ms and unregisters", () => {
    const p = newEvent();
    const t0 = now();
    expect(event_wait(p, 5, me())).toBe(0);
    const elapsed = since(t0);
    expect(elapsed).toBeGreaterThanOrEqual(5.0);
    expect(elapsed).toBeLessThan(1000.0);
    expect(waiters(p)).toBe(0);
    expect(event_is_set(p)).toBe(0);
  });

  test("event_wait after a pulse that happened before it started still times out (pulse is in the past)", () => {
    const p = newEvent();
    event_set(p);
    event_clear(p);
    expect(event_wait(p, 2, me())).toBe(0);
  });

  test("event_set with registered waiters still sets; park/unpark count waiters", () => {
    const p = newEvent();
    event_park(p);
    event_park(p);
    expect(waiters(p)).toBe(2);
    event_set(p);
    expect(event_is_set(p)).toBe(1);
    event_unpark(p);
    event_unpark(p);
    expect(waiters(p)).toBe(0);
  });
});
