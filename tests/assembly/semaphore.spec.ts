// semaphore.ts: counting and bounded semaphores, timeouts, waiter counts, overflow, and the wake a
// dead waiter may have swallowed (semPassWake).
import {
  SEMAPHORE_SIZE, SEM_VALUE_MAX, E_OVER_RELEASE, E_SEM_OVERFLOW,
  sem_init, sem_try, sem_acquire, sem_release, sem_value, sem_max, sem_park, sem_unpark, semPassWake,
} from "../../assembly/semaphore";
import { T_WAIT_KIND, T_WAIT_AT, slotAt } from "../../assembly/threads";
import { KIND_SEMAPHORE, KIND_BOUNDED_SEMAPHORE } from "../../assembly/kinds";
import { now } from "../../assembly/wait";
import { alloc, me, since } from "./support";

const WAITERS: usize = 4; // offset of the sleeping-waiters count

function newSem(value: i32, max: i32 = -1): i32 {
  const p = alloc(SEMAPHORE_SIZE, max >= 0 ? KIND_BOUNDED_SEMAPHORE : KIND_SEMAPHORE);
  sem_init(p, value, max);
  return p;
}
function waiters(p: i32): i32 {
  return atomic.load<i32>(<usize>p + WAITERS);
}

describe("Semaphore", () => {
  test("sem_init sets the value and the maximum (-1: unbounded)", () => {
    const p = newSem(3);
    expect(sem_value(p)).toBe(3);
    expect(sem_max(p)).toBe(-1);
    const q = newSem(2, 5);
    expect(sem_value(q)).toBe(2);
    expect(sem_max(q)).toBe(5);
    expect(waiters(q)).toBe(0);
    expect(SEMAPHORE_SIZE).toBeGreaterThanOrEqual(12);
  });

  test("sem_try counts down to 0, then fails without going negative", () => {
    const p = newSem(3);
    expect(sem_try(p)).toBe(1);
    expect(sem_value(p)).toBe(2);
    expect(sem_try(p)).toBe(1);
    expect(sem_try(p)).toBe(1);
    expect(sem_value(p)).toBe(0);
    expect(sem_try(p)).toBe(0);
    expect(sem_try(p)).toBe(0);
    expect(sem_value(p)).toBe(0);
  });

  test("sem_acquire takes a unit at once whatever the timeout while the value is positive", () => {
    const p = newSem(3);
    expect(sem_acquire(p, -1, me())).toBe(1);
    expect(sem_acquire(p, 0, me())).toBe(1);
    expect(sem_acquire(p, 5, me())).toBe(1);
    expect(sem_value(p)).toBe(0);
  });

  test("sem_acquire with timeout 0 at value 0 returns 0 at once", () => {
    const p = newSem(0);
    const t0 = now();
    expect(sem_acquire(p, 0, me())).toBe(0);
    expect(since(t0)).toBeLessThan(100.0);
    expect(sem_value(p)).toBe(0);
    expect(waiters(p)).toBe(0);
  });

  test("sem_acquire with a 5 ms timeout at value 0 returns 0 after at least 5 ms and unregisters", () => {
    const p = newSem(0);
    const t0 = now();
    expect(sem_acquire(p, 5, me())).toBe(0);
    const elapsed = since(t0);
    expect(elapsed).toBeGreaterThanOrEqual(5.0);
    expect(elapsed).toBeLessThan(1000.0);
    expect(sem_value(p)).toBe(0);
    expect(waiters(p)).toBe(0);
  });

  test("sem_release(n) adds n; acquires then succeed n times", () => {
    const p = newSem(0);
    expect(sem_release(p, 1)).toBe(1);
    expect(sem_value(p)).toBe(1);
    expect(sem_release(p, 3)).toBe(1);
    expect(sem_value(p)).toBe(4);
    for (let i = 0; i < 4; i++) expect(sem_acquire(p, 0, me())).toBe(1);
    expect(sem_acquire(p, 0, me())).toBe(0);
    expect(sem_release(p, 0)).toBe(E_SEM_OVERFLOW); // n must be at least 1 (the host raises ValueError first)
    expect(sem_value(p)).toBe(0);
  });

  test("an unbounded semaphore accepts any number of releases", () => {
    const p = newSem(0);
    for (let i = 0; i < 1000; i++) expect(sem_release(p, 1)).toBe(1);
    expect(sem_value(p)).toBe(1000);
    expect(sem_release(p, 1000000)).toBe(1);
    expect(sem_value(p)).toBe(1001000);
  });

  test("sem_release with registered waiters still adds (and notifies)", () => {
    const p = newSem(0);
    sem_park(p);
    sem_park(p);
    expect(waiters(p)).toBe(2);
    expect(sem_release(p, 2)).toBe(1);
    expect(sem_value(p)).toBe(2);
    sem_unpark(p);
    sem_unpark(p);
    expect(waiters(p)).toBe(0);
  });
});

