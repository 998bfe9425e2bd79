;; raw.wasm-lock: the smallest honest Wasm lock. One exported function does the whole
;; uncontended acquire+release (CAS 0->1, then store 0) on an imported shared memory,
;; so JS pays exactly one JS->Wasm call per iteration.
(module
  (import "env" "memory" (memory 1 1 shared))
  (func (export "lock_unlock") (param $p i32) (result i32)
    (local $old i32)
    (local.set $old (i32.atomic.rmw.cmpxchg (local.get $p) (i32.const 0) (i32.const 1)))
    (if (i32.eqz (local.get $old))
      (then (i32.atomic.store (local.get $p) (i32.const 0))))
    (local.get $old))
)
