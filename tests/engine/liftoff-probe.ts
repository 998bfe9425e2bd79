// A Wasm shape that Node 20's baseline compiler (Liftoff, V8 11.3) miscompiles: a three-state
// futex mutex with its wait inlined straight into a counting loop. Under contention the
// protected increment runs extra times (seen: 3.6 M to 13.6 M for 2 × 1 M). The host test
// tests/host/engine.test.mjs runs it after forkless has loaded, to prove forkless's engine
// workaround protects the whole program. Not part of forkless itself.
export function count_inline(lockP: i32, counterP: i32, n: i32): i32 {
  let i = 0;
  for (; i < n; i++) {
    let c = atomic.cmpxchg<i32>(<usize>lockP, 0, 1);
    if (c != 0) {
      if (c != 2) c = atomic.xchg<i32>(<usize>lockP, 2);
      while (c != 0) {
        atomic.wait<i32>(<usize>lockP, 2, -1);
        c = atomic.xchg<i32>(<usize>lockP, 2);
      }
    }
    store<i32>(<usize>counterP, load<i32>(<usize>counterP) + 1);
    if (atomic.sub<i32>(<usize>lockP, 1) != 1) {
      atomic.store<i32>(<usize>lockP, 0);
      atomic.notify(<usize>lockP, 1);
    }
  }
  return i;
}
