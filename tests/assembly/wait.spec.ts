import { FOREVER, SPIN_CHUNK, SPIN_MS, now, deadlineFrom, expired, futexWait, spinWhileEquals, wakeAll } from "../../assembly/wait";
import { arena_ready } from "../../assembly/arena";
import { KIND_VALUE } from "../../assembly/kinds";
import { alloc, since } from "./support";

// wait.ts: the clock, deadlines, the futex wait that never reports a timeout early, spinning.
const KIND_WORD: i32 = KIND_VALUE;

describe("now / deadlineFrom / expired", () => {
  test("this spec file runs in its own fresh memory (no arena left over from other files)", () => {
    expect(arena_ready()).toBe(0);
  });

  test("now() is the host's monotonic clock and does not go backwards", () => {
    const a = now();
    const b = now();
    expect(a).toBeGreaterThan(0.0);
    expect(b).toBeGreaterThanOrEqual(a);
  });

  test("negative timeouts are FOREVER", () => {
    expect(FOREVER).toBe(-1.0);
    expect(deadlineFrom(-1)).toBe(FOREVER);
    expect(deadlineFrom(-0.5)).toBe(FOREVER);
    expect(deadlineFrom(-Infinity)).toBe(FOREVER);
  });

  test("a non-negative timeout is an absolute deadline on now()'s clock", () => {
    const t0 = now();
    const d0 = deadlineFrom(0);
    const d = deadlineFrom(250);
    const t1 = now();
    expect(d0).toBeGreaterThanOrEqual(t0);
    expect(d0).toBeLessThanOrEqual(t1);
    expect(d).toBeGreaterThanOrEqual(t0 + 250);
    expect(d).toBeLessThanOrEqual(t1 + 250);
  });

  test("expired: never for FOREVER, true once the deadline has passed", () => {
    expect(expired(FOREVER)).toBe(false);
    expect(expired(now() + 60000)).toBe(false);
    expect(expired(now() - 1)).toBe(true);
    expect(expired(deadlineFrom(0))).toBe(true);
    expect(expired(0)).toBe(true);
  });
});

describe("futexWait", () => {
  test("a deadline already passed returns false at once, without sleeping", () => {
    const p = alloc(16, KIND_WORD);
    const t0 = now();
    expect(futexWait(<usize>p, 0, now() - 1)).toBe(false);
    expect(futexWait(<usize>p, 0, deadlineFrom(0))).toBe(false);
    expect(since(t0)).toBeLessThan(100.0);
  });

  test("returns true at once when the word already differs (even with FOREVER)", () => {
    const p = alloc(16, KIND_WORD);
    store<i32>(<usize>p, 7);
    const t0 = now();
    expect(futexWait(<usize>p, 6, FOREVER)).toBe(true);
    expect(futexWait(<usize>p, 6, now() + 60000)).toBe(true);
    expect(futexWait(<usize>p, 6, Infinity)).toBe(true); // a huge timeout must not trap
    expect(since(t0)).toBeLessThan(100.0);
  });

  test("returns false only after the deadline: true while time remains, false once it passed", () => {
    const p = alloc(16, KIND_WORD);
    const t0 = now();
    const deadline = deadlineFrom(5);
    let trues = 0;
    while (futexWait(<usize>p, 0, deadline)) {
      trues++;
      if (trues > 1000) break;
    }
    const elapsed = since(t0);
    expect(trues).toBeGreaterThanOrEqual(1); // it slept at least once before reporting the timeout
    expect(trues).toBeLessThan(1000);
    expect(now()).toBeGreaterThanOrEqual(deadline);
    expect(elapsed).toBeGreaterThanOrEqual(5.0);
    expect(elapsed).toBeLessThan(1000.0);
  });

  test("a sub-millisecond timeout also waits until the deadline", () => {
    const p = alloc(16, KIND_WORD);
    const deadline = deadlineFrom(0.3);
    while (futexWait(<usize>p, 0, deadline)) {}
    expect(now()).toBeGreaterThanOrEqual(deadline);
  });
});

describe("spinWhileEquals / wakeAll", () => {
  test("spinWhileEquals: true when the word differs, false after SPIN_MS of polling when it does not", () => {
    expect(SPIN_CHUNK).toBeGreaterThan(0);
    expect(SPIN_MS).toBeGreaterThan(0);
    const p = alloc(16, KIND_WORD);
    store<i32>(<usize>p, 3);
    expect(spinWhileEquals(<usize>p, 2)).toBe(true);
    expect(spinWhileEquals(<usize>p, 3)).toBe(false);
  });

  test("wakeAll with nobody waiting is harmless", () => {
    const p = alloc(16, KIND_WORD);
    wakeAll(<usize>p);
    expect(atomic.notify(<usize>p, -1)).toBe(0);
    expect(load<i32>(<usize>p)).toBe(0);
  });
});