describe("Semaphore limits", () => {
  test("release(n) past SEM_VALUE_MAX is E_SEM_OVERFLOW and changes nothing", () => {
    expect(E_SEM_OVERFLOW).toBe(-32);
    const p = newSem(SEM_VALUE_MAX - 2);
    expect(sem_release(p, 2)).toBe(1);
    expect(sem_value(p)).toBe(SEM_VALUE_MAX);
    expect(sem_release(p, 1)).toBe(E_SEM_OVERFLOW);
    expect(sem_value(p)).toBe(SEM_VALUE_MAX);
    expect(sem_try(p)).toBe(1);
    expect(sem_release(p, 2)).toBe(E_SEM_OVERFLOW); // all or nothing
    expect(sem_value(p)).toBe(SEM_VALUE_MAX - 1);
    const q = newSem(0);
    expect(sem_release(q, SEM_VALUE_MAX)).toBe(1);
    const r = newSem(1);
    expect(sem_release(r, SEM_VALUE_MAX)).toBe(E_SEM_OVERFLOW);
    expect(sem_release(r, i32.MAX_VALUE)).toBe(E_SEM_OVERFLOW); // no wrap-around to a negative value
    expect(sem_release(r, 0)).toBe(E_SEM_OVERFLOW); // n must be at least 1
    expect(sem_release(r, -1)).toBe(E_SEM_OVERFLOW);
    expect(sem_value(r)).toBe(1);
  });

  test("a bounded semaphore near its maximum: over-release wins over overflow", () => {
    const p = newSem(SEM_VALUE_MAX, SEM_VALUE_MAX);
    expect(sem_release(p, 1)).toBe(E_OVER_RELEASE);
    expect(sem_value(p)).toBe(SEM_VALUE_MAX);
  });

  test("a timed acquire notes its wait in the slot and clears the note, whatever the outcome", () => {
    const p = newSem(0);
    expect(sem_acquire(p, 2, me())).toBe(0);
    expect(atomic.load<i32>(slotAt(me()) + T_WAIT_KIND)).toBe(0);
    expect(atomic.load<i32>(slotAt(me()) + T_WAIT_AT)).toBe(p);
    expect(waiters(p)).toBe(0);
  });

  test("semPassWake (a waiter died) changes neither the value nor the waiter count", () => {
    const p = newSem(1);
    sem_park(p);
    semPassWake(<usize>p);
    expect(sem_value(p)).toBe(1);
    expect(waiters(p)).toBe(1);
    sem_unpark(p);
    semPassWake(<usize>p);
    expect(sem_value(p)).toBe(1);
  });
});

describe("BoundedSemaphore", () => {
  test("release up to the maximum succeeds", () => {
    const p = newSem(1, 3);
    expect(sem_release(p, 1)).toBe(1);
    expect(sem_release(p, 1)).toBe(1);
    expect(sem_value(p)).toBe(3);
  });

  test("over-release returns E_OVER_RELEASE and leaves the value unchanged", () => {
    expect(E_OVER_RELEASE).toBe(-31);
    const p = newSem(2, 2);
    expect(sem_release(p, 1)).toBe(E_OVER_RELEASE);
    expect(sem_value(p)).toBe(2);
    expect(sem_acquire(p, 0, me())).toBe(1);
    expect(sem_release(p, 2)).toBe(E_OVER_RELEASE); // 1 + 2 > 2: all or nothing
    expect(sem_value(p)).toBe(1);
    expect(sem_release(p, 1)).toBe(1);
    expect(sem_value(p)).toBe(2);
  });

  test("a maximum of 0 admits no release at all", () => {
    const p = newSem(0, 0);
    expect(sem_release(p, 1)).toBe(E_OVER_RELEASE);
    expect(sem_value(p)).toBe(0);
    expect(sem_acquire(p, 0, me())).toBe(0);
  });

  test("acquire / release cycles keep the value within [0, max]", () => {
    const p = newSem(2, 2);
    for (let i = 0; i < 100; i++) {
      expect(sem_acquire(p, 0, me())).toBe(1);
      expect(sem_acquire(p, 0, me())).toBe(1);
      expect(sem_acquire(p, 0, me())).toBe(0);
      expect(sem_release(p, 2)).toBe(1);
      expect(sem_release(p, 1)).toBe(E_OVER_RELEASE);
    }
    expect(sem_value(p)).toBe(2);
  });
});

describe("sem_park / sem_unpark", () => {
  test("count asynchronous waiters", () => {
    const p = newSem(0);
    sem_park(p);
    expect(waiters(p)).toBe(1);
    sem_park(p);
    expect(waiters(p)).toBe(2);
    sem_unpark(p);
    sem_unpark(p);
    expect(waiters(p)).toBe(0);
    expect(sem_value(p)).toBe(0);
  });
});
